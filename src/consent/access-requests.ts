import { findParty, publicKeyOf } from '../accounts/directory.ts'
import { bytesToHex, toHex, zeroHash, type Address, type Hex } from 'viem'
import { generateRecordId, parseRecordId } from '../crypto/tokens.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import { readKeyDigests } from '../ledger/read-key-digests.ts'
import { sendAccessRequest } from '../ledger/consent/send-access-request.ts'
import { sendApproval } from '../ledger/consent/send-approval.ts'
import { sendDenial } from '../ledger/consent/send-denial.ts'
import { sendRevocation } from '../ledger/consent/send-revocation.ts'
import { purposes } from '../ledger/purposes.ts'
import { findAccount, requireKeys, requireRole, type AccountRow, type Actor } from '../accounts/account.ts'
import { openRecordKeys } from '../records/open-record-keys.ts'
import type { RecordRow } from '../records/record.ts'
import { AppError } from '../errors.ts'
import { checkText } from '../text/check-text.ts'
import { chainTime } from '../ledger/chain-time.ts'
import { scopeOf } from '../ledger/scope-of.ts'
import { commitText } from '../crypto/commit-text.ts'
import { requireConfirmedDoctor } from '../accounts/require-confirmed-doctor.ts'
import { sealGrantEnvelopes } from './grant-envelopes.ts'
import type { Services } from '../services.ts'

export interface AccessRequestView {
  requestId: Hex
  status: 'pending' | 'approved' | 'denied' | 'revoked' | 'expired'
  requester: { id: string; name: string; address: Address }
  patient: { id: string; name: string; address: Address }
  /** Requested records; null = all the patient's records. */
  recordIds: Hex[] | null
  /** Granted records once approved; null = all. */
  grantedRecordIds: Hex[] | null
  purpose: string
  durationSeconds: number
  expiresAt: string | null
  reason: string | null
  createdAt: string
  decidedAt: string | null
  requestTx: Hex | null
  decisionTx: Hex | null
}

interface RequestRow {
  request_id: Hex
  requester_id: string
  patient_id: string
  record_ids: string | null
  purpose_code: number
  purpose: string
  duration_s: number
  status: 'pending' | 'approved' | 'denied' | 'revoked'
  granted_record_ids: string | null
  expires_at: number | null
  envelopes: string | null
  reason: string | null
  request_tx: Hex | null
  decision_tx: Hex | null
  created_at: number
  decided_at: number | null
}

const DAY = 86_400

function parseDays(days: unknown, max = 365): number {
  const d = typeof days === 'string' ? Number(days) : days
  if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0 || d > max) throw new AppError('INVALID_DURATION', { message: `The duration is more than 0 and at most ${max} days.` })
  return Math.max(3600, Math.round(d * DAY))
}

async function patientRecords(s: Services, patientId: string, recordIds: string[] | null): Promise<RecordRow[]> {
  if (recordIds === null) return await s.db.all(`SELECT * FROM records WHERE patient_id = ? AND state = 'anchored' ORDER BY created_at`, patientId) as RecordRow[]
  const rows: RecordRow[] = []
  for (const raw of recordIds) {
    const row = await s.db.get(`SELECT * FROM records WHERE record_id = ? AND patient_id = ? AND state = 'anchored'`, parseRecordId(raw), patientId) as RecordRow | undefined
    if (!row) throw new AppError('RECORD_NOT_FOUND')
    rows.push(row)
  }
  return rows
}

/**
 * A confirmed doctor asks a patient (of any hospital) for access to all or listed records.
 * @throws AppError FORBIDDEN, DOCTOR_NOT_CONFIRMED, UNKNOWN_PATIENT, RECORD_NOT_FOUND, INVALID_DURATION, LEDGER_*
 */
