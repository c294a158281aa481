import { signedIn, type Common } from '../session.ts'

/**
 * `medledger account-events [--account ID]`: the admin's audit log of sign-in factor changes, newest first.
 * @throws CliError the node's code when it refuses.
 */
export async function accountEvents(c: Common, f: { account?: string; limit?: string; offset?: string }): Promise<void> {
  const q = new URLSearchParams()
  if (f.account) q.set('account', f.account)
  if (f.limit) q.set('limit', f.limit)
  if (f.offset) q.set('offset', f.offset)
  const r = await signedIn(c).client.json<{ events: { id: number; accountId: string; kind: string; actorId: string | null; createdAt: string }[]; total: number }>('GET', `/account-events${q.size ? `?${q}` : ''}`)
  c.out.result(r, () => r.events.map((e) => `${e.createdAt}  ${e.kind.padEnd(17)}  account ${e.accountId}  by ${e.actorId ?? 'the account (recovery code)'}`).join('\n') || 'No account events.')
}
