import { hexToBytes, type Address } from 'viem'
import { decryptStream } from '../crypto/stream.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest, readLeaves, verifyDag } from '../storage/read-verified.ts'
import { checkAnchor } from '../ledger/check-anchor.ts'
import { AppError } from '../errors.ts'
import type { Actor } from '../accounts/account.ts'
import { openEnvelopes, parseEnvelopes, type Manifest } from './envelopes.ts'
import { findReadableRecord, recordParties, toRecordView, type RecordRow, type RecordView } from './record.ts'
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
 * Opens a record for its reader: checks the ledger anchor, re-hashes every stored block
 * against it, unwraps the reader's envelope and authenticates every chunk — all before the
 * first byte of plaintext is handed out.
 * @throws AppError RECORD_NOT_FOUND (absent or not the reader's), RECORD_INTEGRITY (any
 *   mismatch or failed authentication), RECORD_UNAVAILABLE (blocks missing), LEDGER_UNAVAILABLE
 */
export async function readRecord(s: Services, { actor, recordId, signal }: { actor: Actor | undefined; recordId: string; signal?: AbortSignal }): Promise<ReadRecordResult> {
  const row = findReadableRecord(s.db, actor, recordId)
  const reader = actor!
  const { manifest, dataKey } = await openRecordKeys(s, row, {
    address: reader.account.address,
    scheme: reader.account.keyScheme,
    privateKey: reader.keys.encryptionPrivateKey,
  }, signal)
  const { leaves } = await verifyDag(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.digest), 'dag'), { signal })
  const decrypt = () => decryptStream(readLeaves(s.ipfs.blockstore, leaves, { signal }), { key: dataKey, signal })

  let body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>
  if (row.stored_bytes <= IN_MEMORY_LIMIT) {
    const chunks: Uint8Array[] = []
    for await (const chunk of decrypt()) chunks.push(chunk)
    body = chunks
  } else {
    for await (const _ of decrypt()) { /* authenticate every chunk before serving any */ }
    body = decrypt()
  }
  return { record: toRecordView(row, recordParties(s.db, row), manifest), body }
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

/**
 * Throws unless the chain's anchor commits to exactly this record's patient, author,
 * hospital, digest and envelopes.
 * @throws AppError RECORD_INTEGRITY
 */
export async function assertAnchored(s: Services, row: RecordRow): Promise<void> {
  const parties = s.db.prepare('SELECT a.address AS patient, b.address AS author, h.address AS hospital FROM accounts a, accounts b, hospitals h WHERE a.id = ? AND b.id = ? AND h.id = ?')
    .get(row.patient_id, row.author_id, row.hospital_id) as { patient: Address; author: Address; hospital: Address }
  const ok = await checkAnchor(s.ledger, { recordId: row.record_id, ...parties, digest: row.digest, envelopes: row.envelopes })
  if (!ok) throw new AppError('RECORD_INTEGRITY', { details: `record ${row.record_id} does not match its ledger anchor` })
}
