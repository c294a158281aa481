import type { Actor } from '../../accounts/account.ts'
import { listHospitals } from '../../accounts/list-hospitals.ts'
import { decideRecords, listRecords, type DecidedRecord } from '../../consent/list-records.ts'
import { isAppError } from '../../errors.ts'
import type { RecordView } from '../../records/record.ts'
import type { Services } from '../../services.ts'
import { matchesDate, parseDateParam } from './date-param.ts'
import { documentTypeOf, toDocumentReference } from './document-reference.ts'
import { referenceId, valuesOf } from './search-params.ts'
import type { FhirResource } from './resource-module.ts'

/**
 * Every record the actor may read, as GET /records lists them (a patient's own; a doctor's
 * uploads, or with `patient` that patient's records the doctor may read), all pages. Records
 * that cannot be opened (RECORD_INTEGRITY, RECORD_UNAVAILABLE) have no DocumentReference.
 * A patient the actor may not see gives none, as an unknown one does. `q`: keyword search (README "Search").
 * @throws AppError FORBIDDEN (admin, staff), as GET /records
 */
export async function readableRecords(s: Services, { actor, patient, q, signal }: { actor: Actor; patient?: string; q?: string; signal?: AbortSignal }): Promise<RecordView[]> {
  const all: RecordView[] = []
  try {
    for (let offset = 0; ; offset += 1000) {
      const page = await listRecords(s, { actor, patient, q, limit: 1000, offset, signal })
      all.push(...page.records)
      if (offset + page.records.length >= page.total || page.records.length === 0) break
    }
  } catch (err) {
    if (isAppError(err, 'UNKNOWN_PATIENT')) return []
    throw err
  }
  return all.filter((r) => r.problem === undefined)
}

/** DocumentReferences of the given records, with the ledger place and each custodian's address. */
export async function toDocumentReferences(s: Services, records: readonly RecordView[]): Promise<FhirResource[]> {
  const hospitals = new Map((await listHospitals(s)).map((h) => [h.id, h.address]))
  const place = { chainId: s.ledger.chainId, recordLedger: s.ledger.contracts.recordLedger }
  return records.map((r) => toDocumentReference(r, { place, hospitalAddress: hospitals.get(r.hospitalId) }))
}

export interface DocumentQuery {
  patient?: string[]
  subject?: string[]
  date?: string[]
  type?: string[]
  author?: string[]
  _content?: string[]
  _sort?: 'date' | '-date'
}

/** The patient ids every patient/subject parameter allows (AND across parameters, OR within one); undefined when none is given. */
function patientsOf(q: DocumentQuery): string[] | undefined {
  const groups = [...(q.patient ?? []), ...(q.subject ?? [])].map((g) => new Set(valuesOf(g).map((v) => referenceId(v, 'Patient')).filter((id): id is string => id !== undefined)))
  if (groups.length === 0) return undefined
  return [...groups[0]].filter((id) => groups.every((g) => g.has(id)))
}

/** True when a type token (`system|code`, `|code` or `code`) names the record's document type. */
function matchesType(search: string, r: RecordView): boolean {
  const t = documentTypeOf(r)
  const bar = search.lastIndexOf('|')
  return (bar < 0 || search.slice(0, bar) === '' || search.slice(0, bar) === t.system) && search.slice(bar + 1) === t.code
}

/**
 * The ids of the records `_content` matches (AND across parameters, OR within one): each value is
 * a keyword search (GET /records?q=) over the same readable records, decided but not opened;
 * undefined when none is given.
 */
async function contentMatches(s: Services, actor: Actor, patients: string[] | undefined, groups: readonly string[], signal?: AbortSignal): Promise<Set<string> | undefined> {
  if (groups.length === 0) return undefined
  let out: Set<string> | undefined
  for (const g of groups) {
    const ids = new Set<string>()
    for (const q of valuesOf(g)) {
      for (const d of await decidedRecords(s, { actor, patients, q, signal })) ids.add(d.row.record_id)
    }
    out = out === undefined ? ids : new Set([...out].filter((id) => ids.has(id)))
  }
  return out
}

