import type { Address, Hex } from 'viem'
import { parseRecordId } from '../crypto/tokens.ts'
import type { Actor } from '../accounts/account.ts'
import type { RecordRow } from '../records/record.ts'
import { AppError } from '../errors.ts'
import type { Services } from '../services.ts'

// What the access-request flows (request-access, approve-access, deny-access, revoke-access,
// get-access-request, list-access-requests) share: the view, the row, and how one is loaded.

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

/** An access request as the database holds it. */
export interface RequestRow {
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

/**
 * A duration in days (a number, or a number as text) as seconds, at least an hour.
 * @throws AppError INVALID_DURATION
 */
export function parseDays(days: unknown, max = 365): number {
  const d = typeof days === 'string' ? Number(days) : days
  if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0 || d > max) throw new AppError('INVALID_DURATION', { message: `The duration is more than 0 and at most ${max} days.` })
  return Math.max(3600, Math.round(d * DAY))
}

/**
 * A patient's anchored records: all (null), or the listed ones, each of which must be theirs.
 * @throws AppError RECORD_NOT_FOUND
 */
export async function patientRecords(s: Services, patientId: string, recordIds: string[] | null): Promise<RecordRow[]> {
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
 * A request the actor is party to (requester or patient), or any for the admin.
 * @throws AppError REQUEST_NOT_FOUND
 */
export async function loadRequest(s: Services, actor: Actor, requestId: string): Promise<RequestRow> {
  const row = await s.db.get('SELECT * FROM access_requests WHERE request_id = ?', parseRecordId(requestId)) as RequestRow | undefined
  const a = actor.account
  if (!row || (a.id !== row.patient_id && a.id !== row.requester_id && a.role !== 'admin')) throw new AppError('REQUEST_NOT_FOUND')
  return row
}

/**
 * A pending request addressed to the actor, who must be its patient.
 * @throws AppError UNAUTHENTICATED, REQUEST_NOT_FOUND, NOT_REQUEST_PATIENT, REQUEST_NOT_PENDING
 */
export async function loadOwnPending(s: Services, actor: Actor | undefined, requestId: string): Promise<{ patient: Actor; row: RequestRow }> {
  if (!actor) throw new AppError('UNAUTHENTICATED')
  const row = await loadRequest(s, actor, requestId)
  if (actor.account.id !== row.patient_id) throw new AppError('NOT_REQUEST_PATIENT')
  if (row.status !== 'pending') throw new AppError('REQUEST_NOT_PENDING')
  return { patient: actor, row }
}

/** The view of a request, `expired` once its grant ended by the chain's clock `now` (seconds). */
export async function toView(s: Services, r: RequestRow, now: number): Promise<AccessRequestView> {
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
