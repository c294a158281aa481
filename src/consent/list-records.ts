import { AppError, isAppError } from '../errors.ts'
import { findParty } from '../accounts/directory.ts'
import { findAccount, requireRole, type Actor } from '../accounts/account.ts'
import { resolveAccess } from './resolve-access.ts'
import { matchRecords } from '../records/search/match-records.ts'
import { recordParties, toRecordView, type RecordRow, type RecordView } from '../records/record.ts'
import type { Services } from '../services.ts'

export interface ListRecordsParams {
  actor: Actor | undefined
  /** A patient's e-mail, id or address: that patient's records the actor may read. */
  patient?: string
  limit?: number
  offset?: number
  /** Keyword search: only the records whose indexed terms match every word (README "Search"). */
  q?: string
  signal?: AbortSignal
}

export interface ListRecordsResult {
  records: RecordView[]
  total: number
  limit: number
  offset: number
}

/**
 * Lists anchored records the actor may read, newest first, with their decrypted manifests:
 * a patient's own records, or a doctor's uploads (optionally for one patient).
 * @throws AppError FORBIDDEN (admin, staff), UNKNOWN_PATIENT, VALIDATION_FAILED
 */
export async function listRecords(s: Services, { actor, patient, limit = 100, offset = 0, q, signal }: ListRecordsParams): Promise<ListRecordsResult> {
  const reader = requireRole(actor, 'doctor', 'patient')
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000 || !Number.isSafeInteger(offset) || offset < 0) {
    throw new AppError('VALIDATION_FAILED', { message: 'limit is 1 to 1000 and offset 0 or more.' })
  }
  let candidates: RecordRow[]
  const anchored = `SELECT * FROM records WHERE state = 'anchored'`
  if (reader.account.role === 'patient') {
    if (patient !== undefined && (await findAccount(s.db, patient))?.id !== reader.account.id) throw new AppError('UNKNOWN_PATIENT')
    candidates = await s.db.all(`${anchored} AND patient_id = ? ORDER BY created_at DESC, record_id`, reader.account.id) as RecordRow[]
  } else if (patient === undefined) {
    candidates = await s.db.all(`${anchored} AND author_id = ? ORDER BY created_at DESC, record_id`, reader.account.id) as RecordRow[]
  } else {
    // A doctor not (or no longer) confirmed may look nobody up: one answer, known or not.
    const p = reader.account.status === 'active' ? await findParty(s, patient) : undefined
    if (!p || p.role !== 'patient') throw new AppError('UNKNOWN_PATIENT')
    // Beyond their own uploads, a doctor sees what a grant, share or break-glass opened to them;
    // whether each is still live is the chain's answer, asked per record below.
    const opened = await s.db.get(`SELECT 1 FROM access_requests WHERE requester_id = ? AND patient_id = ? AND status = 'approved'
      UNION ALL SELECT 1 FROM shares WHERE grantee_id = ? AND patient_id = ? AND revoked_at IS NULL
      UNION ALL SELECT 1 FROM emergencies WHERE doctor_id = ? AND patient_id = ? AND envelopes IS NOT NULL LIMIT 1`, reader.account.id, p.id, reader.account.id, p.id, reader.account.id, p.id)
    if (!opened && p.hospital_id !== reader.account.hospitalId) throw new AppError('UNKNOWN_PATIENT')
    candidates = opened
      ? await s.db.all(`${anchored} AND patient_id = ? ORDER BY created_at DESC, record_id`, p.id) as RecordRow[]
      : await s.db.all(`${anchored} AND patient_id = ? AND author_id = ? ORDER BY created_at DESC, record_id`, p.id, reader.account.id) as RecordRow[]
  }
  // A search narrows the candidates first; each match's access is still decided below.
  if (q !== undefined) candidates = await matchRecords(s, candidates, q)
  // Each record's access is decided on its own (chain reads, envelopes opened); several at once,
  // so that a patient's hundred records do not wait on one round trip after the other.
  const views = new Array<RecordView | undefined>(candidates.length)
  let next = 0
  const worker = async () => {
    for (let i = next++; i < candidates.length; i = next++) views[i] = await viewIfReadable(s, reader, candidates[i]!, signal)
  }
  await Promise.all(Array.from({ length: Math.min(LIST_CONCURRENCY, candidates.length) }, worker))
  const readable = views.filter((v): v is RecordView => v !== undefined)
  const total = readable.length
  const records = readable.slice(offset, offset + limit)
  return { records, total, limit, offset }
}

/** Records whose access is decided at once while listing. */
const LIST_CONCURRENCY = 16

/** The record as its reader sees it in a list; undefined when not readable; with its problem when damaged. */
async function viewIfReadable(s: Services, reader: Actor, row: RecordRow, signal?: AbortSignal): Promise<RecordView | undefined> {
  try {
    const { manifest } = await resolveAccess(s, { actor: reader, recordId: row.record_id, signal })
    return toRecordView(row, await recordParties(s.db, row), manifest)
  } catch (err) {
    if (isAppError(err, 'RECORD_NOT_FOUND')) return undefined
    // One damaged record must not hide the others: it is listed with its problem.
    if (!isAppError(err, 'RECORD_INTEGRITY', 'RECORD_UNAVAILABLE')) throw err
    const unknown = { fileName: '', mediaType: '', size: 0, sha256: '', created: '' }
    return { ...toRecordView(row, await recordParties(s.db, row), unknown), problem: err.code }
  }
}
