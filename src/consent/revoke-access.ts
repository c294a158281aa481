import { sendRevocation } from '../ledger/consent/send-revocation.ts'
import { requireKeys, type Actor } from '../accounts/account.ts'
import { AppError } from '../errors.ts'
import { loadRequest, type AccessRequestView } from './access-request.ts'
import { getAccessRequest } from './get-access-request.ts'
import type { Services } from '../services.ts'

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
  // The follower applies this node's own AccessRevoked too: whichever moves the grant from approved tells the doctor.
  const moved = await s.db.run(`UPDATE access_requests SET status = 'revoked', decision_tx = ?, decided_at = ? WHERE request_id = ? AND status = 'approved'`, receipt.transactionHash, Date.now(), row.request_id)
  if (moved.changes > 0) await s.notify?.({ accountId: row.requester_id, kind: 'access-revoked', by: { accountId: p.actor.account.id } })
  return getAccessRequest(s, { actor: p.actor, requestId: row.request_id })
}
