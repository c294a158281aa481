/**
 * HPKE (RFC 9180), base mode, on `@hpke/core`: KEM DHKEM(X25519, HKDF-SHA256) (0x0020), KDF
 * HKDF-SHA256 (0x0001), AEAD AES-128-GCM (0x0001), AES-256-GCM (0x0002) or ChaCha20Poly1305
 * (0x0003). Keys cross this module's boundary as raw 32-byte arrays; the library's errors
 * become our AppError codes (INVALID_KEY for the caller's keys, RECORD_INTEGRITY for what came
 * from storage).
 *
 * The KEM is `@hpke/core`'s own DhkemX25519HkdfSha256, which runs X25519 in WebCrypto (native
 * OpenSSL in Node), not `@hpke/dhkem-x25519`'s pure-JS one: measured about 3x slower per wrap
 * and unwrap. ChaCha20Poly1305 runs on Node's native cipher (`./aead.ts`) behind the library's
 * AeadInterface, as `@hpke/chacha20poly1305` is not a dependency. The single-shot `openBase`
 * (every envelope a reader opens) runs on Node's primitives instead (`./open-base-x25519.ts`),
 * tested against this library.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto'
import {
  AeadId,
  Aes128Gcm,
  Aes256Gcm,
  CipherSuite,
  DhkemX25519HkdfSha256,
  HkdfSha256,
  type AeadEncryptionContext,
  type AeadInterface,
  type EncryptionContext,
} from '@hpke/core'
import { AppError } from '../errors.ts'
import { createAead } from './aead.ts'
import { concatBytes, toBytes } from './bytes.ts'
import { openBaseX25519 } from './open-base-x25519.ts'

export type HpkeAead = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305'

const nsk = 32 // X25519 key size

// DER wrapper that turns a raw X25519 private key into PKCS#8 (RFC 8410), for x25519PublicKey.
const pkcs8Prefix = Uint8Array.from(Buffer.from('302e020100300506032b656e04220420', 'hex'))

/** A key pair as raw X25519 bytes (32 each). */
export interface X25519KeyPair {
  privateKey: Uint8Array
  publicKey: Uint8Array
}

