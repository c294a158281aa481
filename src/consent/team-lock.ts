import type { Hex } from 'viem'
import type { Services } from '../services.ts'
import { oneAtATime } from '../db/one-at-a-time.ts'

/**
 * Runs `fn` after every earlier change to the same team on this node has finished (adding or
 * removing a member, finishing a cut-off removal), so two removals never both take the next key
 * epoch and a member added during a removal gets the new key. Another process acting on the team
 * at the same moment is caught by the team key's (team, epoch) key: `TEAM_BUSY`.
 */
export async function serializeTeamChange<T>(s: Pick<Services, 'db'>, teamId: string, fn: () => Promise<T>): Promise<T> {
  return oneAtATime(s.db, `team:${teamId.toLowerCase()}`, fn)
}

/**
 * Whether a transaction of `purpose` for the team left this node since `since` (ms) and was not
 * refused: then the chain may hold it, and the change must be settled by what the chain says.
 */
export async function teamChangeJournaled(s: Pick<Services, 'db'>, { purpose, teamId, since }: { purpose: 'team-create' | 'team-add' | 'team-remove'; teamId: Hex; since: number }): Promise<boolean> {
  return (await s.db.get(`SELECT 1 FROM journal WHERE purpose = ? AND ref = ? AND state <> 'reverted' AND created_at >= ?`, purpose, teamId, since)) !== undefined
}
