import type { Db } from '../db/open-database.ts'
import { AppError } from '../errors.ts'
import type { Actor } from './account.ts'
import type { AccountEvent, AccountEventKind } from './record-account-event.ts'

/**
 * The audit log of sign-in factor changes, newest first; the admin's only.
 * @throws AppError UNAUTHENTICATED, FORBIDDEN, VALIDATION_FAILED (limit or offset out of range)
 */
export async function listAccountEvents(
  s: { db: Db },
  { actor, accountId, limit = 100, offset = 0 }: { actor: Actor | undefined; accountId?: string; limit?: number; offset?: number },
): Promise<{ events: AccountEvent[]; total: number; limit: number; offset: number }> {
  if (!actor) throw new AppError('UNAUTHENTICATED')
  if (actor.account.role !== 'admin') throw new AppError('FORBIDDEN')
  // A database cannot bind an integer past 2^53 (a schema's "integer" takes 1e48): refuse it here.
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000 || !Number.isSafeInteger(offset) || offset < 0) {
    throw new AppError('VALIDATION_FAILED', { message: 'limit is 1 to 1000 and offset 0 or more.' })
  }
  const where = accountId ? 'WHERE account_id = ?' : ''
  const args = accountId ? [accountId] : []
  const rows = await s.db.all(`SELECT * FROM account_events ${where} ORDER BY id DESC LIMIT ? OFFSET ?`, ...args, limit, offset) as
    { id: number; account_id: string; kind: AccountEventKind; actor_id: string | null; created_at: number }[]
  const { n } = await s.db.get(`SELECT count(*) AS n FROM account_events ${where}`, ...args) as { n: number }
  return {
    events: rows.map((r) => ({ id: Number(r.id), accountId: r.account_id, kind: r.kind, actorId: r.actor_id, createdAt: new Date(Number(r.created_at)).toISOString() })),
    total: Number(n),
    limit,
    offset,
  }
}