export async function requestAccess(s: Services, p: { actor: Actor | undefined; patient: string; recordIds?: string[]; purpose: string; days: number; signal?: AbortSignal }): Promise<AccessRequestView> {
  const doctor = requireConfirmedDoctor(p.actor)
  const keys = requireKeys(doctor)
  const purpose = checkText(p.purpose, { field: 'purpose', max: 500, multiline: true })
  const duration = parseDays(p.days)
  // A patient of this node by e-mail, id or address, or of another member hospital by ledger address.
  const patient = await findParty(s, p.patient)
  if (!patient || patient.role !== 'patient') throw new AppError('UNKNOWN_PATIENT')
  const recordIds = p.recordIds && p.recordIds.length > 0 ? (await patientRecords(s, patient.id, p.recordIds)).map((r) => r.record_id) : null
  const requestId = generateRecordId()
  // created_at / decided_at are bookkeeping (ordering, display) on the node's clock; every
  // expiry is the chain's: expires_at comes from the approving block and is compared with chainTime.
  const now = Date.now()
  await s.db.run(`INSERT INTO access_requests (request_id, requester_id, patient_id, record_ids, purpose_code, purpose, duration_s, status, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)`, requestId, doctor.account.id, patient.id, recordIds && JSON.stringify(recordIds), purposes.grant, purpose, duration, now)
  try {
    const receipt = await sendAccessRequest(s.ledger, {
      doctor: keys.ledger,
      requestId,
      patient: patient.address as Address,
      scope: scopeOf(recordIds),
      purpose: purposes.grant,
      purposeHash: commitText(s.nodeKey, requestId, purpose),
      duration: BigInt(duration),
      signal: p.signal,
    })
    await s.db.run('UPDATE access_requests SET request_tx = ? WHERE request_id = ?', receipt.transactionHash, requestId)
  } catch (err) {
    await s.db.run('DELETE FROM access_requests WHERE request_id = ?', requestId)
    throw err
  }
  await s.notify?.({ accountId: patient.id, kind: 'access-requested', by: { accountId: doctor.account.id }, recordCount: recordIds?.length ?? 'all', durationSeconds: duration })
  return getAccessRequest(s, { actor: doctor, requestId })
}

async function loadRequest(s: Services, actor: Actor, requestId: string): Promise<RequestRow> {
  const row = await s.db.get('SELECT * FROM access_requests WHERE request_id = ?', parseRecordId(requestId)) as RequestRow | undefined
  const a = actor.account
  if (!row || (a.id !== row.patient_id && a.id !== row.requester_id && a.role !== 'admin')) throw new AppError('REQUEST_NOT_FOUND')
  return row
}

async function loadOwnPending(s: Services, actor: Actor | undefined, requestId: string): Promise<{ patient: Actor; row: RequestRow }> {
  if (!actor) throw new AppError('UNAUTHENTICATED')
  const row = await loadRequest(s, actor, requestId)
  if (actor.account.id !== row.patient_id) throw new AppError('NOT_REQUEST_PATIENT')
  if (row.status !== 'pending') throw new AppError('REQUEST_NOT_PENDING')
  return { patient: actor, row }
}

/**
 * The patient approves a request addressed to them, optionally narrowing records or duration:
 * the node re-wraps the granted records' data keys for the doctor (an IPFS block referenced on
 * chain) and the approval is sent from the patient's own key.
 * @throws AppError NOT_REQUEST_PATIENT, REQUEST_NOT_PENDING, REQUEST_NOT_FOUND, INVALID_DURATION, RECORD_NOT_FOUND, LEDGER_*
 */
