import { getMeta, setMeta, type Db } from '../db/open-database.ts'

/** Where the follower keeps the last block it applied (follower.ts's META_KEY). */
const FOLLOW_KEY = 'follow.block'

/**
 * Moves the follower's saved position back to just before `block` when it is at or past it: a
 * chain that lost its tail and got the journal's transactions again may hold them in fewer
 * blocks than before, below the position the follower had reached, where it would never look.
 * Its handlers are idempotent, so the blocks from `block` on are applied again harmlessly; this
 * node's own events among them are what write the rows a flow killed after its send did not.
 */
export async function rewindFollower(db: Db, block: number): Promise<void> {
  const saved = await getMeta(db, FOLLOW_KEY)
  if (saved !== undefined && Number(saved) >= block) await setMeta(db, FOLLOW_KEY, String(block - 1))
}
