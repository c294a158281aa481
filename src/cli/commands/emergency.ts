import { CliError } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger emergency open --patient P --reason TEXT`: break-glass access, recorded on the ledger.
 * @throws CliError USAGE without --patient or --reason; the node's code when it refuses.
 */
export async function emergencyOpen(c: Common, f: { patient?: string; reason?: string }): Promise<void> {
  if (!f.patient || f.reason === undefined) throw new CliError('USAGE', 'emergency open needs --patient P --reason TEXT', 2)
  const r = await signedIn(c).client.json<{ emergencyId: string; expiresAt: string; records: number }>('POST', '/emergencies', { patient: f.patient, reason: f.reason })
  c.out.result(r, () => `EMERGENCY ACCESS ${r.emergencyId}: recorded on the ledger, the patient is notified and admins will review it.\n${r.records} record(s) open to you until ${r.expiresAt}.`)
}

/**
 * `medledger emergency list`: the emergency accesses the signed-in user may see.
 * @throws CliError the node's code when it refuses.
 */
export async function emergencyList(c: Common): Promise<void> {
  const r = await signedIn(c).client.json<{ emergencies: { emergencyId: string; doctor: { name: string }; patient: { name: string }; reason: string; live: boolean; createdAt: string }[] }>('GET', '/emergencies')
  c.out.result(r, () => r.emergencies.map((e) => `${e.createdAt}  ${e.live ? 'LIVE ' : 'ended'}  ${e.doctor.name} → ${e.patient.name}  "${e.reason}"`).join('\n') || 'No emergency accesses.')
}
