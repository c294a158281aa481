import { constants, inflateRawSync } from 'node:zlib'
import * as dicomParserModule from 'dicom-parser'

// A webpack UMD bundle: Node hands it over either as the namespace or as its default.
const dicomParser = ((dicomParserModule as unknown as { default?: typeof dicomParserModule }).default ?? dicomParserModule)

export const DEFLATED = '1.2.840.10008.1.2.1.99'
const EXPLICIT_LE = '1.2.840.10008.1.2.1'

/**
 * Parses a DICOM Part 10 file with dicom-parser: its transfer syntax (from the meta group) and
 * its data set. A deflated data set (1.2.840.10008.1.2.1.99) is inflated first, at most
 * `maxInflated` bytes (with `partial`, a data set cut short gives what inflates), and parsed on
 * its own as explicit VR little endian: dicom-parser's own
 * deflate path parses the inflated bytes from the preamble on (and fails on a Uint8Array in Node).
 * Offsets of the data set's elements are into `dataSet.byteArray`, which is the file itself
 * unless it was deflated.
 * @throws what dicom-parser throws for a file that is not DICOM or malformed, and zlib's error
 *   for a data set that does not inflate or inflates to more than `maxInflated`
 */
export function parseDicomFile(bytes: Uint8Array, o: { untilTag?: string; maxInflated: number; partial?: boolean }): { transferSyntax: string; dataSet: dicomParserModule.DataSet } {
  const meta = dicomParser.readPart10Header(bytes) as dicomParserModule.DataSet & { position?: number }
  const transferSyntax = (meta.string('x00020010') ?? '').replace(/\0/g, '').trim()
  const untilTag = o.untilTag === undefined ? {} : { untilTag: o.untilTag }
  if (transferSyntax !== DEFLATED) return { transferSyntax, dataSet: dicomParser.parseDicom(bytes, untilTag) }
  const inflated = inflateRawSync(bytes.subarray(meta.position ?? bytes.length), { maxOutputLength: o.maxInflated, ...(o.partial ? { finishFlush: constants.Z_SYNC_FLUSH } : {}) })
  return { transferSyntax, dataSet: dicomParser.parseDicom(new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength), { ...untilTag, TransferSyntaxUID: EXPLICIT_LE }) }
}
