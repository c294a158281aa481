import { CliError } from '../client.ts'
import { resolveAccount } from '../resolve-account.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger record search "TEXT" [--patient P] [--limit N] [--offset N]`: the records the
 * signed-in user may read whose indexed terms match every word of TEXT (README "Search").
 * @throws CliError USAGE without TEXT; the node's code when it refuses.
 */
export async function recordSearch(c: Common, text: string | undefined, f: { patient?: string; limit?: string; offset?: string }): Promise<void> {
  if (!text?.trim()) throw new CliError('USAGE', 'record search needs the words to look for: medledger record search "TEXT" [--patient P]', 2)
  const client = signedIn(c).client
  const q = new URLSearchParams({ q: text })
  if (f.patient) q.set('patient', (await resolveAccount(client, f.patient)).id)
  if (f.limit) q.set('limit', f.limit)
  if (f.offset) q.set('offset', f.offset)
  const r = await client.json<{ records: { recordId: string; fileName: string; size: number; anchoredAt: string; problem?: string }[]; total: number }>('GET', `/records?${q}`)
  c.out.result(r, () => r.records.map((x) => `${x.recordId}  ${x.anchoredAt ?? ''}  ${String(x.size).padStart(10)}  ${x.problem ? `[${x.problem}]` : x.fileName}`).join('\n') + `\n${r.records.length} of ${r.total} record(s) match.`)
}

/**
 * `medledger record search-key rotate`: the signed-in patient's search key is replaced and every
 * record of theirs re-indexed under the new one.
 * @throws CliError USAGE for another verb; the node's code when it refuses (FORBIDDEN: not a patient).
 */
export async function recordSearchKey(c: Common, verb: string | undefined): Promise<void> {
  if (verb !== 'rotate') throw new CliError('USAGE', 'medledger record search-key rotate', 2)
  const r = await signedIn(c).client.json<{ version: number; records: number; tokens: number }>('POST', '/search-key/rotate', {})
  c.out.result(r, () => `Search key rotated (version ${r.version}): ${r.records} record(s) re-indexed, ${r.tokens} token(s).`)
}
