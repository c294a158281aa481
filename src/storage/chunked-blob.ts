import { createHash } from 'node:crypto'
import { bytesToHex, hexToBytes, type Hex } from 'viem'
import { MAX_RAW_BLOCK_SIZE, getRawBlockVerified, putRawBlock } from './raw-block.ts'
import { cidFromDigest } from './read-verified.ts'
import { AppError } from '../errors.ts'
import type { BlockGetter, ReadOptions } from './read-verified.ts'
import type { Helia } from 'helia'

const DIGEST = 32

/**
 * Stores `bytes` of any size as raw blocks of at most MAX_RAW_BLOCK_SIZE and one index block
 * (the chunks' SHA-256 digests, 32 bytes each, in order); resolves the index block's SHA-256,
 * which names the whole (what goes on chain). Every block is checked and pinned as it is put.
 * @throws AppError STORAGE_UNAVAILABLE, RECORD_INTEGRITY (see putRawBlock)
 */
export async function putChunkedBlob(ipfs: { helia: Pick<Helia, 'blockstore' | 'pins'> }, bytes: Uint8Array, { signal }: ReadOptions = {}): Promise<Hex> {
  const digests: Uint8Array[] = []
  for (let at = 0; at < bytes.byteLength || digests.length === 0; at += MAX_RAW_BLOCK_SIZE) {
    const chunk = bytes.subarray(at, at + MAX_RAW_BLOCK_SIZE)
    await putRawBlock(ipfs, chunk, { signal })
    digests.push(createHash('sha256').update(chunk).digest())
  }
  const index = Buffer.concat(digests)
  await putRawBlock(ipfs, index, { signal })
  return bytesToHex(createHash('sha256').update(index).digest())
}

/**
 * The bytes `putChunkedBlob` stored under `digest`, each block checked against its CID (so the
 * whole against the digest), fetched from peers when not held here.
 * @throws AppError RECORD_UNAVAILABLE (a block not served), RECORD_INTEGRITY (an index that is not one)
 */
export async function getChunkedBlob(blockstore: BlockGetter, digest: Hex, { signal }: ReadOptions = {}): Promise<Uint8Array> {
  const index = await getRawBlockVerified(blockstore, cidFromDigest(hexToBytes(digest), 'raw'), { signal })
  if (index.byteLength === 0 || index.byteLength % DIGEST !== 0) throw new AppError('RECORD_INTEGRITY', { details: 'not an index of chunks' })
  const chunks: Uint8Array[] = []
  for (let at = 0; at < index.byteLength; at += DIGEST) {
    chunks.push(await getRawBlockVerified(blockstore, cidFromDigest(index.slice(at, at + DIGEST), 'raw'), { signal }))
  }
  return Buffer.concat(chunks)
}
