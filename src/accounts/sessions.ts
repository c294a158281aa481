import { hkdfSync, randomBytes } from 'node:crypto'
import { createAead } from '../crypto/aead.ts'
import { openKeystore, openKeystoreWithKey, sealKeystore, generateRecoveryCode, type Keystore } from '../crypto/keystore.ts'
import { generateToken, hashToken } from '../crypto/tokens.ts'
import { utf8 } from '../crypto/bytes.ts'
import { AppError, isAppError } from '../errors.ts'
import { decodeAccountSecrets } from './account-secrets.ts'
import { checkEmail } from './create-account.ts'
import { toAccount, type Account, type AccountRow, type Actor } from './account.ts'
import type { Services } from '../services.ts'

export interface LoginResult {
  /** The bearer token: shown to the client once, stored here only as its SHA-256. */
  token: string
  expiresAt: string
  account: Account
}

// Sessions keep the keystore key wrapped under a key derived from the token, which only the
// client holds: the database alone cannot unlock anyone's keys, and a session survives a
// restart of the node.
function sessionKek(token: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', utf8(token), new Uint8Array(0), utf8('medledger/session/v1'), 32))
}

let decoyKeystore: Promise<Keystore> | undefined

/**
 * Signs in with e-mail and password: opens the account's keystore (Argon2id) and creates a
 * session that can unlock it again for its lifetime.
 * @throws AppError INVALID_CREDENTIALS (same answer and similar time for an unknown e-mail)
 */
export async function login(s: Services, { email, password }: { email: unknown; password: unknown }): Promise<LoginResult> {
  let normalized: string
  try {
    normalized = checkEmail(email)
  } catch {
    throw new AppError('INVALID_CREDENTIALS')
  }
  if (typeof password !== 'string' || password.length === 0 || password.length > 1024) throw new AppError('INVALID_CREDENTIALS')
  const row = s.db.prepare(`SELECT * FROM accounts WHERE email = ? AND state IN ('active', 'pending')`).get(normalized) as AccountRow | undefined
  if (!row) {
    // Spend the same Argon2id work so timing does not tell which e-mails have accounts.
    decoyKeystore ??= sealKeystore({ payload: randomBytes(16), password: generateToken(), recoveryCode: generateRecoveryCode(), kdf: s.config.kdf }).then((r) => r.keystore)
    await openKeystore(await decoyKeystore, { password }).catch(() => undefined)
    throw new AppError('INVALID_CREDENTIALS')
  }
  const { key } = await openKeystore(JSON.parse(row.keystore) as Keystore, { password })
  const token = generateToken()
  const nonce = randomBytes(12)
  const tokenHash = hashToken(token)
  const wrapped = Buffer.concat([nonce, createAead('aes-256-gcm', sessionKek(token)).seal(nonce, utf8(tokenHash), key)])
  const expiresAt = Date.now() + s.config.sessionTtlSeconds * 1000
  s.db.prepare('INSERT INTO sessions (token_hash, account_id, wrapped_key, expires_at, created_at) VALUES (?, ?, ?, ?, ?)')
    .run(tokenHash, row.id, wrapped, expiresAt, Date.now())
  s.db.prepare('DELETE FROM sessions WHERE expires_at < ?').run(Date.now())
  return { token, expiresAt: new Date(expiresAt).toISOString(), account: toAccount(row) }
}

const unlocked = new Map<string, { actor: Actor; expiresAt: number }>()

/**
 * The actor behind a bearer token, with its keys unlocked.
 * @throws AppError SESSION_EXPIRED for an unknown, ended or expired token
 */
export function authenticate(s: Services, token: string): Actor {
  const tokenHash = hashToken(token)
  const cached = unlocked.get(tokenHash)
  if (cached && cached.expiresAt > Date.now()) return cached.actor
  unlocked.delete(tokenHash)
  const session = s.db.prepare('SELECT * FROM sessions WHERE token_hash = ?').get(tokenHash) as
    { account_id: string; wrapped_key: Buffer; expires_at: number } | undefined
  if (!session || session.expires_at <= Date.now()) throw new AppError('SESSION_EXPIRED')
  const row = s.db.prepare(`SELECT * FROM accounts WHERE id = ? AND state IN ('active', 'pending')`).get(session.account_id) as AccountRow | undefined
  if (!row) throw new AppError('SESSION_EXPIRED')
  const nonce = session.wrapped_key.subarray(0, 12)
  const key = createAead('aes-256-gcm', sessionKek(token)).open(nonce, utf8(tokenHash), session.wrapped_key.subarray(12))
  if (!key) throw new AppError('SESSION_EXPIRED')
  let actor: Actor
  try {
    actor = { account: toAccount(row), keys: decodeAccountSecrets(openKeystoreWithKey(JSON.parse(row.keystore) as Keystore, key)) }
  } catch (err) {
    if (isAppError(err)) throw err
    throw new AppError('KEYSTORE_LOCKED', { cause: err })
  }
  if (unlocked.size > 10_000) unlocked.clear()
  unlocked.set(tokenHash, { actor, expiresAt: session.expires_at })
  return actor
}

/** Ends a session: its token no longer works and its unlocked keys are dropped. */
export function logout(s: Services, token: string): void {
  const tokenHash = hashToken(token)
  unlocked.delete(tokenHash)
  s.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash)
}
