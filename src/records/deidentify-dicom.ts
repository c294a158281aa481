import { createHmac } from 'node:crypto'
import { deflateRawSync } from 'node:zlib'
import { parseDicomFile } from './dicom-file.ts'
import { dicomVrOf } from './dicom-vrs.ts'

/** The rules `deidentifyDicom` applies, as written into an export's manifest. */
export const dicomDeidentificationRules: readonly string[] = [
  'DICOM: PS3.15 Annex E Basic Application Level Confidentiality Profile on the header, by an allow-list: only the image pixel (0028), acquisition (0018, contrast agent text, serial numbers, device and detector ids and labels, UDIs, protocol names, descriptions and comments removed), geometry (0020) and waveform (003A, 5400) groups, SOP class, modality, image type, patient sex and age are kept; every other attribute, every private attribute, person name and AE title is removed',
  'DICOM: PatientName and PatientID become the study pseudonym; dates to the year (YYYY0101), times removed, ages over 89 to 090Y, a birth date older than 89 years removed',
  'DICOM: every UID outside the standard\'s 1.2.840.10008 root remapped to 2.25.<HMAC-SHA-256 under the study key>, the same across the study',
  'DICOM: pixel data and waveform data kept byte for byte, compressed (encapsulated) pixel data fragment by fragment, in the file\'s own transfer syntax; an image whose BurnedInAnnotation is other than NO is left out',
]

/** How a transfer syntax encodes the data set. */
interface Encoding { littleEndian: boolean; explicitVr: boolean; deflated?: boolean }
const EXPLICIT_LE: Encoding = { littleEndian: true, explicitVr: true }
/**
 * The transfer syntaxes written again (PS3.5 Table A-1 and PS3.6 Annex A): the native ones, and
 * those of encapsulated pixel data (JPEG, JPEG-LS, JPEG 2000, HTJ2K, RLE, MPEG, HEVC; their data
 * set is explicit VR little endian). Others (JPIP, which has no pixel data but a URL) are left out.
 */
const TRANSFER_SYNTAXES = new Map<string, Encoding>([
  ['1.2.840.10008.1.2', { littleEndian: true, explicitVr: false }],
  ['1.2.840.10008.1.2.1', EXPLICIT_LE],
  ['1.2.840.10008.1.2.1.99', { littleEndian: true, explicitVr: true, deflated: true }],
  ['1.2.840.10008.1.2.2', { littleEndian: false, explicitVr: true }],
  ...['1.2.5', '1.2.1.98', '1.2.4.50', '1.2.4.51', '1.2.4.57', '1.2.4.70', '1.2.4.80', '1.2.4.81', '1.2.4.90', '1.2.4.91',
    '1.2.4.92', '1.2.4.93', '1.2.4.100', '1.2.4.101', '1.2.4.102', '1.2.4.103', '1.2.4.104', '1.2.4.105', '1.2.4.106',
    '1.2.4.107', '1.2.4.108', '1.2.4.201', '1.2.4.202', '1.2.4.203'].map((s) => [`1.2.840.10008.${s}`, EXPLICIT_LE] as [string, Encoding]),
])
/** A deflated data set inflates to at most this (a deflate bomb is left out). */
const MAX_INFLATED = 1 << 30
/** VRs written with a 4-byte length after two reserved bytes. */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'])
const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT'])
const KEPT_GROUPS = new Set([0x0018, 0x0020, 0x0028, 0x003a, 0x5400, 0x7fe0])
const KEPT_0008 = new Set([0x0008, 0x0016, 0x0018, 0x0060, 0x0064])
/**
 * Acquisition attributes that identify a device or carry free text (Annex E: X or D): contrast
 * agent, device serial, UID, UDI and ids (plate, generator, cassette, gantry, secondary capture,
 * detector, X-ray detector and source), protocol names and descriptions, labels and comments.
 */
