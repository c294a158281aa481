import { hexToBytes } from 'viem'
import { decryptStream } from '../crypto/stream.ts'
import { cidFromDigest, readLeaves, verifyDag } from '../storage/read-verified.ts'
import type { Manifest } from './envelopes.ts'
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
 * Access to one record as decided above records (consent's `resolveAccess`): the anchored row
 * (already checked against its anchor), its unwrapped data key and manifest, and how to write
 * the read to the ledger.
 */
export interface RecordAccess {
  row: RecordRow
  dataKey: Uint8Array
  manifest: Manifest
  /** Writes the read to the ledger. */
  log(signal?: AbortSignal): Promise<void>
}

/**
 * Reads a record its reader was given access to: re-hashes every stored block against the
 * anchored digest, authenticates every chunk and writes the read to the ledger — all before
 * the first byte of plaintext is handed out. Who may read is not decided here: the caller
 * passes the decision (consent/read-record-for does both).
 * @throws AppError RECORD_INTEGRITY (any mismatch or failed authentication), RECORD_UNAVAILABLE
 *   (blocks missing), LEDGER_UNAVAILABLE, SHARE_TOKEN_INVALID (a single-use token used meanwhile)
 */
export async function readRecord(s: Services, { access, signal }: { access: RecordAccess; signal?: AbortSignal }): Promise<ReadRecordResult> {
  const { row, dataKey, manifest } = access
  const cache = s.blockCache
  // Its parties' names are read while the blocks are checked, not after the entry's commit.
  const parties = recordParties(s.db, row)
  parties.catch(() => undefined) // awaited below
  const { leaves, size } = await verifyDag(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.digest), 'dag'), { signal, cache })
  const decrypt = () => decryptStream(readLeaves(s.ipfs.blockstore, leaves, { signal, cache }), { key: dataKey, signal })

  let body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>
  // Decided by the size the verified DAG holds (its root hashed to the anchored digest, every
  // node's size matched by the blocks under it), not by the row's stored_bytes: that is 0 for
  // another hospital's record this node holds no replica of.
  if (size <= IN_MEMORY_LIMIT) {
    const chunks: Uint8Array[] = []
    for await (const chunk of decrypt()) chunks.push(chunk)
    body = chunks
  } else {
    for await (const _ of decrypt()) { /* authenticate every chunk before serving any */ }
    body = decrypt()
  }
  // The read is on the ledger before any of it leaves the node.
  await access.log(signal)
  return { record: toRecordView(row, await parties, manifest), body }
}
