import { CliError } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

interface RekeyAnswer {
  recordId: string
  supersedes: string
  txHash: string
  wrappedFor: { patient: boolean; author: boolean; grantees: number; emergency: boolean; emergencyShares: number }
}

/**
 * `medledger record rekey RECORD_ID`: re-encrypts a record under a new data key (the patient, or
 * the author once the patient allowed it) and prints the new id; `--allow-author` (the patient)
 * instead lets the record's author re-key it once, on chain.
 * @throws CliError USAGE without RECORD_ID; the node's code when it refuses (RECORD_SUPERSEDED, REKEY_NOT_ALLOWED, …).
 */
export async function recordRekey(c: Common, id: string | undefined, f: { 'allow-author'?: boolean }): Promise<void> {
  if (!id) throw new CliError('USAGE', 'record rekey needs RECORD_ID [--allow-author]', 2)
  const { client } = signedIn(c)
  const path = `/records/${encodeURIComponent(id)}`
  if (f['allow-author']) {
    const r = await client.json<{ recordId: string; txHash: string }>('POST', `${path}/rekey-leave`)
    c.out.result(r, () => `The author of ${r.recordId} may now re-key it, once (tx ${r.txHash}).`)
    return
  }
  const r = await client.json<RekeyAnswer>('POST', `${path}/rekey`)
  const who = ['the patient', ...(r.wrappedFor.author ? ['the author'] : []), `${r.wrappedFor.grantees} grantee(s)`, r.wrappedFor.emergencyShares ? `${r.wrappedFor.emergencyShares} hospitals' emergency shares` : 'the emergency key']
  c.out.result(r, () => `${r.supersedes} re-keyed: now ${r.recordId} (tx ${r.txHash}); its key is wrapped for ${who.join(', ')}. The old id answers 410 RECORD_SUPERSEDED.`)
}