const DROPPED_0018 = new Set([
  0x0010, 0x1000, 0x1002, 0x1004, 0x1005, 0x1007, 0x1008, 0x1009, 0x100a, 0x1010, 0x1030, 0x1400, 0x4000,
  0x11bb, 0x700a, 0x9185, 0x9367, 0x9371, 0x9373, 0x937b, 0x9424, 0xa003,
])
/** Study id, position reference, image and frame comments, modifying devices (retired). */
const DROPPED_0020 = new Set([0x0010, 0x1040, 0x3401, 0x3404, 0x3406, 0x4000, 0x9158])
/** Image presentation comments (retired). */
const DROPPED_0028 = new Set([0x4000])
const AGE_LIMIT = 89

export interface DeidentifyDicomParams {
  studyKey: Uint8Array
  patientPseudonym: string
  /** The year the export is made: decides who is older than 89. */
  year: number
}

interface Fragment { position: number; length: number }
interface Element {
  tag: string; vr?: string; length: number; dataOffset: number; items?: { dataSet: DataSet }[]; hadUndefinedLength?: boolean
  encapsulatedPixelData?: boolean; fragments?: Fragment[]
}
interface DataSet { byteArray: Uint8Array; elements: Record<string, Element>; string(tag: string): string | undefined }
type Ctx = DeidentifyDicomParams & { uid(value: string): string; enc: Encoding }

/**
 * De-identifies a DICOM Part 10 file per the PS3.15 Annex E basic profile, by an allow-list of
 * attributes, and writes it again in its own transfer syntax: implicit or explicit VR little
 * endian, explicit VR big endian, deflated, or one of encapsulated (compressed) pixel data, whose
 * fragments (and basic offset table) are copied byte for byte.
 * Answers the file and its (remapped) SOP instance UID, or undefined for a file that is left out:
 * burned-in annotation, another transfer syntax, a value it cannot write again, or no DICOM at all.
 */
export function deidentifyDicom(bytes: Uint8Array, p: DeidentifyDicomParams): { bytes: Uint8Array; sopInstanceUid: string } | undefined {
  let ds: DataSet
  let transferSyntax: string
  try {
    const parsed = parseDicomFile(bytes, { maxInflated: MAX_INFLATED })
    ds = parsed.dataSet as unknown as DataSet
    transferSyntax = parsed.transferSyntax
  } catch {
    return undefined
  }
  const enc = TRANSFER_SYNTAXES.get(transferSyntax)
  if (enc === undefined) return undefined
  const burned = ds.string('x00280301')
  if (burned !== undefined && burned.trim().toUpperCase() !== 'NO') return undefined
  const uids = new Map<string, string>()
  const ctx: Ctx = {
    ...p,
    enc,
    uid: (value) => {
      if (value.startsWith('1.2.840.10008.')) return value
      if (!uids.has(value)) uids.set(value, `2.25.${BigInt(`0x${createHmac('sha256', p.studyKey).update(`uid|${value}`).digest('hex').slice(0, 32)}`).toString()}`)
      return uids.get(value)!
    },
  }
  let body: Uint8Array | undefined
  try {
    body = writeDataSet(ds, ctx, true)
  } catch {
    return undefined // a value its VR cannot hold (a UN value over 64 KiB given a short VR): left out, not a failed export
  }
  if (body === undefined) return undefined
  const sopClass = ds.string('x00080016') ?? ''
  const sopInstance = ctx.uid(ds.string('x00080018') ?? '')
  const le = EXPLICIT_LE
  const meta = concat([
    element(0x0002, 0x0001, 'OB', Uint8Array.of(0, 1), le),
    element(0x0002, 0x0002, 'UI', text(sopClass, 'UI'), le),
    element(0x0002, 0x0003, 'UI', text(sopInstance, 'UI'), le),
    element(0x0002, 0x0010, 'UI', text(transferSyntax, 'UI'), le),
    element(0x0002, 0x0012, 'UI', text('2.25.180422335757462817305393431470208245911', 'UI'), le),
  ])
  const groupLength = element(0x0002, 0x0000, 'UL', u32(meta.length, le), le)
  const data = enc.deflated ? deflateRawSync(body) : body
  return { bytes: concat([new Uint8Array(128), new TextEncoder().encode('DICM'), groupLength, meta, data]), sopInstanceUid: sopInstance }
}

