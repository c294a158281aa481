import { CliError } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger doctor pending`: doctors who signed up and wait for confirmation.
 * @throws CliError the node's code when it refuses.
 */
export async function doctorPending(c: Common): Promise<void> {
  const r = await signedIn(c).client.json<{ doctors: { id: string; email: string; name: string; licence: string | null }[] }>('GET', '/doctors/pending')
  c.out.result(r, () => r.doctors.map((d) => `${d.id}  ${d.email}  ${d.name}  licence ${d.licence ?? '-'}`).join('\n') || 'No doctors waiting.')
}

/**
 * `medledger doctor confirm ID` and `doctor reject ID --reason TEXT`.
 * @throws CliError USAGE without ID (or a rejection without --reason); the node's code when it refuses.
 */
export async function doctorDecide(c: Common, id: string | undefined, decision: 'confirm' | 'reject', f: { reason?: string }): Promise<void> {
  if (!id || (decision === 'reject' && !f.reason)) throw new CliError('USAGE', decision === 'reject' ? 'doctor reject needs ID --reason TEXT' : 'doctor confirm needs ID', 2)
  const r = await signedIn(c).client.json<{ id: string; email: string; status: string }>('POST', `/doctors/${encodeURIComponent(id)}/${decision}`, decision === 'reject' ? { reason: f.reason } : undefined)
  c.out.result(r, () => `${r.email}: ${r.status}.`)
}
