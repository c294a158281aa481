import type { Address, Hex } from 'viem'
import { sendErasureRequest } from '../ledger/erasure/send-erasure-request.ts'
import { sendErasureDecision } from '../ledger/erasure/send-erasure-decision.ts'
import { commitText } from '../crypto/commit-text.ts'
import { generateRecordId, parseRecordId } from '../crypto/tokens.ts'
import { checkText } from '../text/check-text.ts'
import { requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { erasedRecord } from '../records/forget-erased-record.ts'
import type { RecordRow } from '../records/record.ts'
import { AppError } from '../errors.ts'
import { shredRecord } from './shred-record.ts'
import type { Services } from '../services.ts'

/** An erasure request as the patient and the hospital's staff see it. */
export interface ErasureView {
  erasureId: Hex
  recordId: Hex
  status: 'pending' | 'confirmed' | 'rejected'
  patient: { id: string; name: string; address: Address }
  hospitalId: string
  /** The patient's reason (off chain; null when the request was made on another node). */
  reason: string | null
  /** The staff's reason for a rejection. */
  decisionReason: string | null
  requestTx: Hex | null
  decisionTx: Hex | null
  createdAt: string
  decidedAt: string | null
}

interface ErasureRow {
  erasure_id: Hex
  record_id: Hex
  patient_id: string
  hospital_id: string
  status: ErasureView['status']
  reason: string | null
  decision_reason: string | null
  decided_by: string | null
  request_tx: Hex | null
  decision_tx: Hex | null
  created_at: number
  decided_at: number | null
}

const selectView = `SELECT e.*, a.name AS patient_name, a.address AS patient_address FROM erasures e JOIN accounts a ON a.id = e.patient_id`

function toView(r: ErasureRow & { patient_name: string; patient_address: Address }): ErasureView {
  return {
    erasureId: r.erasure_id,
    recordId: r.record_id,
    status: r.status,
    patient: { id: r.patient_id, name: r.patient_name, address: r.patient_address },
    hospitalId: r.hospital_id,
    reason: r.reason,
    decisionReason: r.decision_reason,
    requestTx: r.request_tx,
    decisionTx: r.decision_tx,
    createdAt: new Date(Number(r.created_at)).toISOString(),
    decidedAt: r.decided_at === null ? null : new Date(Number(r.decided_at)).toISOString(),
  }
}

async function viewOf(s: Pick<Services, 'db'>, erasureId: Hex): Promise<ErasureView> {
  return toView(await s.db.get(`${selectView} WHERE e.erasure_id = ?`, erasureId) as ErasureRow & { patient_name: string; patient_address: Address })
}

/**
 * The patient asks to erase one of their records, with a reason (kept here; its keyed hash goes
 * on chain from the patient's own key). The record reads as before until the hospital decides.
 * The hospital's staff on this node are told (no reason, no record content in the message).
 * @throws AppError FORBIDDEN (not a patient), RECORD_NOT_FOUND (not theirs), RECORD_ERASED,
 *   ERASURE_PENDING, VALIDATION_FAILED (reason), KEYS_LOCKED, LEDGER_*
 */
export async function requestErasure(s: Services, p: { actor: Actor | undefined; recordId: string; reason: unknown; signal?: AbortSignal }): Promise<ErasureView> {
  const actor = requireRole(p.actor, 'patient')
  const recordId = parseRecordId(p.recordId)
  const row = await s.db.get<RecordRow>(`SELECT * FROM records WHERE record_id = ? AND patient_id = ? AND state = 'anchored'`, recordId, actor.account.id)
  if (!row) {
    const tomb = await erasedRecord(s, recordId)
    throw new AppError(tomb?.patient_id === actor.account.id ? 'RECORD_ERASED' : 'RECORD_NOT_FOUND')
  }
  if (await s.db.get(`SELECT 1 AS x FROM erasures WHERE record_id = ? AND status = 'pending'`, recordId)) throw new AppError('ERASURE_PENDING')
  const reason = checkText(p.reason, { field: 'reason', max: 500, multiline: true })
  const keys = requireKeys(actor)
  const parties = await s.db.get('SELECT a.address AS patient, b.address AS author, h.address AS hospital FROM accounts a, accounts b, hospitals h WHERE a.id = ? AND b.id = ? AND h.id = ?', row.patient_id, row.author_id, row.hospital_id) as { patient: Address; author: Address; hospital: Address }
  const proof = await s.db.get<{ root: Hex; proof: string; signature: Hex }>('SELECT root, proof, signature FROM record_proofs WHERE record_id = ?', recordId)
  const erasureId = generateRecordId()
  const receipt = await sendErasureRequest(s.ledger, {
    patient: keys.ledger, erasureId, reasonHash: commitText(s.nodeKey, erasureId, reason), signal: p.signal,
    leaf: { recordId, ...parties, digest: row.digest, envelopes: row.envelopes },
    batch: proof && { root: proof.root, proof: JSON.parse(proof.proof) as Hex[], signature: proof.signature },
  })
  // The follower applies this node's own ErasureRequested too (a node stopped before this point
  // keeps the request, without its reason): whichever writes the row first tells the staff.
  const written = await s.db.run(`INSERT INTO erasures (erasure_id, record_id, patient_id, hospital_id, status, reason, request_tx, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)
    ON CONFLICT (erasure_id) DO NOTHING`, erasureId, recordId, row.patient_id, row.hospital_id, reason, receipt.transactionHash, Date.now())
  if (written.changes > 0) await notifyStaff(s, row.hospital_id, actor.account.id)
  else await s.db.run('UPDATE erasures SET reason = ? WHERE erasure_id = ?', reason, erasureId)
  return viewOf(s, erasureId)
}

/**
 * Staff of the record's hospital (or the admin) decide an erasure, on chain from their own key.
 * Confirmed: the tombstone is anchored and the record is shredded on this node at once (other
 * nodes follow the tombstone). Rejected: the record stays; the reason is kept here, its keyed
 * hash goes on chain. The patient is told either way (no reason in the message).
 * @throws AppError FORBIDDEN, ERASURE_NOT_FOUND, ERASURE_NOT_PENDING, VALIDATION_FAILED, KEYS_LOCKED, LEDGER_*
 */
export async function decideErasure(s: Services, p: { actor: Actor | undefined; erasureId: string; confirm: boolean; reason?: unknown; signal?: AbortSignal }): Promise<ErasureView> {
  const by = requireRole(p.actor, 'admin', 'staff')
  const erasureId = parseErasureId(p.erasureId)
  const row = await s.db.get<ErasureRow>('SELECT * FROM erasures WHERE erasure_id = ?', erasureId)
  if (!row || (by.account.role === 'staff' && row.hospital_id !== by.account.hospitalId)) throw new AppError('ERASURE_NOT_FOUND')
  if (row.status !== 'pending') throw new AppError('ERASURE_NOT_PENDING')
  const reason = p.confirm ? null : checkText(p.reason, { field: 'reason', max: 500, multiline: true })
  const receipt = await sendErasureDecision(s.ledger, {
    by: requireKeys(by).ledger, erasureId, signal: p.signal,
    ...(reason === null ? {} : { rejectReasonHash: commitText(s.nodeKey, erasureId, reason) }),
  })
  // The follower applies this node's own decision too (a node stopped before this point keeps it,
  // without a rejection's reason): whichever moves the row from pending tells the patient.
  const decided = await s.db.run(`UPDATE erasures SET status = ?, decision_reason = ?, decided_by = ?, decision_tx = ?, decided_at = ? WHERE erasure_id = ? AND status = 'pending'`,
    p.confirm ? 'confirmed' : 'rejected', reason, by.account.id, receipt.transactionHash, Date.now(), erasureId)
  if (decided.changes === 0) await s.db.run('UPDATE erasures SET decision_reason = ?, decided_by = ? WHERE erasure_id = ?', reason, by.account.id, erasureId)
  if (p.confirm) await shredRecord(s, { recordId: row.record_id, erasureId, txHash: receipt.transactionHash, signal: p.signal })
  if (decided.changes > 0) await s.notify?.({ accountId: row.patient_id, kind: p.confirm ? 'erasure-confirmed' : 'erasure-rejected', by: { accountId: by.account.id } })
  return viewOf(s, erasureId)
}

/**
 * Erasure requests, newest first: the admin sees all, staff their hospital's, a patient their own.
 * @throws AppError FORBIDDEN (doctors, researchers), UNAUTHENTICATED
 */
export async function listErasures(s: Pick<Services, 'db'>, p: { actor: Actor | undefined; status?: ErasureView['status'] }): Promise<ErasureView[]> {
  const who = requireRole(p.actor, 'admin', 'staff', 'patient')
  const [where, args] = who.account.role === 'admin' ? ['1 = 1', []] : who.account.role === 'staff' ? ['e.hospital_id = ?', [who.account.hospitalId]] : ['e.patient_id = ?', [who.account.id]]
  const status = p.status === undefined ? '' : ' AND e.status = ?'
  const rows = await s.db.all(`${selectView} WHERE ${where}${status} ORDER BY e.created_at DESC`, ...args, ...(p.status === undefined ? [] : [p.status])) as (ErasureRow & { patient_name: string; patient_address: Address })[]
  return rows.map(toView)
}

/**
 * An erasure request seen on the chain (made on another node): mirrored here when this node
 * knows the record, so that staff of its hospital (or the admin) here can decide it.
 */
export async function applyErasureRequested(s: Services, e: { erasureId: Hex; recordId: Hex; patient: Address; hospital: Address; txHash: Hex }): Promise<void> {
  const erasureId = e.erasureId.toLowerCase() as Hex
  if (await s.db.get('SELECT 1 AS x FROM erasures WHERE erasure_id = ?', erasureId)) return
  const row = await s.db.get<{ patient_id: string; hospital_id: string }>('SELECT patient_id, hospital_id FROM records WHERE record_id = ?', e.recordId.toLowerCase())
  if (!row) return
  const written = await s.db.run(`INSERT INTO erasures (erasure_id, record_id, patient_id, hospital_id, status, request_tx, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (erasure_id) DO NOTHING`,
    erasureId, e.recordId.toLowerCase(), row.patient_id, row.hospital_id, e.txHash, Date.now())
  if (written.changes > 0) await notifyStaff(s, row.hospital_id, row.patient_id)
}

/** A decision seen on the chain (made on another node): the mirrored request follows it, and the patient is told. */
export async function applyErasureDecided(s: Services, e: { erasureId: Hex; confirmed: boolean; by: Address; txHash: Hex }): Promise<void> {
  const erasureId = e.erasureId.toLowerCase() as Hex
  const row = await s.db.get<ErasureRow>(`SELECT * FROM erasures WHERE erasure_id = ? AND status = 'pending'`, erasureId)
  if (!row) return
  const moved = await s.db.run(`UPDATE erasures SET status = ?, decided_by = ?, decision_tx = ?, decided_at = ? WHERE erasure_id = ? AND status = 'pending'`,
    e.confirmed ? 'confirmed' : 'rejected', e.by.toLowerCase(), e.txHash, Date.now(), erasureId)
  if (moved.changes === 0) return // decided meanwhile by the local flow, which tells the patient
  const by = await s.db.get<{ id: string }>('SELECT id FROM accounts WHERE address = ?', e.by.toLowerCase())
  const party = by ? { accountId: by.id } : { hospitalId: row.hospital_id }
  await s.notify?.({ accountId: row.patient_id, kind: e.confirmed ? 'erasure-confirmed' : 'erasure-rejected', by: party })
}

/** Tells the active staff of `hospitalId` on this node that a patient asked for an erasure. */
async function notifyStaff(s: Pick<Services, 'db' | 'notify'>, hospitalId: string, patientId: string): Promise<void> {
  const staff = await s.db.all<{ id: string }>(`SELECT id FROM accounts WHERE role = 'staff' AND hospital_id = ? AND state = 'active'`, hospitalId)
  for (const st of staff) await s.notify?.({ accountId: st.id, kind: 'erasure-requested', by: { accountId: patientId } })
}

/**
 * An erasure id: 32 bytes as 64 hexadecimal characters.
 * @throws AppError ERASURE_NOT_FOUND when it is not one
 */
function parseErasureId(id: string): Hex {
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(id)) throw new AppError('ERASURE_NOT_FOUND')
  return `0x${id.replace(/^0x/, '').toLowerCase()}` as Hex
}