/** A data set's kept elements, in tag order; undefined when one cannot be written. */
function writeDataSet(ds: DataSet, ctx: Ctx, top: boolean): Uint8Array | undefined {
  const parts: Uint8Array[] = []
  for (const tag of Object.keys(ds.elements).sort()) {
    const e = ds.elements[tag]!
    const group = parseInt(tag.slice(1, 5), 16)
    const el = parseInt(tag.slice(5, 9), 16)
    if (group === 0x0002 || group === 0xfffe) continue
    const vr = vrOf(e, group, el)
    if (vr === undefined) continue // implicit VR (or UN) and not in the dictionary: nothing to judge it by
    if (vr === 'SQ') {
      if (!keep(group, el) || !e.items) continue
      const items: Uint8Array[] = []
      for (const item of e.items) {
        const inner = writeDataSet(item.dataSet, ctx, false)
        if (inner === undefined) return undefined
        items.push(concat([header(0xfffe, 0xe000, 0xffffffff, ctx.enc), inner, header(0xfffe, 0xe00d, 0, ctx.enc)]))
      }
      parts.push(concat([element(group, el, 'SQ', new Uint8Array(0), ctx.enc, 0xffffffff), ...items, header(0xfffe, 0xe0dd, 0, ctx.enc)]))
      continue
    }
    if (e.encapsulatedPixelData && top && group === 0x7fe0 && el === 0x0010) {
      parts.push(encapsulated(ds, e, ctx.enc))
      continue
    }
    if (e.hadUndefinedLength) return undefined // a value of undefined length other than the pixel data
    const raw = ds.byteArray.subarray(e.dataOffset, e.dataOffset + e.length)
    const value = top ? valueOf(group, el, vr, raw, ctx) : nestedValueOf(group, el, vr, raw, ctx)
    if (value === undefined) continue
    // a UN value judged by a short VR of the dictionary may not fit its 2-byte length: left out
    if (ctx.enc.explicitVr && !LONG_VRS.has(vr) && value.length > 0xfffe) continue
    parts.push(element(group, el, vr, value, ctx.enc))
  }
  return concat(parts)
}

/** The VR to judge an element by: the file's own, or for implicit VR (or UN) the dictionary's. */
function vrOf(e: Element, group: number, el: number): string | undefined {
  if (e.items) return 'SQ'
  if (e.vr !== undefined && e.vr !== 'UN') return e.vr
  return dicomVrOf(group, el)
}

/**
 * Encapsulated pixel data (PS3.5 A.4) written again: undefined length, the basic offset table
 * item and each fragment's item copied byte for byte, then the sequence delimiter.
 */
function encapsulated(ds: DataSet, e: Element, enc: Encoding): Uint8Array {
  const b = ds.byteArray
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const offsetTable = view.getUint32(e.dataOffset + 4, true)
  const items = [b.subarray(e.dataOffset, e.dataOffset + 8 + offsetTable)]
  for (const f of e.fragments ?? []) items.push(b.subarray(f.position - 8, f.position + f.length))
  return concat([element(0x7fe0, 0x0010, 'OB', new Uint8Array(0), enc, 0xffffffff), ...items, header(0xfffe, 0xe0dd, 0, enc)])
}

function keep(group: number, el: number): boolean {
  if (group % 2 === 1) return false // private
  if (group === 0x0008) return KEPT_0008.has(el)
  if (group === 0x0018) return !DROPPED_0018.has(el)
  if (group === 0x0020) return !DROPPED_0020.has(el)
  if (group === 0x0028) return !DROPPED_0028.has(el)
  return KEPT_GROUPS.has(group)
}

