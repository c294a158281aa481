import { AppError } from '../errors.ts'
import { confirmPassword } from './confirm-password.ts'
import { recordAccountEvent } from './record-account-event.ts'
import type { Actor } from './account.ts'
import type { Clock } from './lockout.ts'
import type { Services } from '../services.ts'

export interface ResetMfaParams {
  actor: Actor | undefined
  /** The account whose second factor is reset. */
  accountId: string
  /** The acting staff member's or admin's own current password. */
  password: unknown
  clientAddress?: string
  clock?: Clock
}

/**
 * Resets another account's two-factor sign-in, for a member who lost their authenticator (or
 * found one they never enrolled): its TOTP secret and recovery codes are deleted and its
 * sessions end, so its next sign-in is with the password alone (and enrols again where the
 * role requires it). Hospital staff may reset their own hospital's doctors and patients, the
 * admin any account but their own; both confirm their own password in the request. The reset
 * is written to the account events; telling the member is the caller's part.
 * @throws AppError UNAUTHENTICATED, FORBIDDEN, UNKNOWN_ACCOUNT (also for an account the actor
 *   may not manage), PASSWORD_REQUIRED, WRONG_PASSWORD, ACCOUNT_LOCKED
 */
export async function resetMfa(s: Pick<Services, 'db' | 'signIn'>, { actor, accountId, password, clientAddress, clock = Date.now }: ResetMfaParams): Promise<{ accountId: string; mfaReset: true }> {
  if (!actor) throw new AppError('UNAUTHENTICATED')
  const me = actor.account
  if (me.role !== 'admin' && me.role !== 'staff') throw new AppError('FORBIDDEN')
  if (actor.mfaEnrollmentRequired) throw new AppError('MFA_ENROLLMENT_REQUIRED')
  if (accountId === me.id) throw new AppError('FORBIDDEN', { message: 'Reset your own two-factor sign-in with your recovery code, or ask the admin.' })
  const target = await s.db.get('SELECT id, role, hospital_id, state FROM accounts WHERE id = ?', accountId) as
    { id: string; role: string; hospital_id: string | null; state: string } | undefined
  const manages = target !== undefined && target.state !== 'remote' &&
    (me.role === 'admin' || (target.hospital_id !== null && target.hospital_id === me.hospitalId && (target.role === 'doctor' || target.role === 'patient')))
  if (!manages) throw new AppError('UNKNOWN_ACCOUNT')
  await confirmPassword(s, { actor, password, clientAddress, clock })
  await s.db.transaction(async (tx) => {
    await tx.run('DELETE FROM recovery_codes WHERE account_id = ?', accountId)
    await tx.run('DELETE FROM mfa WHERE account_id = ?', accountId)
    await tx.run('DELETE FROM sessions WHERE account_id = ?', accountId)
    await recordAccountEvent(tx, { accountId, kind: 'mfa-reset', actorId: me.id, now: clock() })
  })
  return { accountId, mfaReset: true }
}
