import type { Db } from '../db/open-database.ts'

/** An access request whose requester is an active account of this node, as the follower updates it. */
export interface FollowedRequest { status: string; record_ids: string | null; requester_id: string }

/** The access request with this id made from this node (by an active account), or undefined. */
export async function findFollowedRequest(db: Db, requestId: string): Promise<FollowedRequest | undefined> {
  return db.get<FollowedRequest>(`SELECT q.status, q.record_ids, q.requester_id FROM access_requests q JOIN accounts d ON d.id = q.requester_id
    WHERE q.request_id = ? AND d.state = 'active'`, requestId.toLowerCase())
}
