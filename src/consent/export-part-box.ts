import { randomBytes } from 'node:crypto'
import { createAead } from '../crypto/aead.ts'
import { unwrapKey, wrapKey, type KeyScheme } from '../crypto/key-wrap.ts'
import { AppError } from '../errors.ts'

/** What a part is bound to: the export and the hospital that made it (a part moved elsewhere does not open). */
function contextOf(exportId: string, hospital: string): Uint8Array {
  return new TextEncoder().encode(`medledger export part|${exportId.toLowerCase()}|${hospital.toLowerCase()}`)
}

/**
 * A home node's part of an export, encrypted for the study's researcher: a fresh data key
 * (AES-256-GCM) wrapped for the researcher's registered key (HPKE for X25519, RSA-OAEP for RSA),
 * bound to the export and the hospital. Layout: wrapped key length (2 bytes), wrapped key,
 * nonce (12), ciphertext and tag.
 * @throws AppError INVALID_KEY, UNKNOWN_KEY_SCHEME
 */
export async function sealExportPart(p: { scheme: KeyScheme; publicKey: Uint8Array; exportId: string; hospital: string; plaintext: Uint8Array }): Promise<Uint8Array> {
  const key = randomBytes(32)
  const context = contextOf(p.exportId, p.hospital)
  const wrapped = await wrapKey({ scheme: p.scheme, publicKey: p.publicKey, key, context })
  const nonce = randomBytes(12)
  const sealed = createAead('aes-256-gcm', key).seal(nonce, context, p.plaintext)
  const head = Buffer.alloc(2)
  head.writeUInt16BE(wrapped.byteLength)
  return Buffer.concat([head, wrapped, nonce, sealed])
}

/**
 * Opens a part `sealExportPart` made, with the researcher's private key.
 * @throws AppError RECORD_INTEGRITY when it does not open (another recipient, export or hospital; tampering)
 */
export async function openExportPart(p: { scheme: KeyScheme; privateKey: Uint8Array; exportId: string; hospital: string; sealed: Uint8Array }): Promise<Uint8Array> {
  const b = Buffer.from(p.sealed)
  if (b.byteLength < 2) throw new AppError('RECORD_INTEGRITY', { details: 'export part too short' })
  const length = b.readUInt16BE(0)
  if (b.byteLength < 2 + length + 12 + 16) throw new AppError('RECORD_INTEGRITY', { details: 'export part too short' })
  const context = contextOf(p.exportId, p.hospital)
  const key = await unwrapKey({ scheme: p.scheme, privateKey: p.privateKey, wrapped: b.subarray(2, 2 + length), context })
  const plain = createAead('aes-256-gcm', key).open(b.subarray(2 + length, 14 + length), context, b.subarray(14 + length))
  if (!plain) throw new AppError('RECORD_INTEGRITY', { details: 'export part does not open' })
  return plain
}