/**
 * Every record of `patients` (each as GET /records?patient=, or the actor's own listing when
 * undefined) the actor may read, decided but not opened; those found damaged left out. A patient
 * the actor may not see gives none.
 * @throws AppError FORBIDDEN (admin, staff)
 */
async function decidedRecords(s: Services, { actor, patients, q, signal }: { actor: Actor; patients: string[] | undefined; q?: string; signal?: AbortSignal }): Promise<DecidedRecord[]> {
  const out: DecidedRecord[] = []
  for (const patient of patients ?? [undefined]) {
    try {
      out.push(...(await decideRecords(s, { actor, patient, q, signal })).filter((d) => d.problem === undefined))
    } catch (err) {
      if (!isAppError(err, 'UNKNOWN_PATIENT')) throw err
    }
  }
  return out
}

/**
 * One page of what `searchDocuments` matches, and their number. Unless a filter needs the records'
 * manifests (`type`), the records are decided without being opened, filtered and sorted by their
 * rows (anchor time, author) and only the page's are opened: `total` then also counts a record
 * whose key or manifest would turn out not to open (shown nowhere), which `searchDocuments` leaves out.
 * @throws AppError as `searchDocuments`
 */
export async function searchDocumentsPage(s: Services, { actor, query, count, offset, signal }: { actor: Actor; query: DocumentQuery; count: number; offset: number; signal?: AbortSignal }): Promise<{ total: number; page: RecordView[] }> {
  const whole = async () => {
    const all = await searchDocuments(s, { actor, query, signal })
    return { total: all.length, page: all.slice(offset, offset + count) }
  }
  if ((query.type ?? []).length > 0) return whole()
  const dates = (query.date ?? []).map(parseDateParam)
  const patients = patientsOf(query)
  const decided = await decidedRecords(s, { actor, patients, signal })
  if (decided.some((d) => d.row.anchored_at === null)) return whole()
  const content = await contentMatches(s, actor, patients, query._content ?? [], signal)
  const at = (d: DecidedRecord) => d.row.anchored_at! * 1000
  const matches = decided.filter((d) => dates.every((c) => matchesDate(c, at(d)))
    && (content === undefined || content.has(d.row.record_id))
    && (query.author ?? []).every((g) => valuesOf(g).some((v) => referenceId(v, 'Practitioner') === d.row.author_id)))
  const dir = query._sort === 'date' ? 1 : -1
  matches.sort((a, b) => dir * (at(a) - at(b)) || a.row.record_id.localeCompare(b.row.record_id))
  const opened = await Promise.all(matches.slice(offset, offset + count).map((d) => d.open()))
  return { total: matches.length, page: opened.filter((v): v is RecordView => v !== undefined && v.problem === undefined) }
}

/**
 * The records a DocumentReference search matches, of those the actor may read: `patient` /
 * `subject`, `date` (prefixes), `type`, `author`, `_content` (keyword search); newest anchor first
 * unless `_sort=date`.
 * @throws AppError FORBIDDEN (admin, staff), VALIDATION_FAILED (a malformed date, a `_content` without words)
 */
export async function searchDocuments(s: Services, { actor, query, signal }: { actor: Actor; query: DocumentQuery; signal?: AbortSignal }): Promise<RecordView[]> {
  const dates = (query.date ?? []).map(parseDateParam)
  const patients = patientsOf(query)
  let records: RecordView[]
  if (patients === undefined) records = await readableRecords(s, { actor, signal })
  else {
    records = []
    for (const id of patients) records.push(...await readableRecords(s, { actor, patient: id, signal }))
  }
  const content = await contentMatches(s, actor, patients, query._content ?? [], signal)
  const at = (r: RecordView) => Date.parse(r.anchoredAt ?? r.created)
  const matches = records.filter((r) => dates.every((c) => matchesDate(c, at(r)))
    && (content === undefined || content.has(r.recordId))
    && (query.type ?? []).every((g) => valuesOf(g).some((v) => matchesType(v, r)))
    && (query.author ?? []).every((g) => valuesOf(g).some((v) => referenceId(v, 'Practitioner') === r.author.id)))
  const dir = query._sort === 'date' ? 1 : -1
  return matches.sort((a, b) => dir * (at(a) - at(b)) || a.recordId.localeCompare(b.recordId))
}
