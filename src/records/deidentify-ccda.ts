import { zip3 } from './deidentify-fhir.ts'

/** The rules `deidentifyCcda` applies, as written into an export's manifest. */
export const ccdaDeidentificationRules: readonly string[] = [
  'C-CDA: removed every name (but a manufactured material\'s), telecom, id (the patient gets the study pseudonym), the document title, section narratives (section/text) and the text of every entry, originalText, desc, free-text and encapsulated values (xsi:type ST or ED, base64 media), observation media (photos), references and links (URLs), comments, authoring device names, and address lines, cities, counties and census tracts',
  'C-CDA: every date and time to its year; a birth time older than 89 years removed; postal codes to three digits (000 for the small areas)',
]

// Free text (desc), URLs (reference, linkHtml) and photos (observationMedia) go with the identifiers.
const DROPPED = new Set(['telecom', 'id', 'originalText', 'streetAddressLine', 'city', 'county', 'censusTract', 'manufacturerModelName', 'softwareName', 'sdtc:id',
  'desc', 'reference', 'linkHtml', 'observationMedia'])
const TIMES = new Set(['effectiveTime', 'low', 'high', 'center', 'time', 'birthTime', 'sdtc:deceasedTime', 'width'])
const AGE_LIMIT = 89
const TOKEN = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[[\s\S]*?\]\]>|<![^>]*>|<\/?[A-Za-z_][^>]*>|[^<]+/g

export interface DeidentifyCcdaParams {
  patientPseudonym: string
  /** The year the export is made: decides who is older than 89. */
  year: number
}

/**
 * De-identifies a C-CDA document (HIPAA Safe Harbor) by its elements, keeping its structure and
 * coded entries; answers undefined when the text is not a ClinicalDocument.
 */
export function deidentifyCcda(xml: string, p: DeidentifyCcdaParams): string | undefined {
  if (!/<ClinicalDocument[\s>]/.test(xml)) return undefined
  const out: string[] = []
  const stack: string[] = []
  let dropDepth = -1 // the stack depth at which a dropped subtree began
  let postal = false
  for (const token of xml.match(TOKEN) ?? []) {
    if (token.startsWith('<!--') || (token.startsWith('<!') && !token.startsWith('<![CDATA['))) continue
    if (token.startsWith('</')) {
      const closing = stack.pop()
      if (dropDepth === stack.length) { dropDepth = -1; continue }
      if (dropDepth >= 0) continue
      if (closing === 'postalCode') postal = false
      out.push(token)
      continue
    }
    if (token.startsWith('<') && !token.startsWith('<![CDATA[') && !token.startsWith('<?')) {
      const name = /^<([^\s/>]+)/.exec(token)![1]!
      const selfClosing = token.endsWith('/>')
      if (dropDepth < 0 && dropped(name, stack, token)) {
        if (!selfClosing) { dropDepth = stack.length; stack.push(name) }
        continue
      }
      if (!selfClosing) stack.push(name)
      if (dropDepth >= 0) continue
      out.push(TIMES.has(name) ? generalizeTime(token, name, p.year) : token)
      if (name === 'patientRole') out.push(`<id root="2.25" extension="${p.patientPseudonym}" assigningAuthorityName="study pseudonym"/>`)
      if (name === 'postalCode') postal = true
      continue
    }
    if (dropDepth >= 0) continue
    out.push(postal ? zip3(token.trim()) : token)
  }
  return out.join('')
}

function dropped(name: string, stack: string[], token: string): boolean {
  const parent = stack[stack.length - 1]
  if (DROPPED.has(name)) return true
  if (name === 'name') return parent !== 'manufacturedMaterial'
  if (name === 'title') return parent === 'ClinicalDocument'
  if (name === 'text') return true // a section's narrative and an entry's free text alike
  if (name === 'value') return /xsi:type="(ST|ED)"|\brepresentation="B64"|\bmediaType=/.test(token)
  return false
}

/** A time element's date values to their year; a birth time of someone older than 89 emptied. */
function generalizeTime(token: string, name: string, year: number): string {
  return token.replace(/\b(value)="(\d{4})\d*([^"]*)"/, (_m, attr: string, y: string) => {
    if (name === 'birthTime' && year - Number(y) > AGE_LIMIT) return 'nullFlavor="MSK"'
    return `${attr}="${y}"`
  })
}
