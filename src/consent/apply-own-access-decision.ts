import { zeroHash, type Hex } from 'viem'
import { readGrantRecordIds } from './read-grant-record-ids.ts'
import type { Services } from '../services.ts'

/** A patient's decision on an access request as its event names it (`AccessApproved` / `AccessDenied` / `AccessRevoked`). */
export type OwnAccessDecision =
  | { kind: 'approved'; requestId: Hex; scope: Hex; envelopes: Hex; expiresAt: number; txHash: Hex; fetchMs: number }
  | { kind: 'denied' | 'revoked'; requestId: Hex; txHash: Hex }

/**
 * A decision this node's patient sent (approve, deny, revoke), written by the follower when the
 * flow that sent it stopped before writing it (killed after the send): the request moves from
 * pending (from approved, for a revocation) as the chain says, without a denial's reason text.
 * Whichever of this and the flow moves the row tells the requester, once; a row already moved
 * changes nothing.
 * @throws AppError RECORD_UNAVAILABLE, RECORD_INTEGRITY (an approval's envelopes block)
 */
export async function applyOwnAccessDecision(s: Pick<Services, 'db' | 'ipfs' | 'notify'>, d: OwnAccessDecision): Promise<void> {
  const requestId = d.requestId.toLowerCase() as Hex
  const row = await s.db.get<{ status: string; record_ids: string | null; requester_id: string; patient_id: string }>(
    'SELECT status, record_ids, requester_id, patient_id FROM access_requests WHERE request_id = ?', requestId)
  if (!row) return
  const by = { accountId: row.patient_id }
  if (d.kind === 'approved') {
    if (row.status !== 'pending') return
    const envelopes = d.envelopes.toLowerCase() as Hex
    const listed = await readGrantRecordIds(s, { envelopes, grantId: requestId, fetchMs: d.fetchMs })
    const granted = d.scope.toLowerCase() === zeroHash ? row.record_ids : JSON.stringify(listed)
    const moved = await s.db.run(`UPDATE access_requests SET status = 'approved', granted_record_ids = ?, expires_at = ?, envelopes = ?, decision_tx = ?, decided_at = ?
      WHERE request_id = ? AND status = 'pending'`, granted, d.expiresAt, envelopes, d.txHash, Date.now(), requestId)
    if (moved.changes === 0) return
    const recordCount = granted === null ? 'all' as const : (JSON.parse(granted) as Hex[]).length
    await s.notify?.({ accountId: row.requester_id, kind: 'access-approved', by, recordCount, expiresAt: new Date(d.expiresAt * 1000) })
    return
  }
  const from = d.kind === 'denied' ? 'pending' : 'approved'
  const moved = await s.db.run('UPDATE access_requests SET status = ?, decision_tx = ?, decided_at = ? WHERE request_id = ? AND status = ?',
    d.kind, d.txHash, Date.now(), requestId, from)
  if (moved.changes > 0) await s.notify?.({ accountId: row.requester_id, kind: d.kind === 'denied' ? 'access-denied' : 'access-revoked', by })
}