/** The written value of a top-level attribute, or undefined to leave it out. */
function valueOf(group: number, el: number, vr: string, raw: Uint8Array, ctx: Ctx): Uint8Array | undefined {
  if (group === 0x0010) {
    if (el === 0x0010 || el === 0x0020) return text(ctx.patientPseudonym, vr)
    if (el === 0x0040) return raw
    if (el === 0x1010) return ageOf(ascii(raw))
    if (el === 0x0030) return birthDateOf(ascii(raw), ctx.year)
    return undefined
  }
  return nestedValueOf(group, el, vr, raw, ctx)
}

function nestedValueOf(group: number, el: number, vr: string, raw: Uint8Array, ctx: Ctx): Uint8Array | undefined {
  if (!keep(group, el) || vr === 'PN' || vr === 'AE' || vr === 'TM') return undefined
  if (vr === 'DA') return /^\d{4}/.test(ascii(raw)) ? text(`${ascii(raw).slice(0, 4)}0101`, vr) : undefined
  if (vr === 'DT') return /^\d{4}/.test(ascii(raw)) ? text(ascii(raw).slice(0, 4), vr) : undefined
  if (vr === 'UI') return text(ascii(raw).split('\\').map((u) => ctx.uid(u.replace(/\0/g, '').trim())).join('\\'), vr)
  return raw
}

function ageOf(age: string): Uint8Array | undefined {
  const m = /^(\d{3})([DWMY])$/.exec(age.trim())
  if (!m) return undefined
  return text(m[2] === 'Y' && Number(m[1]) > AGE_LIMIT ? '090Y' : m[0]!, 'AS')
}

function birthDateOf(date: string, year: number): Uint8Array | undefined {
  const y = Number(date.trim().slice(0, 4))
  return Number.isFinite(y) && date.trim().length >= 4 && year - y <= AGE_LIMIT ? text(`${y}0101`, 'DA') : undefined
}

function ascii(b: Uint8Array): string {
  return Buffer.from(b).toString('latin1').replace(/[\0 ]+$/, '')
}

/** A string value padded to even length (UI with NUL, others with a space). */
function text(s: string, vr: string): Uint8Array {
  const b = Buffer.from(s, 'latin1')
  return b.length % 2 === 0 ? b : Buffer.concat([b, Buffer.from([vr === 'UI' ? 0 : 0x20])])
}

function u16(n: number, enc: Encoding): Buffer {
  const b = Buffer.alloc(2)
  if (enc.littleEndian) b.writeUInt16LE(n)
  else b.writeUInt16BE(n)
  return b
}

function u32(n: number, enc: Encoding): Buffer {
  const b = Buffer.alloc(4)
  if (enc.littleEndian) b.writeUInt32LE(n >>> 0)
  else b.writeUInt32BE(n >>> 0)
  return b
}

/** An item or delimiter: tag and a 4-byte length, never a VR. */
function header(group: number, el: number, length: number, enc: Encoding): Uint8Array {
  return concat([u16(group, enc), u16(el, enc), u32(length, enc)])
}

/**
 * One element in the data set's encoding (explicit VR: with its VR, a 2- or 4-byte length;
 * implicit: a 4-byte length); `length` overrides the value's (undefined length).
 */
function element(group: number, el: number, vr: string, value: Uint8Array, enc: Encoding, length = value.length + (value.length % 2)): Uint8Array {
  const padded = value.length % 2 === 0 ? value : concat([value, Uint8Array.of(STRING_VRS.has(vr) ? (vr === 'UI' ? 0 : 0x20) : 0)])
  if (!enc.explicitVr) return concat([header(group, el, length, enc), padded])
  const head = LONG_VRS.has(vr)
    ? [u16(group, enc), u16(el, enc), Buffer.from(`${vr}\0\0`, 'latin1'), u32(length, enc)]
    : [u16(group, enc), u16(el, enc), Buffer.from(vr, 'latin1'), u16(length, enc)]
  return concat([...head, padded])
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts)
}
