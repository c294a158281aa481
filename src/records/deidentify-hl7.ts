import { zip3 } from './deidentify-fhir.ts'

/** The rules `deidentifyHl7` applies, as written into an export's manifest. */
export const hl7DeidentificationRules: readonly string[] = [
  'HL7 v2: by an allow-list of segments and fields; kept are MSH (encoding, message type, processing id, version, character set), EVN, PID (set id, sex, race, ethnic group, death indicator; state, country and three-digit ZIP of the address), NK1 (set id, relationship), PV1 (patient class, admission type and source, hospital service, patient type, discharge disposition, account status), ORC, OBR, OBX (coded observation ids, value types, units, ranges, flags, statuses; values of numeric and coded types), DG1, AL1 coded fields, each coded field cut to code, text and system and those of the alternate (an original text, CWE-9, and after removed); the patient identifier (PID-3) becomes the study pseudonym',
  'HL7 v2: removed every other field and segment: names, identifiers (MRN, NHS and social security numbers, visit, order and message control numbers), addresses but state, country and ZIP, phones, e-mails, providers, locations, facilities, notes (NTE) and free-text values (OBX-5 of types ST, TX, FT and the like)',
  'HL7 v2: every date and time kept to its year; a birth date older than 89 years removed; ZIP to three digits (000 for the small areas)',
]

type Kind = 'keep' | 'coded' | 'time' | 'birth' | 'address' | 'pseudonym'

/**
 * The fields kept of each segment (HL7 field numbers; for MSH, MSH-1 is the field separator
 * itself), and how. Any segment or field not listed is removed.
 */
const KEPT: Record<string, Record<number, Kind>> = {
  MSH: { 2: 'keep', 7: 'time', 9: 'keep', 11: 'keep', 12: 'keep', 18: 'keep' },
  EVN: { 1: 'keep', 2: 'time', 6: 'time' },
  PID: { 1: 'keep', 3: 'pseudonym', 7: 'birth', 8: 'keep', 10: 'coded', 11: 'address', 22: 'coded', 29: 'time', 30: 'keep' },
  NK1: { 1: 'keep', 3: 'coded' },
  PV1: { 1: 'keep', 2: 'keep', 4: 'keep', 10: 'keep', 14: 'keep', 18: 'keep', 36: 'keep', 41: 'keep', 44: 'time', 45: 'time' },
  ORC: { 1: 'keep', 5: 'keep', 9: 'time' },
  OBR: { 1: 'keep', 4: 'coded', 6: 'time', 7: 'time', 8: 'time', 14: 'time', 22: 'time', 24: 'keep', 25: 'keep' },
  OBX: { 1: 'keep', 2: 'keep', 3: 'coded', 4: 'keep', 5: 'keep', 6: 'coded', 7: 'keep', 8: 'coded', 11: 'keep', 14: 'time' },
  DG1: { 1: 'keep', 2: 'keep', 3: 'coded', 5: 'time', 6: 'keep' },
  AL1: { 1: 'keep', 2: 'coded', 3: 'coded', 4: 'coded', 6: 'time' },
}

/** OBX-5 value types whose values are kept: numbers, codes, dates (to their year); every text type goes. */
const CODED_VALUES = new Set(['NM', 'SN', 'CE', 'CWE', 'CNE', 'CF', 'ID', 'IS', 'NA', 'CQ', 'MO'])
const TIME_VALUES = new Set(['DT', 'DTM', 'TS', 'TM'])
/** OBX-5 value types that are coded elements: cut to their codes like any coded field. */
const CODED_ELEMENTS = new Set(['CE', 'CWE', 'CNE', 'CF'])
/** A coded element's components kept: code, text, system and the alternate's (CWE-9, the original text, and after go). */
const CODED_COMPONENTS = 6
const AGE_LIMIT = 89

export interface DeidentifyHl7Params {
  patientPseudonym: string
  /** The year the export is made: decides who is older than 89. */
  year: number
}

/**
 * De-identifies an HL7 v2 message (HIPAA Safe Harbor) by an allow-list of segments and fields,
 * keeping its coded content; segments end with CR as the standard has it. Answers undefined
 * when the text is not an HL7 v2 message (no MSH segment first).
 */
export function deidentifyHl7(text: string, p: DeidentifyHl7Params): string | undefined {
  const body = text.replace(/^\uFEFF/, '').trimStart()
  if (!body.startsWith('MSH') || body.length < 8) return undefined
  const sep = body[3]!
  const component = body[4] ?? '^'
  const repetition = body[5] ?? '~'
  if (/[A-Za-z0-9\r\n]/.test(sep) || /[A-Za-z0-9\r\n]/.test(component)) return undefined
  const out: string[] = []
  for (const segment of body.split(/\r\n|\r|\n/)) {
    const fields = segment.split(sep)
    const kept = KEPT[fields[0]!]
    if (!kept) continue
    // MSH-1 is the separator itself: MSH-n sits at fields[n - 1], any other SEG-n at fields[n].
    const at = (n: number) => (fields[0] === 'MSH' ? n - 1 : n)
    const last = Math.max(...Object.keys(kept).map(Number))
    const row: string[] = [fields[0]!]
    for (let n = fields[0] === 'MSH' ? 2 : 1; n <= last; n++) {
      const kind = kept[n]
      const value = fields[at(n)] ?? ''
      row.push(kind ? fieldValue(kind, value, { ...p, component, repetition, valueType: fields[0] === 'OBX' && n === 5 ? fields[at(2)] ?? '' : undefined }) : '')
    }
    out.push(row.join(sep).replace(new RegExp(`\\${sep}+$`), ''))
  }
  return out.join('\r') + '\r'
}

function fieldValue(kind: Kind, value: string, o: DeidentifyHl7Params & { component: string; repetition: string; valueType?: string }): string {
  if (o.valueType !== undefined) {
    const type = o.valueType.split(o.component)[0]!.toUpperCase()
    if (TIME_VALUES.has(type)) return yearsOf(value)
    if (CODED_ELEMENTS.has(type)) return codedOf(value, o)
    return CODED_VALUES.has(type) ? value : ''
  }
  switch (kind) {
    case 'keep': return value
    case 'coded': return codedOf(value, o)
    case 'time': return yearsOf(value)
    case 'birth': {
      const y = /^\d{4}/.exec(value)?.[0]
      return y && o.year - Number(y) <= AGE_LIMIT ? y : ''
    }
    case 'pseudonym': return value === '' ? '' : `${o.patientPseudonym}${o.component}${o.component}${o.component}STUDY`
    case 'address': return value.split(o.repetition).map((a) => address(a, o.component)).filter((a) => a !== '').join(o.repetition)
  }
}

/** A coded field's repetitions, each cut to its first components (code, text, system, and the alternate's). */
function codedOf(value: string, o: { component: string; repetition: string }): string {
  return value.split(o.repetition).map((r) => r.split(o.component).slice(0, CODED_COMPONENTS).join(o.component)).join(o.repetition)
}

/** Every date or time in a field (repetitions and components alike) cut to its year. */
function yearsOf(value: string): string {
  return value.replace(/\b(\d{4})\d{2,}(?:\.\d+)?(?:[+-]\d{4})?\b/g, '$1')
}

/** An XAD address: state (4), three-digit ZIP (5) and country (6) only. */
function address(xad: string, component: string): string {
  const c = xad.split(component)
  const zip = (c[4] ?? '').trim()
  const kept = ['', '', '', c[3] ?? '', zip === '' ? '' : zip3(zip), c[5] ?? '']
  return kept.join(component).replace(new RegExp(`\\${component}+$`), '')
}
