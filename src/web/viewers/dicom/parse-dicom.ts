// DICOM Part 10 files (PS3.10) read with `dicom-parser` (cornerstonejs): the 128-byte preamble
// and "DICM", the file meta group (always explicit VR little endian), then the data set in its
// transfer syntax (explicit or implicit VR little endian, explicit VR big endian). The library
// walks sequences, items and encapsulated pixel data; only the top-level elements are kept here,
// as offsets into the file. Its exceptions (thrown strings, objects and errors) become
// DicomParseError; a file cut short keeps what could be read. No pixel decoding here: see
// render-dicom.ts.
import * as dicomParserModule from 'dicom-parser'
import type { DataSet, Element } from 'dicom-parser'
import { T, tagInfo } from './dicom-tags.ts'

// A webpack UMD bundle: Node and Vite hand it over either as the namespace or as its default.
const dicomParser = ((dicomParserModule as unknown as { default?: typeof dicomParserModule }).default ?? dicomParserModule) as typeof dicomParserModule & {
  DataSet: new (parser: DataSet['byteArrayParser'], bytes: Uint8Array, elements: DataSet['elements']) => DataSet
}

export interface DicomElement {
  tag: number
  vr: string
  /** Offset of the value in the file. */
  offset: number
  /** Length of the value in bytes; -1 for undefined length (a sequence or encapsulated data). */
  length: number
}

export interface DicomFile {
  bytes: Uint8Array
  transferSyntax: string
  littleEndian: boolean
  explicitVr: boolean
  /** Top-level elements of the meta group and the data set, by tag. */
  elements: Map<number, DicomElement>
  /** Character set for text values. */
  charset: string
  /** The file ends inside an element: what could be read is kept. */
  truncated: boolean
  /** Where the data set starts (after the meta group). */
  dataSetOffset: number
  /** A deflated file whose data set `inflateDicom` inflated: its elements are read from it. */
  inflated: boolean
}

/** The file is not DICOM Part 10, or is cut short. */
export class DicomParseError extends Error {
  override name = 'DicomParseError'
}

/** Real files nest sequences a few levels deep; a file nesting more is refused. */
const maxNesting = 64
/** What the library throws when the bytes end: the file is cut short, not malformed. */
const cutShort = /past end of buffer|buffer overrun|buffer overread|cannot be greater than or equal to 'byteArray' length/
/** What the library only warns about but we refuse: a sequence or item that never ends. */
const unterminated = /eof encountered|missing sequence delimiter/

/** Deflated Explicit VR Little Endian: the data set after the meta group is raw-deflated. */
export const DEFLATED = '1.2.840.10008.1.2.1.99'

/** The most a deflated data set is inflated to in the page. */
const maxInflated = 512 * 1024 * 1024

/**
 * A deflated DICOM file with its data set inflated (the browser's `DecompressionStream`): the
 * meta group as it is, then the inflated data set, for `parseDicom(…, { inflated: true })`.
 * @throws DicomParseError when it does not inflate or inflates to more than 512 MiB
 */
export async function inflateDicom(bytes: Uint8Array): Promise<Uint8Array> {
  const offset = parseDicom(bytes).dataSetOffset
  const parts: Uint8Array[] = [bytes.subarray(0, offset)]
  let total = offset
  try {
    const stream = new Blob([bytes.slice(offset)]).stream().pipeThrough(new DecompressionStream('deflate-raw'))
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.byteLength
      if (total > maxInflated) throw new DicomParseError('The deflated data set is larger than 512 MiB.')
      parts.push(chunk)
    }
  } catch (err) {
    throw err instanceof DicomParseError ? err : new DicomParseError('The deflated data set does not inflate.', { cause: err })
  }
  const whole = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    whole.set(p, at)
    at += p.byteLength
  }
  return whole
}

/** True when the bytes start with a Part 10 preamble and the "DICM" prefix. */
export function isDicom(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d
}

/**
 * Parses a DICOM Part 10 file's elements. A file cut short keeps what could be read and says
 * so (`truncated`).
 * @throws DicomParseError when it is not Part 10, or a sequence is malformed, unterminated or
 *   nested more than 64 deep
 */
