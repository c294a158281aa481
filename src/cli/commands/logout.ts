import { CliError, createClient, dropSession, pickSession } from '../client.ts'
import type { Common } from '../session.ts'

/**
 * `medledger logout [--as E]`: ends the session on the node (best effort) and forgets it here.
 * @throws CliError UNAUTHENTICATED when no session is kept.
 */
export async function logout(c: Common): Promise<void> {
  const s = pickSession(c.api, c.as)
  if (!s) throw new CliError('UNAUTHENTICATED', 'No session to end.')
  await createClient(c.api, s.token).request('POST', '/auth/logout').catch(() => undefined)
  dropSession(c.api, s.email)
  c.out.result({ ok: true, email: s.email }, () => `Signed out ${s.email}.`)
}
