import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import type { RandomPool } from './random-source.ts'

export interface MeasureBaselineResult {
  bytes: number
  seconds: number
  mbps: number
  /** SHA-256 over all ciphertext, so the work cannot be optimised away. */
  sha256: string
}

/**
 * Node's own AES-256-GCM + SHA-256 on one core: each 1 MiB buffer is encrypted by a fresh
 * cipher with a fresh nonce, and the ciphertext (and tag) are hashed. MB = 10^6 bytes.
 */
export function measureBaseline(pool: RandomPool, { bytes, bufferSize = 1 << 20 }: { bytes: number; bufferSize?: number }): MeasureBaselineResult {
  const key = randomBytes(32)
  const nonce = randomBytes(12)
  const hash = createHash('sha256')
  const started = process.hrtime.bigint()
  let counter = 0
  for (const buffer of pool.pieces(bytes, bufferSize)) {
    nonce.writeUInt32BE(counter++, 8)
    const cipher = createCipheriv('aes-256-gcm', key, nonce)
    hash.update(cipher.update(buffer))
    cipher.final()
    hash.update(cipher.getAuthTag())
  }
  const sha256 = hash.digest('hex')
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { bytes, seconds, mbps: bytes / 1e6 / seconds, sha256 }
}
