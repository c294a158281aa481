import { hkdfSync, randomBytes } from 'node:crypto'
import { createAead } from '../crypto/aead.ts'
import { openKeystore, openKeystoreWithKey, sealKeystore, generateRecoveryCode, type Keystore } from '../crypto/keystore.ts'
import { generateToken, hashToken } from '../crypto/tokens.ts'
import { utf8 } from '../crypto/bytes.ts'
import { AppError, isAppError } from '../errors.ts'
import { decodeAccountSecrets } from './account-secrets.ts'
import { checkEmail } from './create-account.ts'
import { toAccount, type Account, type AccountRow, type Actor, type UnlockedKeys } from './account.ts'
import { assertNotLocked, clearSignInFailures, recordSignInFailure, serializeSignIn, signInKey, type Clock } from './lockout.ts'
import { needsMfaEnrollment, useSecondFactor } from './mfa.ts'
import type { Services } from '../services.ts'

/** What signing in needs of a node. */
export type SessionServices = Pick<Services, 'db' | 'config' | 'nodeKey' | 'signIn'>

export interface LoginResult {
  /** The bearer token: shown to the client once, stored here only as its SHA-256. */
  token: string
  expiresAt: string
  account: Account
  /**
   * The account's role needs two-factor sign-in and no authenticator is confirmed yet: until
   * one is, this session may only enrol it, read /auth/me and sign out.
   */
  mfaEnrollmentRequired: boolean
  /** False for a session opened without the password (a wallet): it cannot use the account's keys. */
  keysUnlocked: boolean
}

/** Accounts in these states may sign in (a pending doctor signs in but does nothing clinical). */
export const signInStates = `('active', 'pending')`

// Sessions keep the keystore key wrapped under a key derived from the token, which only the
// client holds: the database alone cannot unlock anyone's keys, and a session survives a
// restart of the node.
function sessionKek(token: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', utf8(token), new Uint8Array(0), utf8('medledger/session/v1'), 32))
}

/** Failures that count towards locking the account: a wrong password or a wrong or reused code. */
const countedFailures = ['INVALID_CREDENTIALS', 'MFA_INVALID', 'MFA_REPLAYED'] as const

/**
 * Signs in with e-mail, password and — when the account has an authenticator — a TOTP or
 * recovery code: opens the account's keystore (Argon2id) and creates a session that can
 * unlock it again for its lifetime. Failed attempts lock the e-mail out, for the client address
 * they came from (`clientAddress`, the request's address), with growing back-off
 * (`lockoutPolicy`); a success forgets them.
 * @throws AppError INVALID_CREDENTIALS (same answer and similar time for an unknown e-mail),
 *   MFA_REQUIRED, MFA_INVALID, MFA_REPLAYED, ACCOUNT_LOCKED
 */
export async function login(
  s: SessionServices,
  { email, password, totp, clientAddress = '', clock = Date.now }: { email: unknown; password: unknown; totp?: unknown; clientAddress?: string; clock?: Clock },
): Promise<LoginResult> {
  const lockKey = signInKey(email, clientAddress)
  return serializeSignIn(s.signIn, lockKey, async () => {
    await assertNotLocked(s.db, lockKey, clock())
    let row: AccountRow
    let key: Uint8Array
    try {
      ({ row, key } = await checkPassword(s, { email, password }))
      await useSecondFactor(s, { accountId: row.id, code: totp, clock })
    } catch (err) {
      if (isAppError(err, ...countedFailures)) await recordSignInFailure(s.db, lockKey, clock())
      throw err
    }
    await clearSignInFailures(s.db, lockKey)
    return await openSession(s, { row, keystoreKey: key, clock })
  })
}

async function checkPassword(s: SessionServices, { email, password }: { email: unknown; password: unknown }): Promise<{ row: AccountRow; key: Uint8Array }> {
  let normalized: string
  try {
    normalized = checkEmail(email)
  } catch {
    throw new AppError('INVALID_CREDENTIALS')
  }
  if (typeof password !== 'string' || password.length === 0 || password.length > 1024) throw new AppError('INVALID_CREDENTIALS')
  const row = await s.db.get(`SELECT * FROM accounts WHERE email = ? AND state IN ${signInStates}`, normalized) as AccountRow | undefined
  if (!row) {
    // Spend the same Argon2id work so timing does not tell which e-mails have accounts.
    s.signIn.decoys.login ??= sealKeystore({ payload: randomBytes(16), password: generateToken(), recoveryCode: generateRecoveryCode(), kdf: s.config.kdf }).then((r) => r.keystore)
    await openKeystore(await s.signIn.decoys.login, { password }).catch(() => undefined)
    throw new AppError('INVALID_CREDENTIALS')
  }
  const { key } = await openKeystore(JSON.parse(row.keystore) as Keystore, { password })
  return { row, key }
}

