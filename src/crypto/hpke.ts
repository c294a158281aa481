/**
 * HPKE (RFC 9180), base mode: KEM DHKEM(X25519, HKDF-SHA256) (0x0020), KDF HKDF-SHA256
 * (0x0001), AEAD AES-128-GCM (0x0001), AES-256-GCM (0x0002) or ChaCha20Poly1305 (0x0003).
 * X25519 runs on Node KeyObjects; keys cross this module's boundary as raw 32-byte arrays.
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto'
import { AppError } from '../errors.ts'
import { createAead, type Aead } from './aead.ts'
import { concatBytes, toBytes, utf8 } from './bytes.ts'

export type HpkeAead = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305'

const aeadParams: Record<HpkeAead, { id: number; nk: number; nn: number }> = {
  'aes-128-gcm': { id: 0x0001, nk: 16, nn: 12 },
  'aes-256-gcm': { id: 0x0002, nk: 32, nn: 12 },
  'chacha20-poly1305': { id: 0x0003, nk: 32, nn: 12 },
}

const kemId = 0x0020
const kdfId = 0x0001
const modeBase = 0x00
const nh = 32 // HKDF-SHA256 output
const nsk = 32 // X25519 key and shared-secret sizes
const versionLabel = utf8('HPKE-v1')
const kemSuiteId = concatBytes(utf8('KEM'), i2osp(kemId, 2))
const empty = new Uint8Array(0)

// DER wrappers that turn raw X25519 keys into PKCS#8 / SPKI (RFC 8410).
const pkcs8Prefix = Uint8Array.from(Buffer.from('302e020100300506032b656e04220420', 'hex'))
const spkiPrefix = Uint8Array.from(Buffer.from('302a300506032b656e032100', 'hex'))

/** A key pair as raw X25519 bytes (32 each). */
export interface X25519KeyPair {
  privateKey: Uint8Array
  publicKey: Uint8Array
}

/** An HPKE encryption context (RFC 9180 §5.2): seals or opens a sequence of messages. */
export interface HpkeContext {
  readonly aead: HpkeAead
  readonly key: Uint8Array
  readonly baseNonce: Uint8Array
  readonly exporterSecret: Uint8Array
  /** Seals the next message (sender side). */
  seal(aad: Uint8Array, plaintext: Uint8Array): Uint8Array
  /**
   * Opens the next message (receiver side).
   * @throws AppError RECORD_INTEGRITY when it does not authenticate.
   */
  open(aad: Uint8Array, ciphertext: Uint8Array): Uint8Array
  /** Secret export (RFC 9180 §5.3). */
  export(exporterContext: Uint8Array, length: number): Uint8Array
}

export interface SetupBaseSParams {
  recipientPublicKey: Uint8Array
  info: Uint8Array
  aead: HpkeAead
  /** Only for known-answer tests: a fixed ephemeral private key instead of a fresh one. */
  ephemeralPrivateKey?: Uint8Array
}

/**
 * Sender setup (RFC 9180 §5.1.1): encapsulates to the recipient and derives the context.
 * @throws AppError INVALID_KEY when the recipient public key is not a usable X25519 key.
 */
export function setupBaseS({ recipientPublicKey, info, aead, ephemeralPrivateKey }: SetupBaseSParams): { enc: Uint8Array; context: HpkeContext } {
  const pkR = importPublicKey(recipientPublicKey, 'INVALID_KEY')
  const skE = ephemeralPrivateKey === undefined
    ? generateKeyPairSync('x25519').privateKey
    : importPrivateKey(ephemeralPrivateKey)
  const enc = rawPublicKey(skE)
  const dh = x25519(skE, pkR, 'INVALID_KEY')
  const sharedSecret = extractAndExpand(dh, concatBytes(enc, recipientPublicKey))
  return { enc, context: keySchedule(aead, sharedSecret, info) }
}

export interface SetupBaseRParams {
  recipientPrivateKey: Uint8Array
  enc: Uint8Array
  info: Uint8Array
  aead: HpkeAead
}

