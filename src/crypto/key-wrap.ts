/**
 * Key wrapping (the envelopes that carry a record's data key to each reader), bound to a
 * caller-chosen context so an envelope cannot be moved to another record or recipient:
 *
 * - `x25519-hpke`: RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM,
 *   info = "medledger/key-wrap/v1", aad = context; wrapped = enc (32 bytes) || ciphertext.
 * - `rsa-oaep-4096`: RSA-OAEP with SHA-256 (and MGF1-SHA-256), label = context.
 */
import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  privateDecrypt,
  publicEncrypt,
  type KeyObject,
} from 'node:crypto'
import { promisify } from 'node:util'
import { AppError } from '../errors.ts'
import { decodeBase64url, toBytes, utf8 } from './bytes.ts'
import { openBase, sealBase } from './hpke.ts'

export type KeyScheme = 'x25519-hpke' | 'rsa-oaep-4096'

/** Every supported scheme; the first is the default. */
export const keySchemes: readonly KeyScheme[] = Object.freeze(['x25519-hpke', 'rsa-oaep-4096'] as const)

const schemeIds: Record<KeyScheme, number> = { 'x25519-hpke': 1, 'rsa-oaep-4096': 2 }
const hpkeInfo = utf8('medledger/key-wrap/v1')
const encLength = 32
const rsaBits = 4096
const generateKeyPairAsync = promisify(generateKeyPair)

/**
 * The key scheme named by `s`.
 * @throws AppError UNKNOWN_KEY_SCHEME when `s` names none.
 */
export function parseKeyScheme(s: string): KeyScheme {
  if (typeof s === 'string' && Object.hasOwn(schemeIds, s)) return s as KeyScheme
  throw new AppError('UNKNOWN_KEY_SCHEME', { details: `got ${JSON.stringify(String(s)).slice(0, 40)}` })
}

/**
 * The scheme's number in the on-chain key registry (x25519-hpke = 1, rsa-oaep-4096 = 2).
 * @throws AppError UNKNOWN_KEY_SCHEME for an unknown scheme.
 */
export function keySchemeId(scheme: KeyScheme): number {
  return schemeIds[parseKeyScheme(scheme)]
}

/**
 * The scheme with on-chain registry number `id`; inverse of `keySchemeId`.
 * @throws AppError UNKNOWN_KEY_SCHEME for an unknown number.
 */
export function keySchemeFromId(id: number | bigint): KeyScheme {
  const n = typeof id === 'bigint' ? Number(id) : id // registry ids are tiny, so Number() is exact where it matters
  for (const scheme of keySchemes) if (schemeIds[scheme] === n) return scheme
  throw new AppError('UNKNOWN_KEY_SCHEME', { details: `unknown scheme id ${String(id)}` })
}

export interface EncryptionKeyPair {
  scheme: KeyScheme
  /** x25519: raw 32 bytes; RSA: SPKI DER. */
  publicKey: Uint8Array
  /** x25519: raw 32 bytes; RSA: PKCS#8 DER. */
  privateKey: Uint8Array
}

/**
 * A fresh encryption key pair for `scheme` (RSA: 4096 bits, e = 65537, generated off the
 * main thread).
 * @throws AppError UNKNOWN_KEY_SCHEME for an unknown scheme.
 */
export async function generateEncryptionKeyPair(scheme: KeyScheme): Promise<EncryptionKeyPair> {
  if (parseKeyScheme(scheme) === 'x25519-hpke') {
    const { privateKey } = await generateKeyPairAsync('x25519')
    const jwk = privateKey.export({ format: 'jwk' })
    return { scheme, publicKey: decodeBase64url(jwk.x, 32)!, privateKey: decodeBase64url(jwk.d, 32)! }
  }
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: rsaBits,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  })
  return { scheme, publicKey: toBytes(publicKey), privateKey: toBytes(privateKey) }
}

export interface WrapKeyParams {
  scheme: KeyScheme
  publicKey: Uint8Array
  /** The key to carry (a data key). */
  key: Uint8Array
  /** Bound into the envelope: unwrapping needs the very same bytes. */
  context: Uint8Array
}

/**
 * Wraps `key` for the holder of `publicKey`'s private key, bound to `context`.
 * @throws AppError UNKNOWN_KEY_SCHEME; INVALID_KEY when the public key is malformed or not
 *   of the scheme (for RSA: not a 4096-bit RSA key).
 */
export async function wrapKey({ scheme, publicKey, key, context }: WrapKeyParams): Promise<Uint8Array> {
  if (parseKeyScheme(scheme) === 'x25519-hpke') {
    const { enc, ciphertext } = await sealBase({
      recipientPublicKey: publicKey,
      info: hpkeInfo,
      aad: context,
      plaintext: key,
      aead: 'aes-256-gcm',
    })
    const wrapped = new Uint8Array(enc.length + ciphertext.length)
    wrapped.set(enc)
    wrapped.set(ciphertext, enc.length)
    return wrapped
  }
  const rsaKey = importRsaKey(() => createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' }))
  return toBytes(publicEncrypt(
    { key: rsaKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: context },
    key,
  ))
}

export interface UnwrapKeyParams {
  scheme: KeyScheme
  privateKey: Uint8Array
  wrapped: Uint8Array
  /** The context the key was wrapped with. */
  context: Uint8Array
}

/**
 * Unwraps a key wrapped by `wrapKey`.
 * @throws AppError RECORD_INTEGRITY when the envelope does not open with this key and context
 *   (wrong recipient, wrong context, tampering); INVALID_KEY when the private key is malformed
 *   or not of the scheme; UNKNOWN_KEY_SCHEME.
 */
export async function unwrapKey({ scheme, privateKey, wrapped, context }: UnwrapKeyParams): Promise<Uint8Array> {
  if (parseKeyScheme(scheme) === 'x25519-hpke') {
    if (wrapped.length < encLength + 16) throw new AppError('RECORD_INTEGRITY', { details: 'key envelope too short' })
    return openBase({
      recipientPrivateKey: privateKey,
      enc: wrapped.subarray(0, encLength),
      info: hpkeInfo,
      aad: context,
      ciphertext: wrapped.subarray(encLength),
      aead: 'aes-256-gcm',
    })
  }
  const rsaKey = importRsaKey(() => createPrivateKey({ key: Buffer.from(privateKey), format: 'der', type: 'pkcs8' }))
  try {
    return toBytes(privateDecrypt(
      { key: rsaKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: context },
      wrapped,
    ))
  } catch (cause) {
    throw new AppError('RECORD_INTEGRITY', { details: 'RSA-OAEP key envelope did not open', cause })
  }
}

function importRsaKey(load: () => KeyObject): KeyObject {
  let key: KeyObject
  try {
    key = load()
  } catch (cause) {
    throw new AppError('INVALID_KEY', { details: 'not a DER-encoded RSA key', cause })
  }
  if (key.asymmetricKeyType !== 'rsa' || key.asymmetricKeyDetails?.modulusLength !== rsaBits) {
    throw new AppError('INVALID_KEY', { details: `rsa-oaep-4096 needs a ${rsaBits}-bit RSA key` })
  }
  return key
}
