import { zeroHash, type Hex } from 'viem'
import { findFollowedRequest } from './find-followed-request.ts'
import { readGrantRecordIds } from './read-grant-record-ids.ts'
import type { Services } from '../services.ts'

/** An approval as its `AccessApproved` event names it. */
export interface ApprovedAccess { requestId: Hex; scope: Hex; envelopes: Hex; expiresAt: number; txHash: Hex; fetchMs: number }

/**
 * A patient of another member approved a request made from this node: the doctor sees the
 * grant, over the records its envelopes block covers (fetched within `fetchMs`, and so held here,
 * whatever the grant's scope). Only a
 * pending request changes; anything else is left as it is.
 * @throws AppError RECORD_UNAVAILABLE, RECORD_INTEGRITY (the envelopes block, for a listed grant)
 */
export async function applyAccessApproved(s: Pick<Services, 'db' | 'ipfs'>, a: ApprovedAccess): Promise<void> {
  const requestId = a.requestId.toLowerCase() as Hex
  const row = await findFollowedRequest(s.db, requestId)
  if (!row || row.status !== 'pending') return
  const envelopes = a.envelopes.toLowerCase() as Hex
  // Fetched for an all-records grant too, so that this node holds the block: an erasure rewrites
  // the grant blocks each node holds, and a block fetched only later would be gone by then.
  const listed = await readGrantRecordIds(s, { envelopes, grantId: requestId, fetchMs: a.fetchMs })
  const granted = a.scope.toLowerCase() === zeroHash ? row.record_ids : JSON.stringify(listed)
  await s.db.run(`UPDATE access_requests SET status = 'approved', granted_record_ids = ?, expires_at = ?, envelopes = ?, decision_tx = ?, decided_at = ?
    WHERE request_id = ? AND status = 'pending'`, granted, a.expiresAt, envelopes, a.txHash, Date.now(), requestId)
}
