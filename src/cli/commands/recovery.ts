import { CliError } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

interface RecoveryAnswer {
  recoveryId: string
  patientId: string
  oldAddress: string
  newAddress: string
  state: 'proposed' | 'approved'
  envelopes: string | null
  rewrapped: number | null
  notRewrapped: number | null
}

/**
 * `medledger recovery start PATIENT_ID --verified-by-id TEXT` (staff of the patient's hospital):
 * prints the recovery id and the one-time code to hand to the patient in person.
 * @throws CliError USAGE without PATIENT_ID or --verified-by-id; the node's code when it refuses.
 */
export async function recoveryStart(c: Common, patient: string | undefined, f: { 'verified-by-id'?: string }): Promise<void> {
  if (!patient || !f['verified-by-id']) throw new CliError('USAGE', 'recovery start needs PATIENT_ID --verified-by-id TEXT', 2)
  const r = await signedIn(c).client.json<{ recovery: RecoveryAnswer; code: string }>('POST', '/recoveries', { patient, verifiedById: f['verified-by-id'] })
  c.out.result(r, () => `Recovery ${r.recovery.recoveryId} proposed for ${r.recovery.patientId}. One-time code (hand it to the patient in person; it works once a second staff member approves): ${r.code}`)
}

/**
 * `medledger recovery approve RECOVERY_ID` (a second staff member of the patient's hospital, or the admin).
 * @throws CliError USAGE without RECOVERY_ID; the node's code when it refuses.
 */
export async function recoveryApprove(c: Common, id: string | undefined): Promise<void> {
  if (!id) throw new CliError('USAGE', 'recovery approve needs RECOVERY_ID', 2)
  const r = await signedIn(c).client.json<RecoveryAnswer>('POST', `/recoveries/${encodeURIComponent(id)}/approve`)
  c.out.result(r, () => `Recovery ${r.recoveryId} approved: ${r.oldAddress} retired, ${r.newAddress} is the patient now; ${r.rewrapped} record(s) re-wrapped${r.notRewrapped ? `, ${r.notRewrapped} split into threshold shares not re-wrapped` : ''}.`)
}

/** `medledger recovery list`: staff see their hospital's recoveries, the admin all. */
export async function recoveryList(c: Common): Promise<void> {
  const r = await signedIn(c).client.json<{ recoveries: RecoveryAnswer[] }>('GET', '/recoveries')
  c.out.result(r, () => r.recoveries.map((x) => `${x.recoveryId}  ${x.state.padEnd(8)}  ${x.patientId}`).join('\n') || 'No recoveries.')
}
