import { createHmac } from 'node:crypto'

/** The rules `deidentifyFhir` applies, as written into an export's manifest. */
export const fhirDeidentificationRules: readonly string[] = [
  'HIPAA Safe Harbor (45 CFR 164.514(b)(2)), field by field, on FHIR R4 resources',
  'removed: name, alias, telecom, identifier, photo, contact, link, subscriberId, lotNumber, narrative text (text.div), note, comment, description, patientInstruction, valueString, meta, the display of every reference',
  'removed: free text wherever it is: every [x]String, [x]Markdown, [x]Base64Binary, [x]HumanName and [x]ContactPoint choice (onsetString, contentString, an extension\'s valueHumanName, …) and identifiers under another name (masterIdentifier, groupIdentifier, …); conclusion, summary, title, rationale and mitigation texts; a text string outside a CodeableConcept (a dosage\'s text); a string value (a coverage\'s group or plan number); signatures',
  'removed: a location\'s position (coordinates), a device\'s UDI carrier, serial number and distinct identifier',
  'removed: attachments\' data, url and title; URL and URI values (valueUri, valueUrl, url of non-extension elements)',
  'removed: extensions carrying free text (valueString) and geolocation; a birthPlace keeps its state and country',
  'generalized: every date and time to its year (no date shifting); a birth year that makes the subject older than 89 is left out and marked "90 or older"',
  'generalized: address to state, country and the first three ZIP digits ("000" for the three-digit areas of 20,000 people or fewer)',
  'pseudonymized: every resource id, and every reference to it, by HMAC-SHA-256 under the study key; the patient\'s by the study\'s patient pseudonym',
]

/** Three-digit ZIP areas of 20,000 people or fewer (2000 census, HHS guidance): exported as `000`. */
const smallZipAreas = new Set(['036', '059', '063', '102', '203', '556', '692', '790', '821', '823', '830', '831', '878', '879', '884', '890', '893'])

/** Keys removed wherever they occur: identifying or free text. */
const removedKeys = new Set([
  'name', 'alias', 'telecom', 'identifier', 'photo', 'contact', 'link', 'subscriberId', 'lotNumber',
  'note', 'comment', 'description', 'patientInstruction', 'valueString', 'valueUri', 'valueUrl', 'meta',
  'implicitRules', 'fullUrl', 'request', 'response',
  // geographic coordinates, device identifiers
  'position', 'udiCarrier', 'serialNumber', 'distinctIdentifier',
  // a signature's bytes and signer (Provenance, Contract)
  'signature',
])

/** Keys whose string values are free text (a CodeableConcept's `text` aside: the concept's name). */
const freeTextKeys = new Set(['text', 'conclusion', 'summary', 'title', 'rationale', 'mitigation',
  // a string `value` is an identifier's, a contact's or a coverage's group or plan number: Quantity's and Money's are numbers
  'value'])
/**
 * Elements removed by the end of their name: choices ([x]) of free text or arbitrary bytes
 * (valueString, onsetString, contentString, valueMarkdown, …), of a person's name or contact
 * (an extension's valueHumanName, valueContactPoint), and identifiers under another name
 * (masterIdentifier, groupIdentifier, preAdmissionIdentifier, valueIdentifier, …).
 */
const FREE_TEXT_CHOICE = /[a-z](String|Markdown|Base64Binary|HumanName|ContactPoint|Identifier)$/

const DATE = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/
const AGE_LIMIT = 89

export interface DeidentifyFhirParams {
  /** The study's key: pseudonyms are HMACs under it (the same across the study's exports). */
  studyKey: Uint8Array
  /** The patient's pseudonym in this study. */
  patientPseudonym: string
  /** The year the export is made: decides who is older than 89. */
  year: number
}

export interface DeidentifiedBundle {
  /** De-identified resources, the patient's own first. */
  resources: Record<string, unknown>[]
  /** The quasi-identifiers of the patient, generalized: for k over an export. */
  quasi: { birthYear: string; sex: string; zip3: string }
}

/** A pseudonym of `value` under the study key: 32 hex digits of HMAC-SHA-256. */
export function pseudonymOf(studyKey: Uint8Array, value: string): string {
  return createHmac('sha256', studyKey).update(value).digest('hex').slice(0, 32)
}

/**
 * De-identifies a FHIR R4 Bundle (or one resource) of one patient per HIPAA Safe Harbor, field
 * by field, and pseudonymizes ids and references under the study key.
 * @throws Error when the input is not a FHIR resource or Bundle.
 */
export function deidentifyFhir(input: unknown, p: DeidentifyFhirParams): DeidentifiedBundle {
  const originals = resourcesOf(input)
  // A reference names a resource by its fullUrl (urn:uuid:…) or Type/id: both map to Type/pseudonym.
  const targets = new Map<string, string>()
  for (const { resource, fullUrl } of originals) {
    const type = String(resource.resourceType)
    const id = typeof resource.id === 'string' ? resource.id : undefined
    const pseudonym = type === 'Patient' ? p.patientPseudonym : pseudonymOf(p.studyKey, `${type}/${id ?? fullUrl}`)
    if (fullUrl) targets.set(fullUrl, `${type}/${pseudonym}`)
    if (id) targets.set(`${type}/${id}`, `${type}/${pseudonym}`)
  }
  const ctx: Context = { ...p, targets }
  const resources = originals.map(({ resource, fullUrl }, i) => {
    const out = clean(resource, ctx, '') as Record<string, unknown>
    const type = String(resource.resourceType)
    out.id = (targets.get(`${type}/${String(resource.id)}`) ?? targets.get(fullUrl ?? ''))?.split('/')[1] ?? pseudonymOf(p.studyKey, `${type}#${i}`)
    if (type === 'Patient') generalizeBirth(out, resource, p.year)
    return out
  })
  resources.sort((a, b) => Number(b.resourceType === 'Patient') - Number(a.resourceType === 'Patient'))
  const patient = resources.find((r) => r.resourceType === 'Patient')
  const zip = ((patient?.address as { postalCode?: string }[] | undefined)?.[0]?.postalCode) ?? '*'
  return {
    resources,
    quasi: { birthYear: typeof patient?.birthDate === 'string' ? patient.birthDate : patient ? '90+' : '*', sex: typeof patient?.gender === 'string' ? patient.gender : '*', zip3: zip },
  }
}