export function parseDicom(bytes: Uint8Array, { inflated = false }: { inflated?: boolean } = {}): DicomFile {
  if (!isDicom(bytes)) throw new DicomParseError('Not a DICOM Part 10 file: no "DICM" after the 128-byte preamble.')
  const elements = new Map<number, DicomElement>()
  const file: DicomFile = { bytes, transferSyntax: '1.2.840.10008.1.2.1', littleEndian: true, explicitVr: true, elements, charset: 'latin1', truncated: false, dataSetOffset: 132, inflated: false }

  // File meta information: explicit VR little endian, group 0002 only (as readPart10Header reads it).
  if (bytes.length === 132) return file // the library's byte stream cannot start at the end
  const meta = new dicomParser.ByteStream(dicomParser.littleEndianByteArrayParser, bytes, 132)
  // The group is looked at first: the library would read a whole sequence before its tag is seen.
  while (meta.position + 8 <= bytes.length && dicomParser.littleEndianByteArrayParser.readUint16(bytes, meta.position) === 0x0002) {
    const el = libraryStep(() => dicomParser.readDicomElementExplicit(meta, meta.warnings))
    if (el === undefined) return { ...file, truncated: true }
    keep(file, el, 'UN')
  }
  if (elements.has(T.TransferSyntaxUID)) file.transferSyntax = textOf(bytes, elements.get(T.TransferSyntaxUID)!, 'latin1').replace(/\0/g, '').trim()
  file.littleEndian = file.transferSyntax !== '1.2.840.10008.1.2.2'
  file.explicitVr = file.transferSyntax !== '1.2.840.10008.1.2'
  if (meta.position > bytes.length) return { ...file, truncated: true }
  file.dataSetOffset = meta.position
  // deflated: the data set is compressed (raw deflate), read once `inflateDicom` has inflated it
  if (file.transferSyntax === DEFLATED) {
    if (!inflated) return file
    file.inflated = true
  }
  if (meta.position + 8 > bytes.length) return { ...file, truncated: meta.position < bytes.length }

  const parser = file.littleEndian ? dicomParser.littleEndianByteArrayParser : dicomParser.bigEndianByteArrayParser
  const stream = new dicomParser.ByteStream(parser, bytes, meta.position)
  const dataSet = new dicomParser.DataSet(parser, bytes, {})
  dataSet.warnings = stream.warnings
  const done = libraryStep(() => file.explicitVr
    ? dicomParser.parseDicomDataSetExplicit(dataSet, stream, bytes.length)
    : dicomParser.parseDicomDataSetImplicit(dataSet, stream, bytes.length, { untilTag: '', vrCallback: vrOf as (tag: string) => string }))
  if (done === undefined) {
    // The bytes ran out. After the last complete top-level element, an intact element header
    // means the cut fell inside a sequence (or other value of undefined length): malformed, as
    // before. A cut in a top-level header or value keeps what was read.
    const end = Object.values(dataSet.elements).reduce((max, el) => Math.max(max, el.dataOffset + el.length), meta.position)
    if (end < bytes.length && bytes.length - end >= (file.explicitVr ? 12 : 8)) throw new DicomParseError('The DICOM file is cut short inside a sequence.')
    file.truncated = true
  }
  const bad = dataSet.warnings.find((w) => unterminated.test(w))
  if (bad !== undefined) throw new DicomParseError('The DICOM file has a sequence or item that never ends.')
  for (const el of Object.values(dataSet.elements)) {
    if (nesting(el) > maxNesting) throw new DicomParseError(`The DICOM file nests sequences more than ${maxNesting} deep.`)
    keep(file, el, file.explicitVr ? 'UN' : undefined)
  }
  if (elements.has(T.SpecificCharacterSet) && /ISO_IR 192/.test(textOf(bytes, elements.get(T.SpecificCharacterSet)!, 'latin1'))) file.charset = 'utf-8'
  return file
}

/**
 * Runs one library step. Answers its result, or undefined when the bytes ran out (the file is
 * cut short; what the library read so far stays in its data set).
 * @throws DicomParseError for anything else it throws, a stack overflow on deep nesting included
 */
function libraryStep<R>(step: () => R): R | undefined {
  try {
    return step() ?? (true as R)
  } catch (err) {
    if (err instanceof RangeError) throw new DicomParseError(`The DICOM file nests sequences more than ${maxNesting} deep.`)
    const message = String((err as { exception?: unknown })?.exception ?? (err as Error)?.message ?? err)
    if (cutShort.test(message)) return undefined
    throw new DicomParseError('The DICOM file is malformed.', { cause: err })
  }
}

