import { commitText } from '../crypto/commit-text.ts'
import { sendDenial } from '../ledger/consent/send-denial.ts'
import { requireKeys, type Actor } from '../accounts/account.ts'
import { checkText } from '../text/check-text.ts'
import { loadOwnPending, type AccessRequestView } from './access-request.ts'
import { getAccessRequest } from './get-access-request.ts'
import type { Services } from '../services.ts'

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
  // The follower applies this node's own AccessDenied too (without the reason): whichever moves the request from pending tells the doctor.
  const moved = await s.db.run(`UPDATE access_requests SET status = 'denied', reason = ?, decision_tx = ?, decided_at = ? WHERE request_id = ? AND status = 'pending'`, reason, receipt.transactionHash, Date.now(), row.request_id)
  if (moved.changes === 0) await s.db.run('UPDATE access_requests SET reason = ? WHERE request_id = ?', reason, row.request_id)
  else await s.notify?.({ accountId: row.requester_id, kind: 'access-denied', by: { accountId: patient.account.id } })
  return getAccessRequest(s, { actor: patient, requestId: row.request_id })
}