/**
 * Creates a session for an account that has just proved who it is. With `keystoreKey` (a
 * password sign-in) the session can unlock the account's keys; without (a wallet sign-in) it
 * cannot, and operations that need them answer KEYS_LOCKED.
 */
export async function openSession(s: SessionServices, { row, keystoreKey, clock = Date.now }: { row: AccountRow; keystoreKey?: Uint8Array; clock?: Clock }): Promise<LoginResult> {
  const token = generateToken()
  const tokenHash = hashToken(token)
  let wrapped = Buffer.alloc(0)
  if (keystoreKey) {
    const nonce = randomBytes(12)
    wrapped = Buffer.concat([nonce, createAead('aes-256-gcm', sessionKek(token)).seal(nonce, utf8(tokenHash), keystoreKey)])
  }
  const now = clock()
  const expiresAt = now + s.config.sessionTtlSeconds * 1000
  await s.db.run('INSERT INTO sessions (token_hash, account_id, wrapped_key, expires_at, created_at) VALUES (?, ?, ?, ?, ?)', tokenHash, row.id, wrapped, expiresAt, now)
  await s.db.run('DELETE FROM sessions WHERE expires_at < ?', now)
  const account = toAccount(row)
  return {
    token,
    expiresAt: new Date(expiresAt).toISOString(),
    account,
    mfaEnrollmentRequired: await needsMfaEnrollment(s, account),
    keysUnlocked: keystoreKey !== undefined,
  }
}

// Unlocked keys are kept per session in the node's `signIn.unlocked`; the account row is read
// on every request, so a rejected account stops at once.
/**
 * The actor behind a bearer token, with its keys unlocked when the session was opened with
 * the password, and whether it is still restricted to enrolling a second factor.
 * @throws AppError SESSION_EXPIRED for an unknown, ended or expired token; KEYSTORE_LOCKED
 */
export async function authenticate(s: SessionServices, token: string): Promise<Actor> {
  const tokenHash = hashToken(token)
  const { unlocked } = s.signIn
  const session = await s.db.get('SELECT * FROM sessions WHERE token_hash = ?', tokenHash) as
    { account_id: string; wrapped_key: Buffer; expires_at: number } | undefined
  if (!session || session.expires_at <= Date.now()) {
    unlocked.delete(tokenHash)
    throw new AppError('SESSION_EXPIRED')
  }
  const row = await s.db.get(`SELECT * FROM accounts WHERE id = ? AND state IN ${signInStates}`, session.account_id) as AccountRow | undefined
  if (!row) throw new AppError('SESSION_EXPIRED')
  let cached = unlocked.get(tokenHash)
  if (!cached) {
    cached = { keys: unlockSessionKeys(token, tokenHash, session.wrapped_key, row), expiresAt: session.expires_at }
    if (unlocked.size > 10_000) unlocked.clear()
    unlocked.set(tokenHash, cached)
  }
  const account = toAccount(row)
  const actor: Actor = { account, mfaEnrollmentRequired: await needsMfaEnrollment(s, account) }
  if (cached.keys) actor.keys = cached.keys
  return actor
}

function unlockSessionKeys(token: string, tokenHash: string, wrapped: Buffer, row: AccountRow): UnlockedKeys | undefined {
  if (wrapped.length === 0) return undefined
  const key = createAead('aes-256-gcm', sessionKek(token)).open(wrapped.subarray(0, 12), utf8(tokenHash), wrapped.subarray(12))
  if (!key) throw new AppError('SESSION_EXPIRED')
  try {
    return decodeAccountSecrets(openKeystoreWithKey(JSON.parse(row.keystore) as Keystore, key))
  } catch (err) {
    if (isAppError(err)) throw err
    throw new AppError('KEYSTORE_LOCKED', { cause: err })
  }
}

/** Ends a session: its token no longer works and its unlocked keys are dropped. */
export async function logout(s: Pick<Services, 'db' | 'signIn'>, token: string): Promise<void> {
  const tokenHash = hashToken(token)
  s.signIn.unlocked.delete(tokenHash)
  await s.db.run('DELETE FROM sessions WHERE token_hash = ?', tokenHash)
}
