import { CliError } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger research consent --study ID` and `research withdraw --study ID` (a patient).
 * @throws CliError USAGE without --study; the node's code when it refuses.
 */
export async function researchConsent(c: Common, action: 'consent' | 'withdraw', f: { study?: string }): Promise<void> {
  if (!f.study) throw new CliError('USAGE', `research ${action} needs --study ID`, 2)
  const r = await signedIn(c).client.json<{ studyId: string; consent: string; txHash: string }>('POST', `/studies/${encodeURIComponent(f.study)}/${action}`)
  c.out.result(r, () => `${r.studyId}: consent ${r.consent} (purpose HRESCH, on chain in ${r.txHash}).`)
}
