/**
 * Every identifying string of a FHIR resource or Bundle, found by walking its fields (not a list
 * written by hand): each name part, address line, city and full ZIP, telecom value, identifier
 * value, resource id, the display of a reference to a person or organization, free-text
 * extension, full birth date and other full date.
 * Strings shorter than 4 characters are left out (they match by chance anywhere).
 */
export function identifyingStrings(input: unknown): Set<string> {
  const found = new Set<string>()
  // What each reference points to, to tell a person's display ("Dr. …") from a clinical one.
  const typeOf = new Map<string, string>()
  const entries = (input as { entry?: { fullUrl?: string; resource?: { resourceType?: string; id?: string } }[] }).entry ?? []
  for (const e of entries) {
    if (e.fullUrl) typeOf.set(e.fullUrl, String(e.resource?.resourceType))
    found.add(String(e.resource?.id))
  }
  const personal = new Set(['Patient', 'Practitioner', 'PractitionerRole', 'RelatedPerson', 'Organization', 'Location'])
  const add = (v: unknown) => {
    if (typeof v === 'string' && v.trim().length >= 4) found.add(v.trim())
  }
  const walk = (v: unknown, key: string) => {
    if (Array.isArray(v)) return v.forEach((x) => walk(x, key))
    if (typeof v === 'string') {
      // a full date or date-time (a year alone is kept by Safe Harbor)
      if (/^\d{4}-\d{2}-\d{2}/.test(v)) add(v)
      return
    }
    if (typeof v !== 'object' || v === null) return
    const o = v as Record<string, unknown>
    if (key === 'name') {
      for (const part of ['family', 'given', 'prefix', 'suffix', 'text']) [o[part]].flat().forEach(add)
    }
    if (key === 'address' || key === 'valueAddress') {
      [o.line].flat().forEach(add)
      add(o.city)
      add(o.district)
      add(o.postalCode)
    }
    if (key === 'telecom' || key === 'identifier') add(o.value)
    if (typeof o.reference === 'string' && personal.has(typeOf.get(o.reference) ?? o.reference.split(/[/?]/)[0]!)) add(o.display)
    add(o.valueString)
    for (const [k, child] of Object.entries(o)) {
      if (k === 'name' && typeof child === 'string') add(child)
      walk(child, k)
    }
  }
  walk(input, '')
  if (typeof (input as { id?: unknown }).id === 'string') add((input as { id: string }).id)
  found.delete('undefined')
  return found
}

/** The codes of every Condition, Observation, Procedure and MedicationRequest: clinical content that must survive. */
export function clinicalCodes(input: unknown): Set<string> {
  const codes = new Set<string>()
  const resources = (input as { entry?: { resource: Record<string, unknown> }[] }).entry?.map((e) => e.resource) ?? [input as Record<string, unknown>]
  for (const r of resources) {
    if (!['Condition', 'Observation', 'Procedure', 'MedicationRequest'].includes(String(r.resourceType))) continue
    const concept = (r.resourceType === 'MedicationRequest' ? r.medicationCodeableConcept : r.code) as { coding?: { system?: string; code?: string }[] } | undefined
    for (const c of concept?.coding ?? []) codes.add(`${r.resourceType} ${c.system}|${c.code}`)
  }
  return codes
}

export interface DicomElement { tag: string; vr?: string; length: number; dataOffset: number; items?: { dataSet: DS }[] }
export interface DS { byteArray: Uint8Array; elements: Record<string, DicomElement>; string(tag: string): string | undefined }

/**
 * The identifying values of a DICOM file, by its attributes' kinds (not a hand list): person
 * names, AE titles, dates, times, UIDs outside the standard's root, the texts of the patient,
 * study, visit, procedure and general groups and of private attributes, device serial numbers.
 */
export function identifyingValues(ds: DS): Set<string> {
  const found = new Set<string>()
  const walk = (d: DS) => {
    for (const e of Object.values(d.elements)) {
      if (e.items) { e.items.forEach((i) => walk(i.dataSet)); continue }
      const group = parseInt(e.tag.slice(1, 5), 16)
      if (group === 0x0002) continue
      const v = d.string(e.tag)?.trim()
      if (!v || v.length < 4) continue
      const textual = ['LO', 'SH', 'ST', 'LT', 'UT', 'UC'].includes(e.vr ?? '')
      if (['PN', 'AE', 'DA', 'DT', 'TM'].includes(e.vr ?? '') || (e.vr === 'UI' && !v.startsWith('1.2.840.10008.'))
        || (textual && ([0x0008, 0x0010, 0x0020, 0x0032, 0x0038, 0x0040].includes(group) || group % 2 === 1)) || e.tag === 'x00181000') {
        v.split('\\').forEach((x) => x.trim().length >= 4 && found.add(x.trim()))
      }
    }
  }
  walk(ds)
  return found
}