export async function approveAccess(s: Services, p: { actor: Actor | undefined; requestId: string; days?: number; recordIds?: string[]; signal?: AbortSignal }): Promise<AccessRequestView> {
  const { patient, row } = await loadOwnPending(s, p.actor, p.requestId)
  const keys = requireKeys(patient)
  const duration = p.days === undefined ? row.duration_s : parseDays(p.days)
  if (duration > row.duration_s) throw new AppError('INVALID_DURATION', { message: 'An approval may shorten the requested duration, not extend it.' })
  const requested = row.record_ids === null ? null : (JSON.parse(row.record_ids) as Hex[])
  let granted = requested
  if (p.recordIds && p.recordIds.length > 0) {
    granted = p.recordIds.map((r) => parseRecordId(r))
    if (requested !== null && granted.some((r) => !requested.includes(r))) {
      throw new AppError('VALIDATION_FAILED', { message: 'An approval may narrow the requested records, not add others.' })
    }
  }
  const rows = await patientRecords(s, patient.account.id, granted)
  const requester = await s.db.get('SELECT * FROM accounts WHERE id = ?', row.requester_id) as AccountRow
  const [keyDigest] = (await readKeyDigests(s.ledger, { accounts: [requester.address as Address] })).accounts
  const requesterKey = await publicKeyOf(s, requester, p.signal)
  if (bytesToHex(hashSha256(requesterKey)) !== keyDigest) throw new AppError('PUBLIC_KEY_MISMATCH')
  const me = { address: patient.account.address, scheme: patient.account.keyScheme, privateKey: keys.encryptionPrivateKey }
  const dataKeys = []
  for (const r of rows) dataKeys.push({ recordId: r.record_id, dataKey: (await openRecordKeys(s, r, me, p.signal)).dataKey })
  const block = await sealGrantEnvelopes({
    grantId: row.request_id,
    kind: 'grant',
    to: { kind: 'account', address: requester.address as Address, scheme: requester.key_scheme, publicKey: requesterKey },
    keys: dataKeys,
  })
  const envelopes = toHex(digestFromCid(await putRawBlock(s.ipfs, block, { signal: p.signal })))
  const receipt = await sendApproval(s.ledger, { patient: keys.ledger, requestId: row.request_id, scope: granted === requested ? zeroHash : scopeOf(granted), duration: BigInt(duration), envelopes, signal: p.signal })
  const block_ = await s.ledger.client.getBlock({ blockNumber: receipt.blockNumber })
  await s.db.run(`UPDATE access_requests SET status = 'approved', granted_record_ids = ?, duration_s = ?, expires_at = ?, envelopes = ?, decision_tx = ?, decided_at = ? WHERE request_id = ?`, granted && JSON.stringify(granted), duration, Number(block_.timestamp) + duration, envelopes, receipt.transactionHash, Date.now(), row.request_id)
  await s.notify?.({ accountId: row.requester_id, kind: 'access-approved', by: { accountId: patient.account.id }, recordCount: granted?.length ?? 'all', expiresAt: new Date((Number(block_.timestamp) + duration) * 1000) })
  return getAccessRequest(s, { actor: patient, requestId: row.request_id })
}

/**
 * The patient denies a request addressed to them, with a reason (kept off chain; its keyed
 * hash goes on chain).
 * @throws AppError NOT_REQUEST_PATIENT, REQUEST_NOT_PENDING, REQUEST_NOT_FOUND, VALIDATION_FAILED, LEDGER_*
 */
export async function denyAccess(s: Services, p: { actor: Actor | undefined; requestId: string; reason: string; signal?: AbortSignal }): Promise<AccessRequestView> {
  const { patient, row } = await loadOwnPending(s, p.actor, p.requestId)
  const keys = requireKeys(patient)
  const reason = checkText(p.reason, { field: 'reason', max: 500, multiline: true })
  const receipt = await sendDenial(s.ledger, { patient: keys.ledger, requestId: row.request_id, reasonHash: commitText(s.nodeKey, row.request_id, reason), signal: p.signal })
  await s.db.run(`UPDATE access_requests SET status = 'denied', reason = ?, decision_tx = ?, decided_at = ? WHERE request_id = ?`, reason, receipt.transactionHash, Date.now(), row.request_id)
  await s.notify?.({ accountId: row.requester_id, kind: 'access-denied', by: { accountId: patient.account.id } })
  return getAccessRequest(s, { actor: patient, requestId: row.request_id })
}

