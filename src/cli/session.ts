import { CliError, createClient, pickSession, type ApiClient } from './client.ts'
import type { Out } from './io.ts'

/** What every client command gets: the node's API URL, the `--as` e-mail, and the output. */
export interface Common { api: string; as?: string; out: Out }

/**
 * A client of the node signed in as `--as E`, or as the last e-mail that signed in on this API.
 * @throws CliError UNAUTHENTICATED when no such session is kept.
 */
export function signedIn(c: Common): { client: ApiClient; email: string } {
  const s = pickSession(c.api, c.as)
  if (!s) throw new CliError('UNAUTHENTICATED', c.as ? `No session for ${c.as} on ${c.api}: run \`medledger login --email ${c.as}\`.` : `Not signed in on ${c.api}: run \`medledger login --email E\`.`)
  return { client: createClient(c.api, s.token), email: s.email }
}
