import { createHash } from 'node:crypto'
import { encryptStream, generateDataKey } from '../src/crypto/stream.ts'
import { addCiphertext } from '../src/storage/add-ciphertext.ts'
import type { Ipfs } from '../src/storage/open-ipfs.ts'
import type { RandomPool } from './random-source.ts'

export interface MeasurePipelineParams {
  ipfs: Ipfs
  pool: RandomPool
  bytes: number
  /** Size of the pieces the plaintext arrives in (an HTTP body arrives in ≤ 64 KiB pieces). */
  pieceSize?: number
}

export interface MeasurePipelineResult {
  bytes: number
  seconds: number
  mbps: number
  /** SHA-256 of the plaintext, computed on the way as uploadRecord does. */
  plaintextSha256: string
  cid: string
  storedBytes: number
}

/**
 * What uploadRecord does to the bytes, in-process: count and SHA-256 the plaintext (on the hash
 * worker, `sha256Stream`), encrypt it with encryptStream (AES-256-GCM, 1 MiB chunks) and store
 * it with addCiphertext (UnixFS leaves hashed on the worker, written durably, large leaves in
 * packs, root pinned) on a real Helia. MB = 10^6 bytes.
 */
export async function measurePipeline({ ipfs, pool, bytes, pieceSize = 64 << 10 }: MeasurePipelineParams): Promise<MeasurePipelineResult> {
  const key = generateDataKey('aes-256-gcm')
  const started = process.hrtime.bigint()
  const plainHash = ipfs.hasher.sha256Stream()
  let bytesRead = 0
  const counted = async function * (): AsyncGenerator<Uint8Array> {
    for (const piece of pool.pieces(bytes, pieceSize)) {
      bytesRead += piece.byteLength
      await plainHash.update(piece)
      yield piece
    }
  }
  const stored = await addCiphertext(ipfs, encryptStream(counted(), { key, suite: 'aes-256-gcm' }))
  const plaintextSha256 = Buffer.from(await plainHash.digest()).toString('hex')
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (bytesRead !== bytes) throw new Error(`pipeline read ${bytesRead} bytes, expected ${bytes}`)
  return { bytes, seconds, mbps: bytes / 1e6 / seconds, plaintextSha256, cid: stored.cid.toString(), storedBytes: stored.size }
}

/**
 * The two halves of the pipeline apart, to see where its time goes: encryption alone
 * (plaintext SHA-256 + encryptStream, ciphertext collected in memory), then storage alone
 * (addCiphertext of that ciphertext). MB/s are per plaintext byte.
 */
export async function measurePipelineParts({ ipfs, pool, bytes, pieceSize = 64 << 10 }: MeasurePipelineParams): Promise<{ encryptOnlyMBps: number; storeOnlyMBps: number }> {
  const key = generateDataKey('aes-256-gcm')
  const plainHash = createHash('sha256')
  const ciphertext: Uint8Array[] = []
  let started = process.hrtime.bigint()
  const source = function * (): Generator<Uint8Array> {
    for (const piece of pool.pieces(bytes, pieceSize)) {
      plainHash.update(piece)
      yield piece
    }
  }
  for await (const piece of encryptStream(source(), { key, suite: 'aes-256-gcm' })) ciphertext.push(piece)
  plainHash.digest()
  const encryptSeconds = Number(process.hrtime.bigint() - started) / 1e9

  started = process.hrtime.bigint()
  await addCiphertext(ipfs, ciphertext)
  const storeSeconds = Number(process.hrtime.bigint() - started) / 1e9
  return { encryptOnlyMBps: bytes / 1e6 / encryptSeconds, storeOnlyMBps: bytes / 1e6 / storeSeconds }
}
