import type { Db } from '../db/open-database.ts'

/** What the audit log of sign-in factors records. */
export const accountEventKinds = ['mfa-enabled', 'mfa-disabled', 'mfa-reset', 'account-recovered', 'wallet-linked', 'recovery-proposed', 'recovery-approved'] as const
export type AccountEventKind = (typeof accountEventKinds)[number]

/** One change to an account's sign-in factors: whose, what, by whom (absent: the account itself by its recovery code), when. */
export interface AccountEvent {
  id: number
  accountId: string
  kind: AccountEventKind
  actorId: string | null
  createdAt: string
}

/** Writes one row of the audit log of sign-in factors (inside the caller's transaction when given one). */
export async function recordAccountEvent(db: Pick<Db, 'run'>, { accountId, kind, actorId, now = Date.now() }: { accountId: string; kind: AccountEventKind; actorId: string | null; now?: number }): Promise<void> {
  await db.run('INSERT INTO account_events (account_id, kind, actor_id, created_at) VALUES (?, ?, ?, ?)', accountId, kind, actorId, now)
}
