import { hexToBytes, type Address } from 'viem'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { assertAnchored } from './assert-anchored.ts'
import type { Actor } from '../accounts/account.ts'
import { openEnvelopes, openManifest, parseEnvelopes, type Manifest } from './envelopes.ts'
import { openRecoveredKey, recoveredRecord } from './recovery-envelopes.ts'
import type { RecordRow } from './record.ts'
import type { Services } from '../services.ts'

/**
 * Checks a record's fields against its on-chain anchor, fetches its envelopes by the anchored
 * digest and opens the reader's envelope.
 * @throws AppError RECORD_INTEGRITY, RECORD_NOT_FOUND, RECORD_UNAVAILABLE
 */
export async function openRecordKeys(
  s: Services,
  row: RecordRow,
  reader: { address: Address; scheme: Actor['account']['keyScheme']; privateKey: Uint8Array },
  signal?: AbortSignal,
): Promise<{ manifest: Manifest; dataKey: Uint8Array }> {
  await assertAnchored(s, row)
  const bytes = await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.envelopes), 'raw'), { signal })
  const env = parseEnvelopes(bytes, row.record_id)
  // A record of a patient recovered since: the patient's new key opens it from the recovery's block.
  const recovered = await recoveredRecord(s, row.record_id)
  if (recovered && recovered.to.toLowerCase() === reader.address.toLowerCase()) {
    const dataKey = await openRecoveredKey(s, recovered, row.record_id, reader, signal)
    return { manifest: openManifest(env, dataKey), dataKey }
  }
  return openEnvelopes(env, reader)
}
