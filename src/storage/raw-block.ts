import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { pinRecursively } from './pin-recursively.ts'
import { readBlockVerified } from './read-verified.ts'
import { AppError } from '../errors.ts'
import type { BlockGetter, ReadOptions } from './read-verified.ts'
import type { Helia } from 'helia'

/** Single-block objects (envelopes, public keys) are small; a larger one is a caller's mistake. */
export const MAX_RAW_BLOCK_SIZE = 1_048_576

/**
 * Stores `bytes` as one CIDv1 raw sha2-256 block and pins it; resolves once block and pin are
 * on disk. Storing the same bytes again is a no-op that returns the same CID.
 *
 * @throws AppError BAD_REQUEST when `bytes` is larger than MAX_RAW_BLOCK_SIZE.
 * @throws AppError RECORD_INTEGRITY when a copy already on disk under this CID is corrupt.
 * @throws AppError STORAGE_UNAVAILABLE when the block cannot be written.
 */
export async function putRawBlock(
  ipfs: { helia: Pick<Helia, 'blockstore' | 'pins'> },
  bytes: Uint8Array,
  { signal }: ReadOptions = {},
): Promise<CID> {
  signal?.throwIfAborted()
  if (bytes.byteLength > MAX_RAW_BLOCK_SIZE) {
    throw new AppError('BAD_REQUEST', { details: `raw block of ${bytes.byteLength} bytes exceeds ${MAX_RAW_BLOCK_SIZE}` })
  }
  const digest = createHash('sha256').update(bytes).digest()
  const cid = CID.createV1(raw.code, createDigest(sha256.code, digest))
  const { blockstore, pins } = ipfs.helia
  await blockstore.put(cid, bytes, { signal })
  // Helia skips the write when a file for this CID exists, so check what is there: an
  // acknowledged put must be readable. Small blocks make this cheap.
  await readBlockVerified(blockstore, cid, { signal, keep: false })
  await pinRecursively(pins, cid, { signal })
  return cid
}

/**
 * Reads a raw block and checks it hashes to its CID (or serves it from `cache`, where it went
 * in verified).
 *
 * @throws AppError RECORD_INTEGRITY when the stored bytes do not hash to `cid`.
 * @throws AppError RECORD_UNAVAILABLE when the block is not in the store.
 * @throws AppError INVALID_CID when `cid` is not CIDv1 raw sha2-256.
 */
export async function getRawBlockVerified(blockstore: BlockGetter, cid: CID, { signal, cache }: ReadOptions = {}): Promise<Uint8Array> {
  if (cid.code !== raw.code) {
    throw new AppError('INVALID_CID', { details: `expected a raw CID, got ${String(cid)}` })
  }
  return (await readBlockVerified(blockstore, cid, { signal, cache })).bytes
}
