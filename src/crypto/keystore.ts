/**
 * Account private keys at rest. A random 32-byte keystore key encrypts the payload with
 * AES-256-GCM; the keystore key itself is wrapped twice, under Argon2id(password) and under
 * Argon2id(recovery code), each with its own salt. The KDF parameters are bound into the
 * payload's AAD, so a keystore whose parameters were lowered no longer opens.
 */
import { randomBytes } from 'node:crypto'
import { hashRaw, type Algorithm } from '@node-rs/argon2'
import { AppError } from '../errors.ts'
import { createAead } from './aead.ts'
import { decodeBase64url, encodeBase64url, toBytes, utf8 } from './bytes.ts'

// `Algorithm` is a const enum that the native binding does not export at runtime.
const argon2id = 2 as Algorithm.Argon2id

export interface KeystoreKdf {
  alg: 'argon2id'
  /** Memory in KiB. */
  m: number
  /** Passes. */
  t: number
  /** Lanes. */
  p: number
}

export interface KeystoreSlot {
  salt: string
  nonce: string
  wrapped: string
}

/** A sealed keystore: plain JSON, byte fields as unpadded base64url. */
export interface Keystore {
  v: 1
  kdf: KeystoreKdf
  password: KeystoreSlot
  recovery: KeystoreSlot
  payload: { nonce: string; ciphertext: string }
}

/** OWASP's Argon2id minimum: 19 MiB, 2 passes, 1 lane. */
export const defaultKeystoreKdf: Readonly<KeystoreKdf> = Object.freeze({ alg: 'argon2id', m: 19456, t: 2, p: 1 })

const keyLength = 32
const saltLength = 16
const nonceLength = 12
const wrappedLength = keyLength + 16
const maxMemoryKiB = 1 << 20 // 1 GiB: a stored keystore must not be able to exhaust the node
const maxPasses = 64
const maxLanes = 16
const slotAad = { password: utf8('medledger/keystore/v1/password'), recovery: utf8('medledger/keystore/v1/recovery') }

const recoveryAlphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ' // Crockford base32
const recoveryBytes = 20 // 160 bits: 32 characters, 8 groups of 4

/** Argon2id cost as given by callers (`alg` may be left out). */
export interface KeystoreKdfParams {
  alg?: 'argon2id'
  m: number
  t: number
  p: number
}

export interface SealKeystoreParams {
  payload: Uint8Array
  password: string
  recoveryCode: string
  /** Argon2id parameters; `defaultKeystoreKdf` unless given (tests use lower ones). */
  kdf?: Readonly<KeystoreKdfParams>
  signal?: AbortSignal
}

/**
 * Seals `payload` under a fresh keystore key, wrapped under the password and the recovery code.
 * Returns the keystore key too, for unlocking the session without re-running Argon2id.
 * @throws AppError BAD_REQUEST for KDF parameters out of range; INVALID_CREDENTIALS for a
 *   recovery code that is not one `generateRecoveryCode` could produce.
 */
export async function sealKeystore({
  payload,
  password,
  recoveryCode,
  kdf = defaultKeystoreKdf,
  signal,
}: SealKeystoreParams): Promise<{ keystore: Keystore; key: Uint8Array }> {
  const checkedKdf = checkKdf({ ...kdf, alg: kdf.alg ?? 'argon2id' }, 'BAD_REQUEST')
  const key = toBytes(randomBytes(keyLength))
  const [passwordSlot, recoverySlot] = await Promise.all([
    sealSlot(key, normalizePassword(password), checkedKdf, slotAad.password, signal),
    sealSlot(key, normalizeRecoveryCode(recoveryCode), checkedKdf, slotAad.recovery, signal),
  ])
  const nonce = toBytes(randomBytes(nonceLength))
  const ciphertext = createAead('aes-256-gcm', key).seal(nonce, payloadAad(checkedKdf), payload)
  const keystore: Keystore = {
    v: 1,
    kdf: checkedKdf,
    password: passwordSlot,
    recovery: recoverySlot,
    payload: { nonce: encodeBase64url(nonce), ciphertext: encodeBase64url(ciphertext) },
  }
  return { keystore, key }
}

