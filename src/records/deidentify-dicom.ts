import { createHmac } from 'node:crypto'
import * as dicomParserModule from 'dicom-parser'

const dicomParser = ((dicomParserModule as unknown as { default?: typeof dicomParserModule }).default ?? dicomParserModule)

/** The rules `deidentifyDicom` applies, as written into an export's manifest. */
export const dicomDeidentificationRules: readonly string[] = [
  'DICOM: PS3.15 Annex E Basic Application Level Confidentiality Profile on the header, by an allow-list: only the image pixel (0028), acquisition (0018, serial numbers, device ids, protocol names and comments removed), geometry (0020) and waveform (003A, 5400) groups, SOP class, modality, image type, patient sex and age are kept; every other attribute, every private attribute, person name and AE title is removed',
  'DICOM: PatientName and PatientID become the study pseudonym; dates to the year (YYYY0101), times removed, ages over 89 to 090Y, a birth date older than 89 years removed',
  'DICOM: every UID outside the standard\'s 1.2.840.10008 root remapped to 2.25.<HMAC-SHA-256 under the study key>, the same across the study',
  'DICOM: pixel data and waveform data kept; an image whose BurnedInAnnotation is other than NO, or whose pixel data is encapsulated, is left out',
]

const EXPLICIT_LE = '1.2.840.10008.1.2.1'
/** VRs written with a 4-byte length after two reserved bytes. */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'])
const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT'])
const KEPT_GROUPS = new Set([0x0018, 0x0020, 0x0028, 0x003a, 0x5400, 0x7fe0])
const KEPT_0008 = new Set([0x0008, 0x0016, 0x0018, 0x0060, 0x0064])
/** Acquisition attributes that identify a device or carry free text (Annex E: X or D). */
const DROPPED_0018 = new Set([0x1000, 0x1002, 0x1004, 0x1005, 0x1007, 0x1008, 0x1030, 0x1400, 0x4000, 0x700a, 0x9424])
const DROPPED_0020 = new Set([0x0010, 0x1040, 0x4000])
const AGE_LIMIT = 89

export interface DeidentifyDicomParams {
  studyKey: Uint8Array
  patientPseudonym: string
  /** The year the export is made: decides who is older than 89. */
  year: number
}

interface Element { tag: string; vr?: string; length: number; dataOffset: number; items?: { dataSet: DataSet }[]; hadUndefinedLength?: boolean; encapsulatedPixelData?: boolean }
interface DataSet { byteArray: Uint8Array; elements: Record<string, Element>; string(tag: string): string | undefined }
type Ctx = DeidentifyDicomParams & { uid(value: string): string }

/**
 * De-identifies a DICOM Part 10 file (explicit VR little endian) per the PS3.15 Annex E basic
 * profile, by an allow-list of attributes, and writes it again (explicit VR little endian).
 * Answers the file and its (remapped) SOP instance UID, or undefined for a file that is left out:
 * burned-in annotation, encapsulated pixel data, another transfer syntax, or no DICOM at all.
 */
export function deidentifyDicom(bytes: Uint8Array, p: DeidentifyDicomParams): { bytes: Uint8Array; sopInstanceUid: string } | undefined {
  let ds: DataSet
  try {
    ds = dicomParser.parseDicom(bytes) as unknown as DataSet
  } catch {
    return undefined
  }
  if (ds.string('x00020010') !== EXPLICIT_LE) return undefined
  const burned = ds.string('x00280301')
  if (burned !== undefined && burned.trim().toUpperCase() !== 'NO') return undefined
  const uids = new Map<string, string>()
  const ctx: Ctx = {
    ...p,
    uid: (value) => {
      if (value.startsWith('1.2.840.10008.')) return value
      if (!uids.has(value)) uids.set(value, `2.25.${BigInt(`0x${createHmac('sha256', p.studyKey).update(`uid|${value}`).digest('hex').slice(0, 32)}`).toString()}`)
      return uids.get(value)!
    },
  }
  const body = writeDataSet(ds, ctx, true)
  if (body === undefined) return undefined
  const sopClass = ds.string('x00080016') ?? ''
  const sopInstance = ctx.uid(ds.string('x00080018') ?? '')
  const meta = concat([
    element(0x0002, 0x0001, 'OB', Uint8Array.of(0, 1)),
    element(0x0002, 0x0002, 'UI', text(sopClass, 'UI')),
    element(0x0002, 0x0003, 'UI', text(sopInstance, 'UI')),
    element(0x0002, 0x0010, 'UI', text(EXPLICIT_LE, 'UI')),
    element(0x0002, 0x0012, 'UI', text('2.25.180422335757462817305393431470208245911', 'UI')),
  ])
  const groupLength = element(0x0002, 0x0000, 'UL', u32(meta.length))
  return { bytes: concat([new Uint8Array(128), new TextEncoder().encode('DICM'), groupLength, meta, body]), sopInstanceUid: sopInstance }
}

