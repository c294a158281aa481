import type { Hex } from 'viem'
import { findFollowedRequest } from './find-followed-request.ts'
import type { Services } from '../services.ts'

/** A patient of another member denied a request made from this node: the doctor sees it denied (a pending request only). */
export async function applyAccessDenied(s: Pick<Services, 'db'>, { requestId, txHash }: { requestId: Hex; txHash: Hex }): Promise<void> {
  const id = requestId.toLowerCase()
  const row = await findFollowedRequest(s.db, id)
  if (!row || row.status !== 'pending') return
  await s.db.run(`UPDATE access_requests SET status = 'denied', decision_tx = ?, decided_at = ? WHERE request_id = ? AND status = 'pending'`, txHash, Date.now(), id)
}