/**
 * Opens a keystore with the password or the recovery code.
 * @throws AppError INVALID_CREDENTIALS for a wrong password or recovery code;
 *   KEYSTORE_LOCKED when the keystore is malformed or its payload fails authentication.
 */
export async function openKeystore(
  keystore: Keystore,
  secret: { password: string } | { recoveryCode: string },
  { signal }: { signal?: AbortSignal } = {},
): Promise<{ key: Uint8Array; payload: Uint8Array }> {
  const parsed = parseKeystore(keystore)
  const byPassword = 'password' in secret
  const slot = byPassword ? parsed.password : parsed.recovery
  const input = byPassword ? normalizePassword(secret.password) : normalizeRecoveryCode(secret.recoveryCode)
  const kek = await deriveKek(input, slot.salt, parsed.kdf, signal)
  const key = createAead('aes-256-gcm', kek).open(slot.nonce, byPassword ? slotAad.password : slotAad.recovery, slot.wrapped)
  kek.fill(0)
  if (key === undefined) {
    throw new AppError('INVALID_CREDENTIALS', byPassword ? {} : { message: 'Wrong recovery code.' })
  }
  return { key, payload: openPayload(parsed, key) }
}

/**
 * Opens a keystore with its keystore key (session unlock: no Argon2id).
 * @throws AppError KEYSTORE_LOCKED when the key does not open it or it is malformed.
 */
export function openKeystoreWithKey(keystore: Keystore, key: Uint8Array): Uint8Array {
  return openPayload(parseKeystore(keystore), key)
}

/**
 * A copy of `keystore` whose password slot is re-wrapped under `newPassword`; the recovery
 * slot and the payload are unchanged.
 * @throws AppError KEYSTORE_LOCKED when `key` does not open the keystore or it is malformed.
 */
export async function changeKeystorePassword(
  keystore: Keystore,
  key: Uint8Array,
  newPassword: string,
  { signal }: { signal?: AbortSignal } = {},
): Promise<Keystore> {
  const parsed = parseKeystore(keystore)
  openPayload(parsed, key).fill(0) // proves the key (and the stored KDF parameters) before re-wrapping
  const password = await sealSlot(key, normalizePassword(newPassword), parsed.kdf, slotAad.password, signal)
  return {
    v: 1,
    kdf: { ...parsed.kdf },
    password,
    recovery: { ...keystore.recovery },
    payload: { ...keystore.payload },
  }
}

/**
 * A fresh recovery code: 160 random bits as 8 groups of 4 Crockford base32 characters
 * (`7K2M-…`). Input is forgiving: case, spaces, hyphens and O/I/L for 0/1/1 are accepted.
 */
export function generateRecoveryCode(): string {
  const bytes = randomBytes(recoveryBytes)
  let chars = ''
  let buffer = 0
  let bits = 0
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte
    bits += 8
    while (bits >= 5) {
      bits -= 5
      chars += recoveryAlphabet[(buffer >> bits) & 31]
    }
  }
  return chars.match(/.{4}/g)!.join('-')
}

interface ParsedSlot {
  salt: Uint8Array
  nonce: Uint8Array
  wrapped: Uint8Array
}

interface ParsedKeystore {
  kdf: KeystoreKdf
  password: ParsedSlot
  recovery: ParsedSlot
  payload: { nonce: Uint8Array; ciphertext: Uint8Array }
}

async function sealSlot(key: Uint8Array, secret: string, kdf: KeystoreKdf, aad: Uint8Array, signal?: AbortSignal): Promise<KeystoreSlot> {
  const salt = toBytes(randomBytes(saltLength))
  const nonce = toBytes(randomBytes(nonceLength))
  const kek = await deriveKek(secret, salt, kdf, signal)
  const wrapped = createAead('aes-256-gcm', kek).seal(nonce, aad, key)
  kek.fill(0)
  return { salt: encodeBase64url(salt), nonce: encodeBase64url(nonce), wrapped: encodeBase64url(wrapped) }
}

