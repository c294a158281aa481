import type { Db } from '../db/open-database.ts'
import { requireRole, type Actor } from '../accounts/account.ts'
import { parseRecordId } from '../crypto/tokens.ts'
import { AppError } from '../errors.ts'
import { selectReplicas, toReplica, type Replica, type ReplicaRow } from './replica.ts'

/**
 * Where one anchored record is kept, as far as this node is concerned; the admin's only.
 * @throws AppError UNAUTHENTICATED, FORBIDDEN, INVALID_RECORD_ID, RECORD_NOT_FOUND
 */
export async function getReplica(s: { db: Db }, { actor, recordId }: { actor: Actor | undefined; recordId: string }): Promise<Replica> {
  requireRole(actor, 'admin')
  const row = await s.db.get<ReplicaRow>(`${selectReplicas} AND r.record_id = ?`, parseRecordId(recordId))
  if (!row) throw new AppError('RECORD_NOT_FOUND')
  return toReplica(row)
}
