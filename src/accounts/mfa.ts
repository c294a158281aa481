import { createHash, randomBytes } from 'node:crypto'
import QRCode from 'qrcode'
import { utf8 } from '../crypto/bytes.ts'
import { AppError } from '../errors.ts'
import { openWithNodeKey, sealWithNodeKey } from './node-key.ts'
import { generateTotpSecret, matchTotp, totpUri } from './totp.ts'
import type { Actor, Role } from './account.ts'
import type { Clock } from './lockout.ts'
import { confirmPassword } from './confirm-password.ts'
import { recordAccountEvent } from './record-account-event.ts'
import type { Services } from '../services.ts'

/** What the MFA functions need of a node: its database, configuration and node key. */
export type MfaServices = Pick<Services, 'db' | 'config' | 'nodeKey' | 'signIn'>

export interface TotpEnrolment {
  /** `otpauth://totp/MedLedger:EMAIL?secret=…&issuer=MedLedger&algorithm=SHA1&digits=6&period=30` */
  otpauthUri: string
  /** The base32 secret, for typing into an app by hand. Shown here once; kept sealed. */
  secret: string
  /** The URI as a QR code, an SVG document. */
  qrSvg: string
}

export interface MfaStatus {
  /** The role of the account needs a second factor (MEDLEDGER_MFA_ROLES). */
  required: boolean
  totpEnabled: boolean
  /** An enrolment was started and waits for its first code. */
  enrolmentPending: boolean
  /** Unused recovery codes. */
  recoveryCodesLeft: number
}

interface MfaRow { account_id: string; sealed_secret: string; enabled: number; last_step: number | null; created_at: number }

const recoveryCodeCount = 10
// Crockford base32: no I, L, O or U, so codes survive being read out or written down.
const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

function secretLabel(accountId: string): string {
  return `mfa-totp:${accountId}`
}

async function mfaRow(s: MfaServices, accountId: string): Promise<MfaRow | undefined> {
  return await s.db.get('SELECT * FROM mfa WHERE account_id = ?', accountId) as MfaRow | undefined
}

/** True when accounts of `role` must sign in with a second factor. */
export function mfaRequiredForRole(s: Pick<Services, 'config'>, role: Role): boolean {
  return s.config.mfaRoles.includes(role)
}

/** True when the account has a confirmed authenticator. */
export async function hasTotpEnabled(s: Pick<Services, 'db'>, accountId: string): Promise<boolean> {
  return Boolean(await s.db.get('SELECT 1 FROM mfa WHERE account_id = ? AND enabled = 1', accountId))
}

/** True while the account's role needs a second factor that it has not confirmed yet. */
export async function needsMfaEnrollment(s: Pick<Services, 'db' | 'config'>, account: { id: string; role: Role }): Promise<boolean> {
  return mfaRequiredForRole(s, account.role) && !(await hasTotpEnabled(s, account.id))
}

/** The account's two-factor state. */
export async function getMfaStatus(s: MfaServices, account: { id: string; role: Role }): Promise<MfaStatus> {
  const row = await mfaRow(s, account.id)
  const left = row?.enabled
    ? (await s.db.get('SELECT count(*) AS n FROM recovery_codes WHERE account_id = ? AND used_at IS NULL', account.id) as { n: number }).n
    : 0
  return { required: mfaRequiredForRole(s, account.role), totpEnabled: Boolean(row?.enabled), enrolmentPending: row !== undefined && !row.enabled, recoveryCodesLeft: left }
}

/** A change of sign-in factor: the signed-in actor and the account's current password, given in that request. */
export interface FactorChangeParams {
  actor: Actor | undefined
  /** The account's current password: needed whatever the session (a wallet session too). */
  password: unknown
  /** The request's client address, for the lock-out of wrong passwords. */
  clientAddress?: string
  clock?: Clock
}

/**
 * Starts TOTP enrolment for the signed-in account, once its current password is confirmed: a
 * fresh secret, sealed under the node key, waiting for its first code. Starting again before
 * confirming replaces the secret.
 * @throws AppError UNAUTHENTICATED, PASSWORD_REQUIRED, WRONG_PASSWORD, ACCOUNT_LOCKED, MFA_ALREADY_ENABLED
 */
export async function startTotpEnrolment(s: MfaServices, { actor, password, clientAddress, clock = Date.now }: FactorChangeParams): Promise<TotpEnrolment> {
  if (!actor) throw new AppError('UNAUTHENTICATED')
  const accountId = actor.account.id
  if (await hasTotpEnabled(s, accountId)) throw new AppError('MFA_ALREADY_ENABLED')
  await confirmPassword(s, { actor, password, clientAddress, clock })
  const secret = generateTotpSecret()
  const sealed = sealWithNodeKey(s.nodeKey, secretLabel(accountId), utf8(secret))
  const changed = await s.db.run(`INSERT INTO mfa (account_id, sealed_secret, enabled, last_step, created_at) VALUES (?, ?, 0, NULL, ?)
    ON CONFLICT(account_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, last_step = NULL, created_at = excluded.created_at WHERE mfa.enabled = 0`, accountId, sealed, clock())
  if (changed.changes === 0) throw new AppError('MFA_ALREADY_ENABLED')
  const otpauthUri = totpUri({ secret, label: actor.account.email })
  const qrSvg = await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
  return { otpauthUri, secret, qrSvg }
}