async function deriveKek(secret: string, salt: Uint8Array, kdf: KeystoreKdf, signal?: AbortSignal): Promise<Uint8Array> {
  const kek = await hashRaw(secret, {
    algorithm: argon2id,
    memoryCost: kdf.m,
    timeCost: kdf.t,
    parallelism: kdf.p,
    outputLen: keyLength,
    salt,
  }, signal)
  return toBytes(kek)
}

function openPayload(parsed: ParsedKeystore, key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== keyLength) {
    throw new AppError('KEYSTORE_LOCKED', { details: 'a keystore key is 32 bytes' })
  }
  const payload = createAead('aes-256-gcm', key).open(parsed.payload.nonce, payloadAad(parsed.kdf), parsed.payload.ciphertext)
  if (payload === undefined) throw new AppError('KEYSTORE_LOCKED', { details: 'keystore payload failed authentication' })
  return payload
}

function payloadAad(kdf: KeystoreKdf): Uint8Array {
  return utf8(`medledger/keystore/v1/payload;argon2id;m=${kdf.m};t=${kdf.t};p=${kdf.p}`)
}

function parseKeystore(keystore: Keystore): ParsedKeystore {
  const fail = (details: string): never => {
    throw new AppError('KEYSTORE_LOCKED', { details: `malformed keystore: ${details}` })
  }
  if (typeof keystore !== 'object' || keystore === null) fail('not an object')
  if (keystore.v !== 1) fail(`unsupported version ${String(keystore.v)}`)
  const kdf = checkKdf(keystore.kdf, 'KEYSTORE_LOCKED')
  const slot = (name: 'password' | 'recovery'): ParsedSlot => {
    const s = keystore[name]
    if (typeof s !== 'object' || s === null) return fail(`${name} slot missing`)
    const salt = decodeBase64url(s.salt, saltLength)
    const nonce = decodeBase64url(s.nonce, nonceLength)
    const wrapped = decodeBase64url(s.wrapped, wrappedLength)
    if (!salt || !nonce || !wrapped) return fail(`${name} slot fields`)
    return { salt, nonce, wrapped }
  }
  const payload = keystore.payload
  if (typeof payload !== 'object' || payload === null) fail('payload missing')
  const nonce = decodeBase64url(payload.nonce, nonceLength)
  const ciphertext = decodeBase64url(payload.ciphertext)
  if (!nonce || !ciphertext || ciphertext.length < 16) fail('payload fields')
  return { kdf, password: slot('password'), recovery: slot('recovery'), payload: { nonce: nonce!, ciphertext: ciphertext! } }
}

function checkKdf(kdf: Readonly<KeystoreKdf> | undefined, code: 'BAD_REQUEST' | 'KEYSTORE_LOCKED'): KeystoreKdf {
  const ok = typeof kdf === 'object' && kdf !== null &&
    kdf.alg === 'argon2id' &&
    Number.isInteger(kdf.p) && kdf.p >= 1 && kdf.p <= maxLanes &&
    Number.isInteger(kdf.t) && kdf.t >= 1 && kdf.t <= maxPasses &&
    Number.isInteger(kdf.m) && kdf.m >= 8 * kdf.p && kdf.m <= maxMemoryKiB
  if (!ok) {
    throw new AppError(code, {
      details: `Argon2id parameters out of range (m ${8}…${maxMemoryKiB} KiB and ≥ 8p, t 1…${maxPasses}, p 1…${maxLanes})`,
    })
  }
  return { alg: 'argon2id', m: kdf.m, t: kdf.t, p: kdf.p }
}

function normalizePassword(password: string): string {
  if (typeof password !== 'string') throw new AppError('INVALID_CREDENTIALS')
  // The same password typed on another device may arrive in another Unicode normal form.
  return password.normalize('NFC')
}

function normalizeRecoveryCode(code: string): string {
  const normalized = typeof code === 'string'
    ? code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1')
    : ''
  if (normalized.length !== 32 || [...normalized].some((c) => !recoveryAlphabet.includes(c))) {
    throw new AppError('INVALID_CREDENTIALS', { message: 'Wrong recovery code.', details: 'not a well-formed recovery code' })
  }
  return normalized
}