/**
 * The patient ends a grant before its expiry. Forward-looking: what was read was read.
 * @throws AppError NOT_REQUEST_PATIENT, GRANT_NOT_ACTIVE, REQUEST_NOT_FOUND, LEDGER_*
 */
export async function revokeAccess(s: Services, p: { actor: Actor | undefined; requestId: string; signal?: AbortSignal }): Promise<AccessRequestView> {
  if (!p.actor) throw new AppError('UNAUTHENTICATED')
  const row = await loadRequest(s, p.actor, p.requestId)
  if (p.actor.account.id !== row.patient_id) throw new AppError('NOT_REQUEST_PATIENT')
  if (row.status !== 'approved') throw new AppError('GRANT_NOT_ACTIVE')
  const keys = requireKeys(p.actor)
  const receipt = await sendRevocation(s.ledger, { patient: keys.ledger, requestId: row.request_id, signal: p.signal })
  await s.db.run(`UPDATE access_requests SET status = 'revoked', decision_tx = ?, decided_at = ? WHERE request_id = ?`, receipt.transactionHash, Date.now(), row.request_id)
  await s.notify?.({ accountId: row.requester_id, kind: 'access-revoked', by: { accountId: p.actor.account.id } })
  return getAccessRequest(s, { actor: p.actor, requestId: row.request_id })
}

/** One request the actor is party to (or any, for the admin). @throws AppError REQUEST_NOT_FOUND */
export async function getAccessRequest(s: Services, { actor, requestId }: { actor: Actor; requestId: string }): Promise<AccessRequestView> {
  const now = await chainTime(s.ledger)
  return await toView(s, await loadRequest(s, actor, requestId), now)
}

/** Requests addressed to a patient, or made by a doctor; all for the admin. Newest first. */
export async function listAccessRequests(s: Services, { actor }: { actor: Actor | undefined }): Promise<AccessRequestView[]> {
  const who = requireRole(actor, 'admin', 'doctor', 'patient')
  const column = who.account.role === 'patient' ? 'patient_id' : 'requester_id'
  const rows = who.account.role === 'admin'
    ? await s.db.all('SELECT * FROM access_requests ORDER BY created_at DESC') as RequestRow[]
    : await s.db.all(`SELECT * FROM access_requests WHERE ${column} = ? ORDER BY created_at DESC`, who.account.id) as RequestRow[]
  const now = await chainTime(s.ledger)
  return Promise.all(rows.map((r) => toView(s, r, now)))
}

async function toView(s: Services, r: RequestRow, now: number): Promise<AccessRequestView> {
  const party = async (id: string) => {
    const a = await s.db.get('SELECT id, name, address FROM accounts WHERE id = ?', id) as { id: string; name: string; address: Address }
    return { id: a.id, name: a.name, address: a.address }
  }
  const expired = r.status === 'approved' && r.expires_at !== null && r.expires_at <= now
  return {
    requestId: r.request_id,
    status: expired ? 'expired' : r.status,
    requester: await party(r.requester_id),
    patient: await party(r.patient_id),
    recordIds: r.record_ids === null ? null : JSON.parse(r.record_ids),
    grantedRecordIds: r.status === 'approved' || r.status === 'revoked' ? (r.granted_record_ids === null ? null : JSON.parse(r.granted_record_ids)) : null,
    purpose: r.purpose,
    durationSeconds: r.duration_s,
    expiresAt: r.expires_at === null ? null : new Date(r.expires_at * 1000).toISOString(),
    reason: r.reason,
    createdAt: new Date(r.created_at).toISOString(),
    decidedAt: r.decided_at === null ? null : new Date(r.decided_at).toISOString(),
    requestTx: r.request_tx,
    decisionTx: r.decision_tx,
  }
}
