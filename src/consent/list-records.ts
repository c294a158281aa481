import { AppError, isAppError } from '../errors.ts'
import { findParty } from '../accounts/directory.ts'
import { hexToBytes, type Hex } from 'viem'
import { findAccount, requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { resolveAccess } from './resolve-access.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { openEnvelopes, parseEnvelopes, type EnvelopesObject } from '../records/envelopes.ts'
import { assertAnchored } from '../records/assert-anchored.ts'
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
  // The patient and the author may always read their own records: those are decided without
  // the chain's grants and without HPKE (anchor and envelopes checked, an envelope addressed to
  // the reader found) and opened only when on the requested page; the others are decided and
  // opened each (chain reads, envelopes opened). Several at once, so that a patient's hundred
  // records do not wait on one round trip after the other.
  const views = await mapConcurrently(candidates, (row) => ownRecord(reader, row) ? decideOwn(s, reader, row, signal) : viewIfReadable(s, reader, row, signal))
  const readable = candidates.flatMap((row, i) => views[i] === undefined ? [] : [{ row, view: views[i] }])
  const total = readable.length
  const page = readable.slice(offset, offset + limit)
  const opened = await mapConcurrently(page, ({ row, view }) => view instanceof Own ? openOwn(s, reader, row, view) : Promise.resolve(view))
  return { records: opened.filter((v): v is RecordView => v !== undefined), total, limit, offset }
}

/** A record of the reader's own (as its patient or its author), found readable but not yet opened: its envelopes. */
class Own {
  constructor(readonly env: EnvelopesObject) {}
}

const ownRecord = (reader: Actor, row: RecordRow) => reader.account.id === row.patient_id || reader.account.id === row.author_id

/** `fn` over `items` in order, LIST_CONCURRENCY at a time. */
async function mapConcurrently<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!)
  }
  await Promise.all(Array.from({ length: Math.min(LIST_CONCURRENCY, items.length) }, worker))
  return out
}

/**
 * Whether the patient or author may open their own record, as `resolveAccess` would decide it
 * (its anchor checked, its envelopes block read and parsed, an envelope addressed to the reader
 * in it), without unwrapping the key: its envelopes when readable, undefined when not, its problem when damaged.
 */
async function decideOwn(s: Services, reader: Actor, row: RecordRow, signal?: AbortSignal): Promise<RecordView | Own | undefined> {
  requireKeys(reader)
  try {
    const block = getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.envelopes as Hex), 'raw'), { signal })
    block.catch(() => undefined) // awaited below, once the anchor is checked
    await assertAnchored(s, row)
    const env = parseEnvelopes(await block, row.record_id)
    const { address, keyScheme } = reader.account
    return env.keys.some((k) => k.to.toLowerCase() === address.toLowerCase() && k.scheme === keyScheme) ? new Own(env) : undefined
  } catch (err) {
    return problemView(s, row, err)
  }
}

/** Opens an own record on the page: its key unwrapped and its manifest decrypted, as `resolveAccess` does. */
async function openOwn(s: Services, reader: Actor, row: RecordRow, { env }: Own): Promise<RecordView | undefined> {
  const me = { address: reader.account.address, scheme: reader.account.keyScheme, privateKey: requireKeys(reader).encryptionPrivateKey }
  try {
    const { manifest } = await openEnvelopes(env, me)
    return toRecordView(row, await recordParties(s.db, row), manifest)
  } catch (err) {
    return problemView(s, row, err)
  }
}

/** Records whose access is decided at once while listing. */
const LIST_CONCURRENCY = 16

/** The record as its reader sees it in a list; undefined when not readable; with its problem when damaged. */
async function viewIfReadable(s: Services, reader: Actor, row: RecordRow, signal?: AbortSignal): Promise<RecordView | undefined> {
  try {
    const { manifest } = await resolveAccess(s, { actor: reader, recordId: row.record_id, signal })
    return toRecordView(row, await recordParties(s.db, row), manifest)
  } catch (err) {
    return problemView(s, row, err)
  }
}

/** Undefined for a record not readable; one damaged must not hide the others: it is listed with its problem. */
async function problemView(s: Services, row: RecordRow, err: unknown): Promise<RecordView | undefined> {
  if (isAppError(err, 'RECORD_NOT_FOUND')) return undefined
  // A break-glass read waiting for k hospitals' shares is listed too, with that as its problem.
  if (!isAppError(err, 'RECORD_INTEGRITY', 'RECORD_UNAVAILABLE', 'EMERGENCY_SHARES_PENDING')) throw err
  const unknown = { fileName: '', mediaType: '', size: 0, sha256: '', created: '' }
  return { ...toRecordView(row, await recordParties(s.db, row), unknown), problem: err.code }
}