/**
 * Confirms a started enrolment with a first code from the app, once the account's current
 * password is confirmed in the same request: TOTP is then required at every sign-in of this
 * account, and the change is written to the account events. Returns ten one-time recovery
 * codes, shown only now (only their SHA-256 is kept); each stands in once for a code.
 * @throws AppError UNAUTHENTICATED, PASSWORD_REQUIRED, WRONG_PASSWORD, ACCOUNT_LOCKED,
 *   MFA_NOT_STARTED, MFA_ALREADY_ENABLED, MFA_INVALID
 */
export async function confirmTotpEnrolment(s: MfaServices, { actor, code, password, clientAddress, clock = Date.now }: FactorChangeParams & { code: unknown }): Promise<{ recoveryCodes: string[] }> {
  if (!actor) throw new AppError('UNAUTHENTICATED')
  const accountId = actor.account.id
  const row = await mfaRow(s, accountId)
  if (!row) throw new AppError('MFA_NOT_STARTED')
  if (row.enabled) throw new AppError('MFA_ALREADY_ENABLED')
  await confirmPassword(s, { actor, password, clientAddress, clock })
  const step = matchTotp({ secret: openSecret(s, row), code: compactCode(code), nowMs: clock() })
  if (step === undefined) throw new AppError('MFA_INVALID')
  const recoveryCodes = Array.from({ length: recoveryCodeCount }, generateMfaRecoveryCode)
  await s.db.transaction(async (tx) => {
    // The secret must still be the one the code was checked against (no enrolment restarted meanwhile).
    const done = await tx.run('UPDATE mfa SET enabled = 1, last_step = ? WHERE account_id = ? AND enabled = 0 AND sealed_secret = ?', step, accountId, row.sealed_secret)
    if (done.changes !== 1) throw new AppError('MFA_NOT_STARTED')
    await tx.run('DELETE FROM recovery_codes WHERE account_id = ?', accountId)
    for (const c of recoveryCodes) await tx.run('INSERT INTO recovery_codes (account_id, code_hash, used_at) VALUES (?, ?, NULL)', accountId, hashMfaRecoveryCode(accountId, c))
    await recordAccountEvent(tx, { accountId, kind: 'mfa-enabled', actorId: accountId, now: clock() })
  })
  return { recoveryCodes }
}

/**
 * Checks the second factor of a sign-in when the account has TOTP enabled, and uses it up: a
 * TOTP code is accepted for a time step later than the last accepted one (so never twice), a
 * recovery code once. Does nothing for an account without TOTP.
 * @returns which factor was used, or undefined when none was needed
 * @throws AppError MFA_REQUIRED (no code given), MFA_INVALID, MFA_REPLAYED
 */
export async function useSecondFactor(s: MfaServices, { accountId, code, clock = Date.now }: { accountId: string; code: unknown; clock?: Clock }): Promise<'totp' | 'recovery' | undefined> {
  const row = await mfaRow(s, accountId)
  if (!row?.enabled) return undefined
  const compact = compactCode(code)
  if (compact === '') throw new AppError('MFA_REQUIRED')
  if (/^\d{6}$/.test(compact)) {
    const step = matchTotp({ secret: openSecret(s, row), code: compact, nowMs: clock() })
    if (step === undefined) throw new AppError('MFA_INVALID')
    // The condition in the UPDATE makes the check and the use one step: two parallel sign-ins
    // with one code cannot both pass.
    const used = await s.db.run('UPDATE mfa SET last_step = ? WHERE account_id = ? AND enabled = 1 AND (last_step IS NULL OR last_step < ?)', step, accountId, step)
    if (used.changes !== 1) throw new AppError('MFA_REPLAYED')
    return 'totp'
  }
  const hash = hashMfaRecoveryCode(accountId, compact)
  const used = await s.db.run('UPDATE recovery_codes SET used_at = ? WHERE account_id = ? AND code_hash = ? AND used_at IS NULL', clock(), accountId, hash)
  if (used.changes === 1) return 'recovery'
  if (await s.db.get('SELECT 1 FROM recovery_codes WHERE account_id = ? AND code_hash = ?', accountId, hash)) throw new AppError('MFA_REPLAYED')
  throw new AppError('MFA_INVALID')
}

function openSecret(s: MfaServices, row: MfaRow): string {
  return Buffer.from(openWithNodeKey(s.nodeKey, secretLabel(row.account_id), row.sealed_secret)).toString('utf8')
}

/** A code as typed: spaces and hyphens dropped, upper case; '' when absent. */
function compactCode(code: unknown): string {
  return typeof code === 'string' ? code.replace(/[\s-]/g, '').toUpperCase().slice(0, 64) : ''
}

/** A fresh recovery code: 80 random bits as four groups of four Crockford base32 characters. */
export function generateMfaRecoveryCode(): string {
  const bytes = randomBytes(10)
  let bits = 0n
  for (const b of bytes) bits = (bits << 8n) | BigInt(b)
  let chars = ''
  for (let i = 0; i < 16; i++) {
    chars = crockford[Number(bits & 31n)] + chars
    bits >>= 5n
  }
  return chars.match(/.{4}/g)!.join('-')
}

/** The stored form of a recovery code: SHA-256 over the account id and the normalised code. */
export function hashMfaRecoveryCode(accountId: string, code: string): string {
  const normalized = code.replace(/[\s-]/g, '').toUpperCase().replace(/O/g, '0').replace(/[IL]/g, '1')
  return createHash('sha256').update(`medledger/mfa-recovery/v1\0${accountId}\0${normalized}`, 'utf8').digest('hex')
}