/**
 * Receiver setup (RFC 9180 §5.1.1): decapsulates `enc` and derives the context.
 * @throws AppError INVALID_KEY for a malformed private key; RECORD_INTEGRITY for a bad `enc`.
 */
export function setupBaseR({ recipientPrivateKey, enc, info, aead }: SetupBaseRParams): HpkeContext {
  const skR = importPrivateKey(recipientPrivateKey)
  const pkE = importPublicKey(enc, 'RECORD_INTEGRITY')
  const dh = x25519(skR, pkE, 'RECORD_INTEGRITY')
  const sharedSecret = extractAndExpand(dh, concatBytes(enc, rawPublicKey(skR)))
  return keySchedule(aead, sharedSecret, info)
}

export interface SealBaseParams extends SetupBaseSParams {
  aad: Uint8Array
  plaintext: Uint8Array
}

/**
 * Single-shot HPKE seal in base mode (RFC 9180 §6.1).
 * @throws AppError INVALID_KEY when the recipient public key is not a usable X25519 key.
 */
export function sealBase({ aad, plaintext, ...setup }: SealBaseParams): { enc: Uint8Array; ciphertext: Uint8Array } {
  const { enc, context } = setupBaseS(setup)
  return { enc, ciphertext: context.seal(aad, plaintext) }
}

export interface OpenBaseParams extends SetupBaseRParams {
  aad: Uint8Array
  ciphertext: Uint8Array
}

/**
 * Single-shot HPKE open in base mode (RFC 9180 §6.1).
 * @throws AppError RECORD_INTEGRITY when `enc` is invalid or the ciphertext does not
 *   authenticate (wrong key, info, aad or tampering); INVALID_KEY for a malformed private key.
 */
export function openBase({ aad, ciphertext, ...setup }: OpenBaseParams): Uint8Array {
  return setupBaseR(setup).open(aad, ciphertext)
}

/**
 * DeriveKeyPair for DHKEM(X25519, HKDF-SHA256) (RFC 9180 §7.1.3).
 * @throws AppError INVALID_KEY when `ikm` is shorter than 32 bytes.
 */
export function deriveKeyPairX25519(ikm: Uint8Array): X25519KeyPair {
  if (ikm.length < nsk) throw new AppError('INVALID_KEY', { details: 'DeriveKeyPair needs at least 32 bytes of input keying material' })
  const dkpPrk = labeledExtract(kemSuiteId, empty, 'dkp_prk', ikm)
  const privateKey = labeledExpand(kemSuiteId, dkpPrk, 'sk', empty, nsk)
  return { privateKey, publicKey: rawPublicKey(importPrivateKey(privateKey)) }
}

/**
 * The raw public key of a raw X25519 private key.
 * @throws AppError INVALID_KEY for a malformed private key.
 */
export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  return rawPublicKey(importPrivateKey(privateKey))
}

function keySchedule(aead: HpkeAead, sharedSecret: Uint8Array, info: Uint8Array): HpkeContext {
  const params = aeadParams[aead]
  if (params === undefined) throw new AppError('INTERNAL', { details: `unsupported HPKE AEAD ${String(aead)}` })
  const suiteId = concatBytes(utf8('HPKE'), i2osp(kemId, 2), i2osp(kdfId, 2), i2osp(params.id, 2))
  const pskIdHash = labeledExtract(suiteId, empty, 'psk_id_hash', empty)
  const infoHash = labeledExtract(suiteId, empty, 'info_hash', info)
  const context = concatBytes(Uint8Array.of(modeBase), pskIdHash, infoHash)
  const secret = labeledExtract(suiteId, sharedSecret, 'secret', empty)
  const key = labeledExpand(suiteId, secret, 'key', context, params.nk)
  const baseNonce = labeledExpand(suiteId, secret, 'base_nonce', context, params.nn)
  const exporterSecret = labeledExpand(suiteId, secret, 'exp', context, nh)
  const cipher: Aead = createAead(aead, key)
  let seq = 0

  const nextNonce = () => {
    if (seq >= Number.MAX_SAFE_INTEGER) throw new AppError('INTERNAL', { details: 'HPKE message limit reached' })
    const nonce = baseNonce.slice()
    let s = seq
    for (let i = nonce.length - 1; s > 0; i--) {
      nonce[i]! ^= s % 256
      s = Math.floor(s / 256)
    }
    return nonce
  }

  return {
    aead,
    key,
    baseNonce,
    exporterSecret,
    seal(aad, plaintext) {
      const sealed = cipher.seal(nextNonce(), aad, plaintext)
      seq++
      return sealed
    },
    open(aad, ciphertext) {
      const plaintext = cipher.open(nextNonce(), aad, ciphertext)
      if (plaintext === undefined) throw new AppError('RECORD_INTEGRITY', { details: 'HPKE ciphertext did not authenticate' })
      seq++
      return plaintext
    },
    export(exporterContext, length) {
      return labeledExpand(suiteId, exporterSecret, 'sec', exporterContext, length)
    },
  }
}

