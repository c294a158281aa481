/**
 * The one AEAD primitive every MedLedger cipher goes through (stream chunks, HPKE, keystore).
 * AES-GCM and ChaCha20-Poly1305 come from Node's OpenSSL; XChaCha20-Poly1305 is built as in
 * draft-irtf-cfrg-xchacha §2.3: an HChaCha20 subkey (from @noble/ciphers) over the first 16
 * nonce bytes, then Node's ChaCha20-Poly1305 with nonce = 4 zero bytes || last 8 nonce bytes.
 * Tags are always 16 bytes.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'
import { hchacha } from '@noble/ciphers/chacha.js'
import { AppError } from '../errors.ts'
import { concatBytes, toBytes } from './bytes.ts'

export type AeadAlgorithm =
  | 'aes-128-gcm'
  | 'aes-192-gcm'
  | 'aes-256-gcm'
  | 'chacha20-poly1305'
  | 'xchacha20-poly1305'

/** Every AEAD here carries a 16-byte tag. */
export const aeadTagLength = 16

const keyLengths: Record<AeadAlgorithm, number> = {
  'aes-128-gcm': 16,
  'aes-192-gcm': 24,
  'aes-256-gcm': 32,
  'chacha20-poly1305': 32,
  'xchacha20-poly1305': 32,
}

const nonceLengths: Record<AeadAlgorithm, number> = {
  'aes-128-gcm': 12,
  'aes-192-gcm': 12,
  'aes-256-gcm': 12,
  'chacha20-poly1305': 12,
  'xchacha20-poly1305': 24,
}

export interface SealedParts {
  ciphertext: Uint8Array
  tag: Uint8Array
}

/** An AEAD bound to one key. Open methods return `undefined` when authentication fails. */
export interface Aead {
  readonly algorithm: AeadAlgorithm
  readonly nonceLength: number
  sealDetached(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): SealedParts
  openDetached(nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array): Uint8Array | undefined
  /** Returns ciphertext || tag. */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array
  /** Takes ciphertext || tag. */
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined
}

/** Key length in bytes for `algorithm`. */
export function aeadKeyLength(algorithm: AeadAlgorithm): number {
  return keyLengths[algorithm]
}

/**
 * An AEAD of `algorithm` bound to a copy of `key`.
 * @throws AppError INVALID_KEY when the key length does not fit the algorithm.
 */
export function createAead(algorithm: AeadAlgorithm, key: Uint8Array): Aead {
  const keyLength = keyLengths[algorithm]
  if (keyLength === undefined) throw new AppError('INTERNAL', { details: `unknown AEAD ${String(algorithm)}` })
  if (!(key instanceof Uint8Array) || key.length !== keyLength) {
    throw new AppError('INVALID_KEY', { details: `${algorithm} needs a ${keyLength}-byte key` })
  }
  const nonceLength = nonceLengths[algorithm]
  const extended = algorithm === 'xchacha20-poly1305'
  const nodeAlgorithm: NodeAlgorithm = extended ? 'chacha20-poly1305' : (algorithm as NodeAlgorithm)
  const rawKey = extended ? key.slice() : undefined
  const keyObject = extended ? undefined : createSecretKey(key)
  // A stream keeps one nonce prefix for all its chunks, so the XChaCha subkey is cached.
  let prefix: Uint8Array | undefined
  let subkey: KeyObject | undefined
  const iv = new Uint8Array(12)

  function resolve(nonce: Uint8Array): [KeyObject, Uint8Array] {
    if (nonce.length !== nonceLength) {
      throw new AppError('INTERNAL', { details: `${algorithm} needs a ${nonceLength}-byte nonce` })
    }
    if (!extended) return [keyObject!, nonce]
    const head = nonce.subarray(0, 16)
    if (prefix === undefined || !sameBytes(prefix, head)) {
      prefix = head.slice()
      const derived = hchacha20(rawKey!, head)
      subkey = createSecretKey(derived)
      derived.fill(0)
    }
    iv.set(nonce.subarray(16), 4)
    return [subkey!, iv]
  }

  function sealDetached(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): SealedParts {
    const [k, n] = resolve(nonce)
    const cipher = nodeAlgorithm === 'chacha20-poly1305'
      ? createCipheriv(nodeAlgorithm, k, n, { authTagLength: aeadTagLength })
      : createCipheriv(nodeAlgorithm, k, n, { authTagLength: aeadTagLength })
    cipher.setAAD(aad, { plaintextLength: plaintext.length })
    const ciphertext = cipher.update(plaintext)
    cipher.final()
    return { ciphertext: toBytes(ciphertext), tag: toBytes(cipher.getAuthTag()) }
  }

  function openDetached(nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array): Uint8Array | undefined {
    if (tag.length !== aeadTagLength) return undefined
    const [k, n] = resolve(nonce)
    const decipher = nodeAlgorithm === 'chacha20-poly1305'
      ? createDecipheriv(nodeAlgorithm, k, n, { authTagLength: aeadTagLength })
      : createDecipheriv(nodeAlgorithm, k, n, { authTagLength: aeadTagLength })
    decipher.setAuthTag(tag)
    decipher.setAAD(aad, { plaintextLength: ciphertext.length })
    const plaintext = decipher.update(ciphertext)
    try {
      decipher.final()
    } catch {
      plaintext.fill(0) // unauthenticated plaintext must not linger
      return undefined
    }
    return toBytes(plaintext)
  }

  return {
    algorithm,
    nonceLength,
    sealDetached,
    openDetached,
    seal(nonce, aad, plaintext) {
      const { ciphertext, tag } = sealDetached(nonce, aad, plaintext)
      return concatBytes(ciphertext, tag)
    },
    open(nonce, aad, sealed) {
      if (sealed.length < aeadTagLength) return undefined
      const split = sealed.length - aeadTagLength
      return openDetached(nonce, aad, sealed.subarray(0, split), sealed.subarray(split))
    },
  }
}

type NodeAlgorithm = 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' | 'chacha20-poly1305'

// noble's hchacha takes and returns 32-bit views over the raw little-endian bytes.
const sigma = new Uint32Array(Uint8Array.from(Buffer.from('expand 32-byte k', 'latin1')).buffer)

/** HChaCha20 (draft-irtf-cfrg-xchacha §2.2): a 32-byte subkey from a key and 16 nonce bytes. */
export function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  if (key.length !== 32 || nonce16.length !== 16) {
    throw new AppError('INTERNAL', { details: 'HChaCha20 needs a 32-byte key and a 16-byte input' })
  }
  const k = new Uint32Array(8)
  new Uint8Array(k.buffer).set(key)
  const n = new Uint32Array(4)
  new Uint8Array(n.buffer).set(nonce16)
  const out = new Uint32Array(8)
  hchacha(sigma, k, n, out)
  k.fill(0)
  return new Uint8Array(out.buffer)
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
