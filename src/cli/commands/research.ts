import { CliError } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger research consent --study ID` and `research withdraw --study ID` (a patient); with
 * `--hospital ID` instead, every approved study of that hospital's researchers.
 * @throws CliError USAGE without --study or --hospital; the node's code when it refuses.
 */
export async function researchConsent(c: Common, action: 'consent' | 'withdraw', f: { study?: string; hospital?: string }): Promise<void> {
  if (f.hospital && !f.study) {
    const h = await signedIn(c).client.json<{ hospitalId: string; consent: string; txHash: string }>('POST', `/hospitals/${encodeURIComponent(f.hospital)}/research-${action}`)
    c.out.result(h, () => `Every approved study of hospital ${h.hospitalId}: consent ${h.consent} (purpose HRESCH, on chain in ${h.txHash}).`)
    return
  }
  if (!f.study || f.hospital) throw new CliError('USAGE', `research ${action} needs --study ID or --hospital ID`, 2)
  const r = await signedIn(c).client.json<{ studyId: string; consent: string; txHash: string }>('POST', `/studies/${encodeURIComponent(f.study)}/${action}`)
  c.out.result(r, () => `${r.studyId}: consent ${r.consent} (purpose HRESCH, on chain in ${r.txHash}).`)
}