interface Context extends DeidentifyFhirParams { targets: Map<string, string> }

function resourcesOf(input: unknown): { resource: Record<string, unknown>; fullUrl?: string }[] {
  if (!isObject(input) || typeof input.resourceType !== 'string') throw new Error('not a FHIR resource')
  if (input.resourceType !== 'Bundle') return [{ resource: input }]
  const entries = Array.isArray(input.entry) ? input.entry : []
  return entries.filter((e): e is { resource: Record<string, unknown>; fullUrl?: string } => isObject(e) && isObject(e.resource) && typeof e.resource.resourceType === 'string')
    .map((e) => ({ resource: e.resource, fullUrl: typeof e.fullUrl === 'string' ? e.fullUrl : undefined }))
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** One value, cleaned by the rules; `undefined` when it is to be left out. */
function clean(value: unknown, ctx: Context, key: string): unknown {
  if (Array.isArray(value)) {
    const items = value.map((v) => clean(v, ctx, key)).filter((v) => v !== undefined)
    return items.length > 0 ? items : undefined
  }
  if (typeof value === 'string') return DATE.test(value) && value.length > 4 ? value.slice(0, 4) : value
  if (!isObject(value)) return value
  if (key === 'text' && 'div' in value) return undefined
  if (key === 'extension' || key === 'modifierExtension') return cleanExtension(value, ctx)
  if ('contentType' in value) return cleanAttachment(value)
  if (key === 'address' || key === 'valueAddress') return generalizeAddress(value)
  const isReference = typeof value.reference === 'string' || (typeof value.display === 'string' && !('code' in value) && !('system' in value))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    if (removedKeys.has(k) || (isReference && k === 'display') || FREE_TEXT_CHOICE.test(k)) continue
    if (typeof v === 'string' && freeTextKeys.has(k) && !(k === 'text' && Array.isArray(value.coding))) continue
    if (k === 'url' && key !== 'extension') continue
    if (isReference && k === 'reference' && typeof v === 'string') {
      out.reference = rewriteReference(v, ctx)
      continue
    }
    const c = clean(v, ctx, k)
    if (c !== undefined) out[k] = c
  }
  return Object.keys(out).length > 0 ? out : undefined
}

function cleanExtension(ext: Record<string, unknown>, ctx: Context): unknown {
  const url = typeof ext.url === 'string' ? ext.url : ''
  if ('valueString' in ext || url.endsWith('/geolocation') || url.endsWith('mothersMaidenName')) return undefined
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(ext)) {
    if (k === 'url') { out.url = v; continue }
    if (removedKeys.has(k) || FREE_TEXT_CHOICE.test(k)) continue
    const c = k === 'valueAddress' && isObject(v) ? generalizeAddress(v) : clean(v, ctx, k)
    if (c !== undefined) out[k] = c
  }
  return Object.keys(out).length > 1 ? out : undefined
}

/** An attachment keeps only what it is (type, language, size); its data, url and title go. */
function cleanAttachment(a: Record<string, unknown>): unknown {
  const out: Record<string, unknown> = {}
  for (const k of ['contentType', 'language', 'size']) if (a[k] !== undefined) out[k] = a[k]
  return out
}

function generalizeAddress(a: Record<string, unknown>): unknown {
  const out: Record<string, unknown> = {}
  if (typeof a.state === 'string') out.state = a.state
  if (typeof a.country === 'string') out.country = a.country
  if (typeof a.postalCode === 'string') out.postalCode = zip3(a.postalCode)
  return Object.keys(out).length > 0 ? out : undefined
}

/** The first three digits of a US ZIP code (5 digits, or ZIP+4), `000` for the small areas and for any other postcode. */
export function zip3(zip: string): string {
  const digits = /^(\d{3})\d{2}(-?\d{4})?$/.exec(zip.trim())?.[1]
  return digits && !smallZipAreas.has(digits) ? digits : '000'
}

function rewriteReference(ref: string, ctx: Context): string {
  if (ref.startsWith('#')) return ref // a contained resource: local, not identifying
  const known = ctx.targets.get(ref)
  if (known) return known
  // Outside the bundle (a conditional reference carries an identifier): its type and a pseudonym.
  const type = /^([A-Z][A-Za-z]+)[/?]/.exec(ref)?.[1] ?? 'Resource'
  return `${type}/${pseudonymOf(ctx.studyKey, ref)}`
}

/** Birth date to its year; a subject older than 89 keeps no year at all, only "90 or older". */
function generalizeBirth(out: Record<string, unknown>, original: Record<string, unknown>, year: number): void {
  const born = typeof original.birthDate === 'string' ? Number(original.birthDate.slice(0, 4)) : NaN
  if (Number.isFinite(born) && year - born > AGE_LIMIT) {
    delete out.birthDate
    out._birthDate = { extension: [{ url: 'urn:medledger:deidentified-age', valueString: '90 or older' }] }
  }
  if (typeof out.deceasedDateTime === 'string' && Number.isFinite(born) && year - born > AGE_LIMIT) delete out.deceasedDateTime
}
