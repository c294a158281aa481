import { CliError } from '../client.ts'
import { resolveAccount } from '../resolve-account.ts'
import { signedIn, type Common } from '../session.ts'

interface AuditEntry { at: string; event: string; actor: { name: string | null; address: string }; recordId: string | null; purpose: string | null; why: string | null; emergency: boolean }

/**
 * `medledger audit --patient P | --record ID`: the ledger's audit trail of a patient or a record.
 * @throws CliError USAGE without exactly one of the two flags; the node's code when it refuses.
 */
export async function audit(c: Common, f: { patient?: string; record?: string }): Promise<void> {
  if (Boolean(f.patient) === Boolean(f.record)) throw new CliError('USAGE', 'audit needs --patient P or --record ID', 2)
  const client = signedIn(c).client
  const q = new URLSearchParams()
  if (f.patient) q.set('patient', (await resolveAccount(client, f.patient)).id)
  if (f.record) q.set('record', f.record)
  const r = await client.json<{ entries: AuditEntry[] }>('GET', `/audit?${q}`)
  c.out.result(r, () => r.entries.map((e) => `${e.at}  ${e.emergency ? '!! ' : '   '}${e.event.padEnd(22)} ${e.actor.name ?? e.actor.address}${e.recordId ? `  record ${e.recordId.slice(0, 10)}…` : ''}${e.purpose ? `  (${e.purpose})` : ''}${e.why ? `  "${e.why}"` : ''}`).join('\n') || 'No entries.')
}