/** A data set's kept elements, in tag order; undefined when one cannot be written. */
function writeDataSet(ds: DataSet, ctx: Ctx, top: boolean): Uint8Array | undefined {
  const parts: Uint8Array[] = []
  for (const tag of Object.keys(ds.elements).sort()) {
    const e = ds.elements[tag]!
    const group = parseInt(tag.slice(1, 5), 16)
    const el = parseInt(tag.slice(5, 9), 16)
    if (group === 0x0002 || group === 0xfffe) continue
    const vr = e.vr ?? 'UN'
    if (e.hadUndefinedLength && vr !== 'SQ') return undefined // encapsulated pixel data
    if (vr === 'SQ') {
      if (!keep(group, el)) continue
      const items: Uint8Array[] = []
      for (const item of e.items ?? []) {
        const inner = writeDataSet(item.dataSet, ctx, false)
        if (inner === undefined) return undefined
        items.push(concat([header(0xfffe, 0xe000, u32(0xffffffff)), inner, header(0xfffe, 0xe00d, u32(0))]))
      }
      parts.push(concat([element(group, el, 'SQ', new Uint8Array(0), 0xffffffff), ...items, header(0xfffe, 0xe0dd, u32(0))]))
      continue
    }
    const raw = ds.byteArray.subarray(e.dataOffset, e.dataOffset + e.length)
    const value = top ? valueOf(group, el, vr, raw, ctx) : nestedValueOf(group, el, vr, raw, ctx)
    if (value !== undefined) parts.push(element(group, el, vr, value))
  }
  return concat(parts)
}

function keep(group: number, el: number): boolean {
  if (group % 2 === 1) return false // private
  if (group === 0x0008) return KEPT_0008.has(el)
  if (group === 0x0018) return !DROPPED_0018.has(el)
  if (group === 0x0020) return !DROPPED_0020.has(el)
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
  if (vr === 'UI') return text(ascii(raw).split('\\').map((u) => ctx.uid(u.trim())).join('\\'), vr)
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

function u32(n: number): Uint8Array {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return b
}

function header(group: number, el: number, length: Uint8Array): Uint8Array {
  const b = Buffer.alloc(4)
  b.writeUInt16LE(group)
  b.writeUInt16LE(el, 2)
  return concat([b, length])
}

/** One explicit-VR little-endian element; `length` overrides the value's (an undefined-length sequence). */
function element(group: number, el: number, vr: string, value: Uint8Array, length = value.length + (value.length % 2)): Uint8Array {
  const padded = value.length % 2 === 0 ? value : concat([value, Uint8Array.of(STRING_VRS.has(vr) ? (vr === 'UI' ? 0 : 0x20) : 0)])
  const b = Buffer.alloc(LONG_VRS.has(vr) ? 12 : 8)
  b.writeUInt16LE(group)
  b.writeUInt16LE(el, 2)
  b.write(vr, 4, 'latin1')
  if (LONG_VRS.has(vr)) b.writeUInt32LE(length >>> 0, 8)
  else b.writeUInt16LE(length, 6)
  return concat([b, padded])
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts)
}
