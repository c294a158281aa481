import { offThreadAccount } from '../ledger/sign-worker.ts'
import type { Hex } from 'viem'
import { decodeBase64url, encodeBase64url, utf8 } from '../crypto/bytes.ts'
import { AppError } from '../errors.ts'
import type { UnlockedKeys } from './account.ts'

/** Serialises an account's private keys for its keystore. */
export function encodeAccountSecrets(ledgerKey: Hex, encryptionPrivateKey: Uint8Array): Uint8Array {
  return utf8(JSON.stringify({ v: 1, ledgerKey, encryptionPrivateKey: encodeBase64url(encryptionPrivateKey) }))
}

/**
 * Parses what `encodeAccountSecrets` wrote.
 * @throws AppError KEYSTORE_LOCKED when malformed.
 */
export function decodeAccountSecrets(payload: Uint8Array): UnlockedKeys {
  try {
    const o = JSON.parse(Buffer.from(payload).toString('utf8')) as { ledgerKey: Hex; encryptionPrivateKey: string }
    const enc = decodeBase64url(o.encryptionPrivateKey)
    if (!enc) throw new Error('bad encryption key')
    return { ledger: offThreadAccount(o.ledgerKey), encryptionPrivateKey: enc }
  } catch (cause) {
    throw new AppError('KEYSTORE_LOCKED', { cause, details: 'keystore payload is malformed' })
  }
}

/**
 * The encryption private key alone of what `encodeAccountSecrets` wrote: no ledger account is
 * made (deriving its address is a secp256k1 multiplication, about 0.7 ms of CPU). The payload is
 * zeroed once read.
 * @throws AppError KEYSTORE_LOCKED when malformed.
 */
export function decodeEncryptionKey(payload: Uint8Array): Uint8Array {
  try {
    const o = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8')) as { encryptionPrivateKey: string }
    const enc = decodeBase64url(o.encryptionPrivateKey)
    if (!enc) throw new Error('bad encryption key')
    return enc
  } catch (cause) {
    throw new AppError('KEYSTORE_LOCKED', { cause, details: 'keystore payload is malformed' })
  } finally {
    payload.fill(0)
  }
}
