import type { Hex } from 'viem'
import { findFollowedRequest } from './find-followed-request.ts'
import type { Services } from '../services.ts'

/**
 * A patient of another member revoked a grant made to a doctor of this node: the doctor sees it
 * revoked. A request still pending here is revoked too: its approval is quarantined (waiting
 * for its envelopes), and must not reopen it when it is retried.
 */
export async function applyAccessRevoked(s: Pick<Services, 'db'>, { requestId }: { requestId: Hex }): Promise<void> {
  const id = requestId.toLowerCase()
  const row = await findFollowedRequest(s.db, id)
  if (!row || (row.status !== 'approved' && row.status !== 'pending')) return
  await s.db.run(`UPDATE access_requests SET status = 'revoked' WHERE request_id = ? AND status IN ('approved', 'pending')`, id)
}
