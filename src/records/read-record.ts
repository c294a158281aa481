import { hexToBytes, type Address } from 'viem'
import { decryptStream } from '../crypto/stream.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest, readLeaves, verifyDag } from '../storage/read-verified.ts'
import { resolveAccess } from '../consent/resolve-access.ts'
import { assertAnchored } from './assert-anchored.ts'
import type { Actor } from '../accounts/account.ts'
import { openEnvelopes, parseEnvelopes, type Manifest } from './envelopes.ts'
import { recordParties, toRecordView, type RecordRow, type RecordView } from './record.ts'
import type { Services } from '../services.ts'

export interface ReadRecordResult {
  record: RecordView
  /** The plaintext; every byte of it has already been authenticated. */
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>
}

// Records up to this size are decrypted once into memory; larger ones are decrypted twice
// (a checking pass that keeps nothing, then the serving pass) so memory stays flat.
const IN_MEMORY_LIMIT = 32 * 1024 * 1024

/**
 * Opens a record for its reader (a signed-in user, or the holder of a share token): decides
 * access as the ledger says, checks the ledger anchor, re-hashes every stored block against
 * it, authenticates every chunk and writes the read to the ledger — all before the first byte
 * of plaintext is handed out.
 * @throws AppError RECORD_NOT_FOUND (absent or not the reader's), SHARE_TOKEN_INVALID,
 *   RECORD_INTEGRITY (any mismatch or failed authentication), RECORD_UNAVAILABLE (blocks
 *   missing), LEDGER_UNAVAILABLE
 */
export async function readRecord(s: Services, { actor, token, recordId, signal }: { actor?: Actor; token?: string; recordId: string; signal?: AbortSignal }): Promise<ReadRecordResult> {
  const access = await resolveAccess(s, { actor, token, recordId, signal })
  const { row, dataKey, manifest } = access
  const cache = s.blockCache
  const { leaves } = await verifyDag(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.digest), 'dag'), { signal, cache })
  const decrypt = () => decryptStream(readLeaves(s.ipfs.blockstore, leaves, { signal, cache }), { key: dataKey, signal })

  let body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>
  if (row.stored_bytes <= IN_MEMORY_LIMIT) {
    const chunks: Uint8Array[] = []
    for await (const chunk of decrypt()) chunks.push(chunk)
    body = chunks
  } else {
    for await (const _ of decrypt()) { /* authenticate every chunk before serving any */ }
    body = decrypt()
  }
  // The read is on the ledger before any of it leaves the node.
  await access.log(signal)
  return { record: toRecordView(row, await recordParties(s.db, row), manifest), body }
}

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
  return openEnvelopes(parseEnvelopes(bytes, row.record_id), reader)
}
