import type { Db } from '../db/open-database.ts'

/** Marks a single-use share token used now (a share already used keeps its first time). */
export async function markShareUsed(db: Db, shareId: string): Promise<void> {
  await db.run('UPDATE shares SET used_at = ? WHERE share_id = ? AND used_at IS NULL', Date.now(), shareId.toLowerCase())
}
