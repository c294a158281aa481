/**
 * Password hashing for sign-in: Argon2id PHC strings (OWASP minimum: 19 MiB, 2 passes, 1 lane).
 * Passwords are NFC-normalised first, as the keystore does, so the same password typed on
 * another device still matches.
 */
import { hash, verify, type Algorithm } from '@node-rs/argon2'

// `Algorithm` is a const enum that the native binding does not export at runtime.
const argon2id = 2 as Algorithm.Argon2id

/** Argon2id cost, as in the node's config (`kdf`). */
export interface PasswordHashCost {
  /** Memory in KiB (default 19456). */
  m?: number
  /** Passes (default 2). */
  t?: number
  /** Lanes (default 1). */
  p?: number
}

/** Hashes `password` into an Argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`). */
export async function hashPassword(password: string, { m = 19456, t = 2, p = 1 }: PasswordHashCost = {}): Promise<string> {
  return hash(password.normalize('NFC'), { algorithm: argon2id, memoryCost: m, timeCost: t, parallelism: p })
}

/**
 * True when `password` matches the PHC string `phc`. A malformed or empty `phc` (an account
 * without a password) never matches.
 */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  if (typeof phc !== 'string' || !phc.startsWith('$argon2') || typeof password !== 'string') return false
  try {
    return await verify(phc, password.normalize('NFC'))
  } catch {
    return false
  }
}
