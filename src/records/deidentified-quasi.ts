import { parseDicomFile } from './dicom-file.ts'

/** A patient's generalized quasi-identifiers as an export shows them; `*` where it shows none. */
export interface QuasiIdentifiers { birthYear: string; sex: string; zip3: string }

/** HL7 v2 (PID-8), C-CDA (administrativeGenderCode) and DICOM (0010,0040) sex codes, as FHIR's gender. */
const genders: Record<string, string> = { M: 'male', F: 'female', O: 'other', U: 'unknown', UN: 'unknown' }

const gender = (code: string | undefined) => (code ? genders[code.trim().toUpperCase()] ?? '*' : '*')
const year = (v: string | undefined) => /^\d{4}/.exec(v?.trim() ?? '')?.[0] ?? '*'

/**
 * The birth year, sex and 3-digit ZIP that a de-identified C-CDA document, HL7 v2 message or
 * DICOM file still shows of its patient (read from the de-identified output, so exactly what the
 * researcher sees): a patient with no FHIR record counts in k by these, not as unknown.
 */
export function deidentifiedQuasi(kind: 'ccda' | 'hl7v2' | 'dicom', content: string | Uint8Array): QuasiIdentifiers {
  if (kind === 'dicom') return dicomQuasi(content as Uint8Array)
  const text = typeof content === 'string' ? content : Buffer.from(content).toString('utf8')
  return kind === 'ccda' ? ccdaQuasi(text) : hl7Quasi(text)
}

function hl7Quasi(text: string): QuasiIdentifiers {
  const sep = text[3] ?? '|'
  const [component = '^', repetition = '~'] = [...text.slice(4, 6)]
  const pid = text.split(/\r\n|\r|\n/).find((s) => s.startsWith(`PID${sep}`))?.split(sep) ?? []
  const zip = pid[11]?.split(repetition)[0]?.split(component)[4]
  return { birthYear: year(pid[7]), sex: gender(pid[8]?.split(component)[0]), zip3: zip?.trim() ? zip.trim() : '*' }
}

function ccdaQuasi(xml: string): QuasiIdentifiers {
  const target = /<recordTarget\b[\s\S]*?<\/recordTarget>/.exec(xml)?.[0] ?? ''
  const zip = /<postalCode\b[^>]*>([^<]*)</.exec(target)?.[1]?.trim()
  return {
    birthYear: year(/<birthTime\b[^>]*\bvalue="([^"]*)"/.exec(target)?.[1]),
    sex: gender(/<administrativeGenderCode\b[^>]*\bcode="([^"]*)"/.exec(target)?.[1]),
    zip3: zip ? zip : '*',
  }
}

function dicomQuasi(bytes: Uint8Array): QuasiIdentifiers {
  const ds = parseDicomFile(bytes, { untilTag: 'x7fe00010', maxInflated: 64 * 1024 * 1024, partial: true }).dataSet
  const age = /^(\d{3})Y/.exec(ds.string('x00101010') ?? '')?.[1]
  const birthYear = year(ds.string('x00100030'))
  // No address survives the profile: the ZIP is not shown.
  return { birthYear: birthYear === '*' && age !== undefined && Number(age) >= 90 ? '90+' : birthYear, sex: gender(ds.string('x00100040')), zip3: '*' }
}
