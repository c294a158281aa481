import { CliError } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger researcher pending`: researchers who signed up and wait for confirmation.
 * @throws CliError the node's code when it refuses.
 */
export async function researcherPending(c: Common): Promise<void> {
  const r = await signedIn(c).client.json<{ researchers: { id: string; email: string; name: string }[] }>('GET', '/researchers/pending')
  c.out.result(r, () => r.researchers.map((d) => `${d.id}  ${d.email}  ${d.name}`).join('\n') || 'No researchers waiting.')
}

/**
 * `medledger researcher confirm ID` and `researcher reject ID --reason TEXT`.
 * @throws CliError USAGE without ID (or a rejection without --reason); the node's code when it refuses.
 */
export async function researcherDecide(c: Common, id: string | undefined, decision: 'confirm' | 'reject', f: { reason?: string }): Promise<void> {
  if (!id || (decision === 'reject' && !f.reason)) throw new CliError('USAGE', decision === 'reject' ? 'researcher reject needs ID --reason TEXT' : 'researcher confirm needs ID', 2)
  const r = await signedIn(c).client.json<{ id: string; email: string; status: string }>('POST', `/researchers/${encodeURIComponent(id)}/${decision}`, decision === 'reject' ? { reason: f.reason } : undefined)
  c.out.result(r, () => `${r.email}: ${r.status}.`)
}