function extractAndExpand(dh: Uint8Array, kemContext: Uint8Array): Uint8Array {
  const eaePrk = labeledExtract(kemSuiteId, empty, 'eae_prk', dh)
  return labeledExpand(kemSuiteId, eaePrk, 'shared_secret', kemContext, nsk)
}

function labeledExtract(suiteId: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  // HKDF-Extract(salt, ikm) = HMAC(salt, ikm); an empty salt acts as Nh zero bytes in HMAC.
  return toBytes(
    createHmac('sha256', salt).update(versionLabel).update(suiteId).update(utf8(label)).update(ikm).digest(),
  )
}

function labeledExpand(suiteId: Uint8Array, prk: Uint8Array, label: string, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * nh) {
    throw new AppError('INTERNAL', { details: `HKDF-Expand length ${length} out of range` })
  }
  const labeledInfo = concatBytes(i2osp(length, 2), versionLabel, suiteId, utf8(label), info)
  // HKDF-Expand (RFC 5869 §2.3): T(i) = HMAC(prk, T(i-1) || info || i)
  const out = new Uint8Array(length)
  let previous: Uint8Array = empty
  for (let i = 1, offset = 0; offset < length; i++) {
    previous = toBytes(createHmac('sha256', prk).update(previous).update(labeledInfo).update(Uint8Array.of(i)).digest())
    out.set(previous.subarray(0, Math.min(nh, length - offset)), offset)
    offset += nh
  }
  return out
}

function i2osp(value: number, length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = length - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v % 256
  return out
}

function importPrivateKey(raw: Uint8Array): KeyObject {
  if (!(raw instanceof Uint8Array) || raw.length !== nsk) {
    throw new AppError('INVALID_KEY', { details: 'an X25519 private key is 32 bytes' })
  }
  return createPrivateKey({ key: Buffer.from(concatBytes(pkcs8Prefix, raw)), format: 'der', type: 'pkcs8' })
}

function importPublicKey(raw: Uint8Array, code: 'INVALID_KEY' | 'RECORD_INTEGRITY'): KeyObject {
  if (!(raw instanceof Uint8Array) || raw.length !== nsk) {
    throw new AppError(code, { details: 'an X25519 public key is 32 bytes' })
  }
  return createPublicKey({ key: Buffer.from(concatBytes(spkiPrefix, raw)), format: 'der', type: 'spki' })
}

function rawPublicKey(privateKey: KeyObject): Uint8Array {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  return toBytes(spki.subarray(spkiPrefix.length))
}

function x25519(privateKey: KeyObject, publicKey: KeyObject, code: 'INVALID_KEY' | 'RECORD_INTEGRITY'): Uint8Array {
  let shared: Uint8Array
  try {
    shared = toBytes(diffieHellman({ privateKey, publicKey }))
  } catch (cause) {
    throw new AppError(code, { details: 'X25519 failed (low-order public key?)', cause })
  }
  // RFC 9180 §7.1.4: an all-zero shared secret (small-order point) must be rejected.
  if (shared.every((b) => b === 0)) throw new AppError(code, { details: 'X25519 produced the all-zero value' })
  return shared
}
