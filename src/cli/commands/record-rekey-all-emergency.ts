import { signedIn, type Common } from '../session.ts'

interface Answer { hospital: string; moved: number; rewrapped: number; rotated: boolean }

/**
 * `medledger record rekey --all-emergency` (staff or admin of the hospital): moves the records
 * stored before threshold break-glass from the hospital's single emergency envelope to shares
 * among member hospitals, and retires the hospital's emergency key.
 * @throws CliError the node's code when it refuses (EMERGENCY_SPLIT_UNAVAILABLE, FORBIDDEN, …).
 */
export async function recordRekeyAllEmergency(c: Common): Promise<void> {
  const r = await signedIn(c).client.json<Answer>('POST', '/emergencies/rekey-all')
  c.out.result(r, () => r.rotated
    ? `${r.moved} record(s) moved to shares, ${r.rewrapped} home share(s) re-wrapped; the emergency key of ${r.hospital} is replaced and the old one destroyed.`
    : 'No record of this hospital depends on its emergency key alone: nothing to do.')
}
