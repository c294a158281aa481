import { termWords } from '../../text/normalize-term.ts'
import { parseDicomFile } from '../dicom-file.ts'
import { dicomText } from '../dicom-text.ts'

/** FHIR resource types whose codes and display texts are indexed (besides every resource's type). */
export const fhirCodedTypes: readonly string[] = ['Condition', 'Observation', 'Procedure', 'MedicationRequest', 'DiagnosticReport']

/** DICOM header attributes indexed: Modality, BodyPartExamined, StudyDescription, SeriesDescription. */
export const dicomTags: readonly string[] = ['x00080060', 'x00180015', 'x00081030', 'x0008103e']

/** The content formats terms are extracted from; anything else gives only file name and tags. */
export type TermSource = 'fhir' | 'ccda' | 'hl7v2' | 'dicom' | 'none'

/** Which format `bytes` are in, by their first bytes (the media type a client sends is not trusted). */
export function termSourceOf(bytes: Uint8Array): TermSource {
  if (bytes.length >= 132 && Buffer.from(bytes.subarray(128, 132)).toString('latin1') === 'DICM') return 'dicom'
  const head = Buffer.from(bytes.subarray(0, 4096)).toString('utf8').replace(/^\uFEFF/, '').trimStart()
  if (head.startsWith('MSH|')) return 'hl7v2'
  if (head.startsWith('{') && head.includes('"resourceType"')) return 'fhir'
  if (head.startsWith('<') && head.includes('ClinicalDocument')) return 'ccda'
  return 'none'
}

/**
 * The terms of a record's content: FHIR codes and display texts of Condition, Observation,
 * Procedure, MedicationRequest and DiagnosticReport and every resource's type; C-CDA section
 * titles and coded entries; DICOM Modality, BodyPartExamined, Study and Series Description (the
 * header only); HL7 v2 message type and OBX-3 observation identifiers. Normalized words
 * (`termWords`), without duplicates. A malformed file gives what could be read.
 */
export function extractContentTerms(bytes: Uint8Array): Set<string> {
  const texts: string[] = []
  // A view of the same bytes, not a copy (Buffer.from of a Uint8Array copies it).
  const text = () => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
  try {
    const kind = termSourceOf(bytes)
    if (kind === 'fhir') fhirTexts(JSON.parse(text()), texts)
    else if (kind === 'ccda') ccdaTexts(text(), texts)
    else if (kind === 'hl7v2') hl7Texts(text(), texts)
    else if (kind === 'dicom') dicomTexts(bytes, texts)
  } catch {
    // Not what its first bytes promised: the record is still stored, indexed by name and tags.
  }
  // A bundle repeats its codes and displays (~200 texts, ~60 distinct): each normalized once.
  return new Set([...new Set(texts)].flatMap(termWords))
}

/** The words of a file name and of the uploader's tags. */
export function extractLabelTerms(fileName: string, tags: readonly string[] = []): Set<string> {
  return new Set([fileName, ...tags].flatMap(termWords))
}

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

function fhirTexts(doc: unknown, out: string[]): void {
  const resources = isObject(doc) && doc.resourceType === 'Bundle' && Array.isArray(doc.entry)
    ? doc.entry.map((e) => (isObject(e) ? e.resource : undefined))
    : [doc]
  for (const r of resources) {
    if (!isObject(r) || typeof r.resourceType !== 'string') continue
    out.push(r.resourceType)
    if (!fhirCodedTypes.includes(r.resourceType)) continue
    codeableTexts(r.code, out)
    codeableTexts(r.medicationCodeableConcept, out)
  }
}

function codeableTexts(cc: unknown, out: string[]): void {
  if (!isObject(cc)) return
  if (typeof cc.text === 'string') out.push(cc.text)
  for (const c of Array.isArray(cc.coding) ? cc.coding : []) {
    if (!isObject(c)) continue
    if (typeof c.code === 'string') out.push(c.code)
    if (typeof c.display === 'string') out.push(c.display)
  }
}

/** XML's five predefined entities and character references. */
function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (_m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : ''
    }
    return ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[e.toLowerCase()]
  })
}

/** Section titles, and the code and displayName of every code, value and translation element of the structured body. */
function ccdaTexts(xml: string, out: string[]): void {
  const start = xml.indexOf('<structuredBody')
  if (start < 0) return
  const body = xml.slice(start)
  // Section by section with indexOf, so that work stays linear in the document's size whatever
  // it holds (a lazy regex over sections without titles would rescan the rest of it each time).
  for (const part of body.split('<section').slice(1)) {
    const open = part.indexOf('<title')
    const gt = open < 0 ? -1 : part.indexOf('>', open)
    const close = gt < 0 ? -1 : part.indexOf('</title>', gt)
    if (close >= 0) out.push(unescapeXml(part.slice(gt + 1, close).replace(/<[^>]*>/g, ' ')))
  }
  // `[^<>]`: an attribute value holds no '<', and a tag left open ends at the next one, so a
  // document of unclosed tags costs a linear scan, not one to its end per tag.
  for (const m of body.matchAll(/<(?:code|value|translation)\b([^<>]*)>/g)) {
    const attrs = m[1]
    const code = /\scode="([^"]*)"/.exec(attrs)
    if (!code) continue
    out.push(unescapeXml(code[1]))
    const display = /\sdisplayName="([^"]*)"/.exec(attrs)
    if (display) out.push(unescapeXml(display[1]))
  }
}

/** MSH-9 (message type) and OBX-3 (observation identifier: code and text, of both triplets). */
function hl7Texts(text: string, out: string[]): void {
  const fieldSep = text.trimStart()[3]
  for (const segment of text.split(/\r\n|\r|\n/)) {
    const fields = segment.split(fieldSep)
    if (fields[0] === 'MSH' && fields[8]) out.push(fields[8])
    else if (fields[0] === 'OBX' && fields[3]) {
      const components = fields[3].split('^')
      for (const i of [0, 1, 3, 4]) if (components[i]) out.push(components[i])
    }
  }
}

/** The header only: parsing stops before the pixel data (a deflated data set is inflated first, at most 64 MiB of it). */
function dicomTexts(bytes: Uint8Array, out: string[]): void {
  const ds = parseDicomFile(bytes, { untilTag: 'x7fe00010', maxInflated: 64 * 1024 * 1024, partial: true }).dataSet
  for (const tag of dicomTags) {
    const v = dicomText(ds, tag)
    if (v) out.push(v)
  }
}