/** An HPKE encryption context (RFC 9180 §5.2): seals or opens a sequence of messages. */
export interface HpkeContext {
  readonly aead: HpkeAead
  /** Seals the next message (sender side). */
  seal(aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>
  /**
   * Opens the next message (receiver side).
   * @throws AppError RECORD_INTEGRITY when it does not authenticate.
   */
  open(aad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>
  /** Secret export (RFC 9180 §5.3). */
  export(exporterContext: Uint8Array, length: number): Promise<Uint8Array>
}

/** ChaCha20Poly1305 (0x0003) for `@hpke/core`, on Node's native cipher. */
class NodeChaCha20Poly1305 implements AeadInterface {
  readonly id = AeadId.Chacha20Poly1305
  readonly keySize = 32
  readonly nonceSize = 12
  readonly tagSize = 16
  createEncryptionContext(key: ArrayBufferLike | ArrayBufferView): AeadEncryptionContext {
    const aead = createAead('chacha20-poly1305', bytesOf(key))
    return {
      seal: async (iv, data, aad) => arrayBufferOf(aead.seal(bytesOf(iv), bytesOf(aad), bytesOf(data))),
      open: async (iv, data, aad) => {
        const plaintext = aead.open(bytesOf(iv), bytesOf(aad), bytesOf(data))
        if (plaintext === undefined) throw new Error('ChaCha20Poly1305 did not authenticate')
        return arrayBufferOf(plaintext)
      },
    }
  }
}

const aeads: Record<HpkeAead, () => AeadInterface> = {
  'aes-128-gcm': () => new Aes128Gcm(),
  'aes-256-gcm': () => new Aes256Gcm(),
  'chacha20-poly1305': () => new NodeChaCha20Poly1305(),
}
const suites = new Map<HpkeAead, CipherSuite>()

function suiteFor(aead: HpkeAead): CipherSuite {
  let suite = suites.get(aead)
  if (suite === undefined) {
    if (!Object.hasOwn(aeads, aead)) throw new AppError('INTERNAL', { details: `unsupported HPKE AEAD ${String(aead)}` })
    suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: aeads[aead]() })
    suites.set(aead, suite)
  }
  return suite
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
export async function setupBaseS({ recipientPublicKey, info, aead, ephemeralPrivateKey }: SetupBaseSParams): Promise<{ enc: Uint8Array; context: HpkeContext }> {
  const suite = suiteFor(aead)
  checkLength(recipientPublicKey, 'INVALID_KEY', 'an X25519 public key is 32 bytes')
  const ekm = ephemeralPrivateKey === undefined ? undefined : {
    privateKey: await kemCall(suite.kem.deserializePrivateKey(checkLength(ephemeralPrivateKey, 'INVALID_KEY', 'an X25519 private key is 32 bytes')), 'INVALID_KEY'),
    publicKey: await kemCall(suite.kem.deserializePublicKey(x25519PublicKey(ephemeralPrivateKey)), 'INVALID_KEY'),
  }
  const sender = await kemCall((async () => suite.createSenderContext({
    recipientPublicKey: await suite.kem.deserializePublicKey(recipientPublicKey),
    info,
    ...(ekm === undefined ? {} : { ekm }),
  }))(), 'INVALID_KEY')
  return { enc: new Uint8Array(sender.enc), context: wrapContext(aead, sender) }
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
export async function setupBaseR({ recipientPrivateKey, enc, info, aead }: SetupBaseRParams): Promise<HpkeContext> {
  const suite = suiteFor(aead)
  checkLength(recipientPrivateKey, 'INVALID_KEY', 'an X25519 private key is 32 bytes')
  const recipientKey = await kemCall(suite.kem.deserializePrivateKey(recipientPrivateKey), 'INVALID_KEY')
  checkLength(enc, 'RECORD_INTEGRITY', 'an X25519 public key is 32 bytes')
  const receiver = await kemCall(suite.createRecipientContext({ recipientKey, enc, info }), 'RECORD_INTEGRITY')
  return wrapContext(aead, receiver)
}

export interface SealBaseParams extends SetupBaseSParams {
  aad: Uint8Array
  plaintext: Uint8Array
}

/**
 * Single-shot HPKE seal in base mode (RFC 9180 §6.1).
 * @throws AppError INVALID_KEY when the recipient public key is not a usable X25519 key.
 */
export async function sealBase({ aad, plaintext, ...setup }: SealBaseParams): Promise<{ enc: Uint8Array; ciphertext: Uint8Array }> {
  const { enc, context } = await setupBaseS(setup)
  return { enc, ciphertext: await context.seal(aad, plaintext) }
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
export async function openBase(params: OpenBaseParams): Promise<Uint8Array> {
  // One message, so no context to keep: opened on Node's primitives (`./open-base-x25519.ts`,
  // tested against this library), about ten times cheaper than through it.
  return openBaseX25519(params)
}

/**
 * DeriveKeyPair for DHKEM(X25519, HKDF-SHA256) (RFC 9180 §7.1.3).
 * @throws AppError INVALID_KEY when `ikm` is shorter than 32 bytes.
 */
export async function deriveKeyPairX25519(ikm: Uint8Array): Promise<X25519KeyPair> {
  if (!(ikm instanceof Uint8Array) || ikm.length < nsk) {
    throw new AppError('INVALID_KEY', { details: 'DeriveKeyPair needs at least 32 bytes of input keying material' })
  }
  const kem = suiteFor('aes-256-gcm').kem
  const pair = await kemCall(kem.deriveKeyPair(ikm), 'INVALID_KEY')
  return {
    privateKey: new Uint8Array(await kem.serializePrivateKey(pair.privateKey)),
    publicKey: new Uint8Array(await kem.serializePublicKey(pair.publicKey)),
  }
}

/**
 * The raw public key of a raw X25519 private key.
 * @throws AppError INVALID_KEY for a malformed private key.
 */
export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  checkLength(privateKey, 'INVALID_KEY', 'an X25519 private key is 32 bytes')
  const key = createPrivateKey({ key: Buffer.from(concatBytes(pkcs8Prefix, privateKey)), format: 'der', type: 'pkcs8' })
  const jwk = createPublicKey(key).export({ format: 'jwk' })
  return toBytes(Buffer.from(jwk.x!, 'base64url'))
}

function wrapContext(aead: HpkeAead, ctx: EncryptionContext): HpkeContext {
  return {
    aead,
    async seal(aad, plaintext) {
      return new Uint8Array(await ctx.seal(plaintext, aad))
    },
    async open(aad, ciphertext) {
      try {
        return new Uint8Array(await ctx.open(ciphertext, aad))
      } catch (cause) {
        throw new AppError('RECORD_INTEGRITY', { details: 'HPKE ciphertext did not authenticate', cause })
      }
    },
    async export(exporterContext, length) {
      return new Uint8Array(await ctx.export(exporterContext, length))
    },
  }
}

function checkLength(raw: Uint8Array, code: 'INVALID_KEY' | 'RECORD_INTEGRITY', details: string): Uint8Array {
  if (!(raw instanceof Uint8Array) || raw.length !== nsk) throw new AppError(code, { details })
  return raw
}

/** Runs a library KEM step; its errors (bad key, low-order point, all-zero DH) become `code`. */
async function kemCall<T>(step: Promise<T>, code: 'INVALID_KEY' | 'RECORD_INTEGRITY'): Promise<T> {
  try {
    return await step
  } catch (cause) {
    throw new AppError(code, { details: 'X25519 key or encapsulation refused by HPKE', cause })
  }
}

function bytesOf(b: ArrayBufferLike | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b)
}

function arrayBufferOf(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer
}
