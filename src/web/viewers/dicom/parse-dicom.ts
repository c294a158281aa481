// A small reader for DICOM Part 10 files (PS3.10): the 128-byte preamble and "DICM", the file
// meta group (always explicit VR little endian), then the data set in its transfer syntax
// (explicit or implicit VR little endian, explicit VR big endian). Sequences, items and
// encapsulated pixel data are walked so that everything after them is found; only the top-level
// elements are kept. No pixel decoding here: see render-dicom.ts.
import { T, tagInfo, tag as makeTag } from './dicom-tags.ts'

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
}

/** The file is not DICOM Part 10, or is cut short. */
export class DicomParseError extends Error {
  override name = 'DicomParseError'
}

const longVrs = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'])
const undefinedLength = 0xffffffff
const itemTag = makeTag(0xfffe, 0xe000)
const itemEnd = makeTag(0xfffe, 0xe00d)
const sequenceEnd = makeTag(0xfffe, 0xe0dd)
/** Real files nest sequences a few levels deep; a file nesting more is refused, not followed down the stack. */
const maxNesting = 64

/** True when the bytes start with a Part 10 preamble and the "DICM" prefix. */
export function isDicom(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d
}

/**
 * Parses a DICOM Part 10 file's elements. A file cut short keeps what could be read and says
 * so (`truncated`).
 * @throws DicomParseError when it is not Part 10, or a sequence is malformed or cut short
 */
export function parseDicom(bytes: Uint8Array): DicomFile {
  if (!isDicom(bytes)) throw new DicomParseError('Not a DICOM Part 10 file: no "DICM" after the 128-byte preamble.')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const elements = new Map<number, DicomElement>()

  // File meta information: explicit VR little endian, group 0002 only.
  let pos = 132
  while (pos + 8 <= bytes.length && view.getUint16(pos, true) === 0x0002) {
    const el = readElement(bytes, view, pos, true, true)
    elements.set(el.tag, el)
    pos = el.offset + el.length
  }
  const transferSyntax = elements.has(T.TransferSyntaxUID) ? textOf(bytes, elements.get(T.TransferSyntaxUID)!, 'latin1').replace(/\0/g, '').trim() : '1.2.840.10008.1.2.1'
  const littleEndian = transferSyntax !== '1.2.840.10008.1.2.2'
  const explicitVr = transferSyntax !== '1.2.840.10008.1.2'
  const file: DicomFile = { bytes, transferSyntax, littleEndian, explicitVr, elements, charset: 'latin1', truncated: false }
  if (transferSyntax === '1.2.840.10008.1.2.1.99') return file // deflated: the data set is zlib-compressed
  if (pos > bytes.length) {
    file.truncated = true
    return file
  }

  while (pos + 8 <= bytes.length) {
    const el = readElement(bytes, view, pos, littleEndian, explicitVr)
    elements.set(el.tag, el)
    pos = el.length === -1 ? skipUndefined(bytes, view, el, littleEndian, explicitVr) : el.offset + el.length
    if (el.length !== -1 && pos > bytes.length) {
      // A truncated last value: keep what is there rather than refuse the whole header.
      el.length = Math.max(0, bytes.length - el.offset)
      file.truncated = true
      break
    }
  }
  if (pos > bytes.length || (pos < bytes.length && pos + 8 > bytes.length)) file.truncated = true
  if (elements.has(T.SpecificCharacterSet) && /ISO_IR 192/.test(textOf(bytes, elements.get(T.SpecificCharacterSet)!, 'latin1'))) file.charset = 'utf-8'
  return file
}

function readElement(bytes: Uint8Array, view: DataView, pos: number, le: boolean, explicitVr: boolean): DicomElement {
  if (pos + 8 > bytes.length) throw new DicomParseError('The DICOM file is cut short inside an element header.')
  const tag = makeTag(view.getUint16(pos, le), view.getUint16(pos + 2, le))
  // Item and delimitation tags never carry a VR, whatever the transfer syntax.
  if (tag >>> 16 === 0xfffe) return { tag, vr: '', offset: pos + 8, length: lengthOf(view.getUint32(pos + 4, le)) }
  if (!explicitVr) return { tag, vr: tagInfo[tag]?.vr ?? 'UN', offset: pos + 8, length: lengthOf(view.getUint32(pos + 4, le)) }
  const vr = String.fromCharCode(bytes[pos + 4], bytes[pos + 5])
  if (longVrs.has(vr)) {
    if (pos + 12 > bytes.length) throw new DicomParseError('The DICOM file is cut short inside an element header.')
    return { tag, vr, offset: pos + 12, length: lengthOf(view.getUint32(pos + 8, le)) }
  }
  return { tag, vr, offset: pos + 8, length: view.getUint16(pos + 6, le) }
}

function lengthOf(raw: number): number {
  return raw === undefinedLength ? -1 : raw
}

/**
 * Skips a value of undefined length: a sequence of items (each of defined or undefined length),
 * or encapsulated pixel data (fragments), up to its sequence delimitation item. Answers the
 * position after it.
 */
function skipUndefined(bytes: Uint8Array, view: DataView, el: DicomElement, le: boolean, explicitVr: boolean, depth = 0): number {
  if (depth >= maxNesting) throw new DicomParseError(`The DICOM file nests sequences more than ${maxNesting} deep.`)
  let pos = el.offset
  // A UN of undefined length holds implicit VR little endian (PS3.5 6.2.2).
  const inner = el.vr === 'UN' ? { le: true, explicitVr: false } : { le, explicitVr }
  while (pos + 8 <= bytes.length) {
    const item = readElement(bytes, view, pos, inner.le, inner.explicitVr)
    if (item.tag === sequenceEnd) return item.offset
    if (item.tag !== itemTag) throw new DicomParseError('A DICOM sequence holds something other than items.')
    pos = item.length === -1 ? skipItem(bytes, view, item.offset, inner.le, inner.explicitVr, depth) : item.offset + item.length
  }
  throw new DicomParseError('The DICOM file is cut short inside a sequence.')
}

/** Skips the elements of an item of undefined length, up to its item delimitation. */
function skipItem(bytes: Uint8Array, view: DataView, start: number, le: boolean, explicitVr: boolean, depth: number): number {
  let pos = start
  while (pos + 8 <= bytes.length) {
    const el = readElement(bytes, view, pos, le, explicitVr)
    if (el.tag === itemEnd) return el.offset
    pos = el.length === -1 ? skipUndefined(bytes, view, el, le, explicitVr, depth + 1) : el.offset + el.length
  }
  throw new DicomParseError('The DICOM file is cut short inside a sequence item.')
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
