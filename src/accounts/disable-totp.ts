import { AppError, isAppError } from '../errors.ts'
import { confirmPassword } from './confirm-password.ts'
import { hasTotpEnabled, mfaRequiredForRole, useSecondFactor, type FactorChangeParams, type MfaServices } from './mfa.ts'
import { recordSignInFailure, signInKey } from './lockout.ts'
import { recordAccountEvent } from './record-account-event.ts'

/**
 * Turns two-factor sign-in off for the signed-in account: needs its current password and a
 * code from the authenticator (or a recovery code) in the same request, whatever the session.
 * The TOTP secret and the recovery codes are deleted and the change is written to the account
 * events. A role that requires a second factor (MEDLEDGER_MFA_ROLES) cannot turn it off.
 * Wrong passwords and codes count towards the sign-in lock-out of the client address.
 * @throws AppError UNAUTHENTICATED, MFA_REQUIRED_BY_ROLE, MFA_NOT_ENABLED, PASSWORD_REQUIRED, WRONG_PASSWORD,
 *   MFA_REQUIRED, MFA_INVALID, MFA_REPLAYED, ACCOUNT_LOCKED
 */
export async function disableTotp(s: MfaServices, { actor, password, code, clientAddress = '', clock = Date.now }: FactorChangeParams & { code: unknown }): Promise<{ totpEnabled: false }> {
  if (!actor) throw new AppError('UNAUTHENTICATED')
  const accountId = actor.account.id
  if (mfaRequiredForRole(s, actor.account.role)) throw new AppError('MFA_REQUIRED_BY_ROLE')
  if (!(await hasTotpEnabled(s, accountId))) throw new AppError('MFA_NOT_ENABLED')
  await confirmPassword(s, { actor, password, clientAddress, clock })
  try {
    await useSecondFactor(s, { accountId, code, clock })
  } catch (err) {
    if (isAppError(err, 'MFA_INVALID', 'MFA_REPLAYED')) await recordSignInFailure(s.db, signInKey(actor.account.email, clientAddress), clock())
    throw err
  }
  await s.db.transaction(async (tx) => {
    await tx.run('DELETE FROM recovery_codes WHERE account_id = ?', accountId)
    await tx.run('DELETE FROM mfa WHERE account_id = ?', accountId)
    await recordAccountEvent(tx, { accountId, kind: 'mfa-disabled', actorId: accountId, now: clock() })
  })
  return { totpEnabled: false }
}
