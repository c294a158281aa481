import type { Db } from '../db/open-database.ts'

/** Marks a share revoked now (a share already revoked keeps its first time). */
export async function markShareRevoked(db: Db, shareId: string): Promise<void> {
  await db.run('UPDATE shares SET revoked_at = ? WHERE share_id = ? AND revoked_at IS NULL', Date.now(), shareId.toLowerCase())
}