/**
 * The identifying strings of a C-CDA document, by its elements (regular expressions over the
 * XML, not the code under test): name parts, names (a drug's aside), the document title, address lines, cities, full
 * postal codes, telecom values, id extensions, and every full date or time (8+ digits).
 */
export function identifyingCcdaStrings(xml: string): Set<string> {
  const found = new Set<string>()
  const add = (v: string | undefined) => { if (v && v.trim().length >= 4) found.add(v.trim()) }
  for (const m of xml.matchAll(/<(given|family|prefix|suffix|streetAddressLine|city|postalCode|title)\b[^>]*>([^<]*)</g)) {
    if (m[1] !== 'title' || /Patient Record/.test(m[2]!)) add(m[2])
  }
  // a manufactured material's name is the drug's, clinical content
  for (const m of xml.replace(/<manufacturedMaterial>[\s\S]*?<\/manufacturedMaterial>/g, '').matchAll(/<name\b[^>]*>([^<]+)<\/name>/g)) add(m[1])
  for (const m of xml.matchAll(/<telecom\b[^>]*\bvalue="([^"]+)"/g)) add(m[1])
  for (const m of xml.matchAll(/<id\b[^>]*\bextension="([^"]+)"/g)) add(m[1])
  for (const m of xml.matchAll(/\bvalue="(\d{8,}[^"]*)"/g)) add(m[1])
  return found
}

/**
 * The identifying strings of an HL7 v2 message, by the kinds of its fields (a split on the
 * message's own separators, not the code under test): every component of the identifiers
 * (PID-2, 3, 4, 18, 19, 20; visit, order and control numbers: PV1-19, 50, ORC-2, 3, OBR-2, 3,
 * MSH-10), of the names (PID-5, 6, 9; NK1-2; providers in EVN-5, PV1-7, 8, 9, 17, OBR-16, 32,
 * OBX-16; PD1-3 and PD1-4), of the addresses (PID-11, NK1-4) but state and country, phones and
 * e-mails (PID-13, 14, NK1-5, 6), locations (PV1-3, 6, 11, 42, 43), facilities (MSH-4, 6),
 * notes (NTE-3) and free-text values (OBX-5 of ST, TX, FT), and every full date (8+ digits).
 */
export function identifyingHl7Strings(text: string): Set<string> {
  const found = new Set<string>()
  const sep = text[3]!
  const [component, repetition, , subcomponent] = [...text.slice(4, 8)]
  const add = (v: string | undefined) => { if (v && v.trim().length >= 4) found.add(v.trim()) }
  const parts = (field: string | undefined, skip: number[] = []) => {
    for (const rep of (field ?? '').split(repetition!)) {
      rep.split(component!).forEach((c, i) => { if (!skip.includes(i)) for (const sc of c.split(subcomponent!)) add(sc) })
    }
  }
  const identifying: Record<string, number[]> = {
    PID: [2, 3, 4, 5, 6, 9, 13, 14, 18, 19, 20], NK1: [2, 5, 6], PV1: [3, 6, 7, 8, 9, 11, 17, 19, 42, 43, 50],
    EVN: [5], ORC: [2, 3, 10, 11, 12], OBR: [2, 3, 16, 32], OBX: [16], PD1: [3, 4], NTE: [3],
  }
  for (const segment of text.split(/\r\n|\r|\n/)) {
    const f = segment.split(sep)
    const at = (n: number) => (f[0] === 'MSH' ? f[n - 1] : f[n])
    if (f[0] === 'MSH') for (const n of [4, 6, 10]) parts(at(n))
    for (const n of identifying[f[0]!] ?? []) parts(at(n))
    // addresses: all but state (4) and country (6)
    if (f[0] === 'PID' || f[0] === 'NK1') parts(at(f[0] === 'PID' ? 11 : 4), [3, 5, 6])
    if (f[0] === 'OBX' && /^(ST|TX|FT)$/.test(at(2) ?? '')) parts(at(5))
  }
  for (const m of text.matchAll(/(?<!\d)\d{8,}(?!\d)/g)) add(m[0])
  return found
}

/**
 * The secrets that appear in `text` as themselves: not inside a longer run of letters and digits.
 * A pseudonym (32 hex digits) or a remapped UID (2.25. and 39 digits) holds any short number by
 * chance now and then; a leaked value stands on its own (a JSON string, a word in a text).
 */
export function leaks(secrets: Iterable<string>, text: string): string[] {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return [...secrets].filter((s) => new RegExp(`(?<![A-Za-z0-9])${escape(s)}(?![A-Za-z0-9])`).test(text))
}
