import type { Db } from '../db/open-database.ts'
import { requireRole, type Actor } from '../accounts/account.ts'
import { selectReplicas, toReplica, type Replica, type ReplicaRow } from './replica.ts'

/**
 * The records this node keeps for other members (wanted and pinned replicas), newest first; the admin's only.
 * @throws AppError UNAUTHENTICATED, FORBIDDEN
 */
export async function listReplicas(s: { db: Db }, { actor, limit = 100 }: { actor: Actor | undefined; limit?: number }): Promise<Replica[]> {
  requireRole(actor, 'admin')
  const rows = await s.db.all<ReplicaRow>(`${selectReplicas} AND p.record_id IS NOT NULL ORDER BY p.seen_at DESC LIMIT ?`, limit)
  return rows.map(toReplica)
}
