import { resolveAccount } from '../resolve-account.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger record list [--patient EMAIL_OR_ID] [--limit N] [--offset N]`: the records the
 * signed-in user may read.
 * @throws CliError the node's code when it refuses.
 */
export async function recordList(c: Common, f: { patient?: string; limit?: string; offset?: string }): Promise<void> {
  const client = signedIn(c).client
  const q = new URLSearchParams()
  if (f.patient) q.set('patient', (await resolveAccount(client, f.patient)).id)
  if (f.limit) q.set('limit', f.limit)
  if (f.offset) q.set('offset', f.offset)
  const r = await client.json<{ records: { recordId: string; fileName: string; size: number; anchoredAt: string; problem?: string }[]; total: number }>('GET', `/records${q.size ? `?${q}` : ''}`)
  c.out.result(r, () => r.records.map((x) => `${x.recordId}  ${x.anchoredAt ?? ''}  ${String(x.size).padStart(10)}  ${x.problem ? `[${x.problem}]` : x.fileName}`).join('\n') + `\n${r.records.length} of ${r.total} record(s).`)
}