/** Adds a top-level library element to `file`, its value clipped to the bytes there are. */
function keep(file: DicomFile, el: Element, explicitDefault: string | undefined): void {
  const tag = Number.parseInt(el.tag.slice(1), 16) >>> 0
  if (!Number.isInteger(tag)) return
  const vr = el.vr ?? explicitDefault ?? tagInfo[tag]?.vr ?? 'UN'
  const available = Math.max(0, file.bytes.length - el.dataOffset)
  if (el.length > available) file.truncated = true
  const length = el.hadUndefinedLength ? -1 : Math.min(el.length, available)
  file.elements.set(tag, { tag, vr, offset: el.dataOffset, length })
}

/** How deep the sequences under `el` nest (1 for a sequence of plain items). */
function nesting(el: Element, depth = 0): number {
  if (depth > maxNesting || !el.items?.length) return depth + (el.items ? 1 : 0)
  let deepest = depth + 1
  for (const item of el.items) {
    for (const inner of Object.values(item.dataSet?.elements ?? {})) deepest = Math.max(deepest, nesting(inner, depth + 1))
  }
  return deepest
}

/** The VR of an implicit-VR element, for the library's sequence detection. */
function vrOf(tag: string): string | undefined {
  return tagInfo[Number.parseInt(tag.slice(1), 16) >>> 0]?.vr
}

function textOf(bytes: Uint8Array, el: DicomElement, charset: string): string {
  return new TextDecoder(charset).decode(bytes.subarray(el.offset, el.offset + Math.max(0, el.length)))
}

/** An element's value as text (strings trimmed of padding), or undefined when absent. */
export function dicomString(file: DicomFile, tag: number): string | undefined {
  const el = file.elements.get(tag)
  if (!el || el.length < 0) return undefined
  const vr = el.vr === 'UN' ? tagInfo[tag]?.vr ?? 'UN' : el.vr
  const numeric = dicomNumbers(file, tag)
  if (numeric && ['US', 'SS', 'UL', 'SL', 'FL', 'FD'].includes(vr)) return numeric.join('\\')
  if (['OB', 'OW', 'OF', 'OD', 'SQ', 'UN'].includes(vr)) return undefined
  return textOf(file.bytes, el, file.charset).replace(/[\0 ]+$/, '').trim()
}

/** An element's numeric values (binary VRs, or IS/DS strings split on "\"). */
export function dicomNumbers(file: DicomFile, tag: number): number[] | undefined {
  const el = file.elements.get(tag)
  if (!el || el.length < 0) return undefined
  const vr = el.vr === 'UN' ? tagInfo[tag]?.vr ?? 'UN' : el.vr
  const view = new DataView(file.bytes.buffer, file.bytes.byteOffset + el.offset, Math.min(el.length, file.bytes.length - el.offset))
  const le = tag >>> 16 === 0x0002 ? true : file.littleEndian
  const read = (size: number, get: (o: number) => number) => Array.from({ length: Math.floor(view.byteLength / size) }, (_, i) => get(i * size))
  switch (vr) {
    case 'US': return read(2, (o) => view.getUint16(o, le))
    case 'SS': return read(2, (o) => view.getInt16(o, le))
    case 'UL': return read(4, (o) => view.getUint32(o, le))
    case 'SL': return read(4, (o) => view.getInt32(o, le))
    case 'FL': return read(4, (o) => view.getFloat32(o, le))
    case 'FD': return read(8, (o) => view.getFloat64(o, le))
    case 'IS':
    case 'DS': {
      const values = textOf(file.bytes, el, 'latin1').split('\\').map((v) => Number(v.trim())).filter((v) => Number.isFinite(v))
      return values.length ? values : undefined
    }
    default: return undefined
  }
}

/** The first numeric value of an element. */
export function dicomNumber(file: DicomFile, tag: number): number | undefined {
  return dicomNumbers(file, tag)?.[0]
}

/** "Doe^John^^Dr" → "Doe, John Dr": family name first, then the other components. */
export function formatPersonName(pn: string): string {
  const [family, ...rest] = pn.split('=')[0].split('^')
  const others = rest.filter(Boolean).join(' ')
  return others ? `${family}, ${others}` : family
}

/** "20040119" → "2004-01-19"; anything else unchanged. */
export function formatDicomDate(da: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim())
  return m ? `${m[1]}-${m[2]}-${m[3]}` : da
}

/** "072730.123" → "07:27:30"; anything else unchanged. */
export function formatDicomTime(tm: string): string {
  const m = /^(\d{2})(\d{2})?(\d{2})?/.exec(tm.trim())
  return m ? [m[1], m[2] ?? '00', m[3] ?? '00'].join(':') : tm
}
