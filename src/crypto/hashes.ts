/** Message digests. */
import { createHash } from 'node:crypto'
import { toBytes } from './bytes.ts'

/** SHA-256 of `bytes` (32 bytes). */
export function hashSha256(bytes: Uint8Array): Uint8Array {
  return toBytes(createHash('sha256').update(bytes).digest())
}

/** SHA-256 of `bytes` as 64 lowercase hex characters. */
export function hashSha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}
