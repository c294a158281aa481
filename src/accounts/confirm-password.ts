import { openKeystore, type Keystore } from '../crypto/keystore.ts'
import { AppError, isAppError } from '../errors.ts'
import { assertNotLocked, clearSignInFailures, recordSignInFailure, serializeSignIn, signInKey, type Clock } from './lockout.ts'
import type { Actor } from './account.ts'
import type { Services } from '../services.ts'

export interface ConfirmPasswordParams {
  actor: Actor | undefined
  /** The account's current password, given in the request that changes a sign-in factor. */
  password: unknown
  /** The request's client address: wrong passwords count towards its sign-in lock-out. */
  clientAddress?: string
  clock?: Clock
}

/**
 * Checks the signed-in account's current password (Argon2id, against its keystore) before a
 * change to how the account signs in, whatever the session: a wallet session, or a stolen
 * token, cannot change factors without it. Wrong passwords count towards the same lock-out
 * as sign-in, so a session cannot be used to guess the password.
 * @throws AppError UNAUTHENTICATED, PASSWORD_REQUIRED, WRONG_PASSWORD, ACCOUNT_LOCKED
 */
export async function confirmPassword(s: Pick<Services, 'db' | 'signIn'>, { actor, password, clientAddress = '', clock = Date.now }: ConfirmPasswordParams): Promise<void> {
  if (!actor) throw new AppError('UNAUTHENTICATED')
  if (typeof password !== 'string' || password.length === 0) throw new AppError('PASSWORD_REQUIRED')
  const lockKey = signInKey(actor.account.email, clientAddress)
  await serializeSignIn(s.signIn, lockKey, async () => {
    await assertNotLocked(s.db, lockKey, clock())
    const row = await s.db.get('SELECT keystore FROM accounts WHERE id = ?', actor.account.id) as { keystore: string } | undefined
    if (!row) throw new AppError('UNAUTHENTICATED')
    try {
      if (password.length > 1024) throw new AppError('INVALID_CREDENTIALS')
      await openKeystore(JSON.parse(row.keystore) as Keystore, { password })
    } catch (err) {
      if (!isAppError(err, 'INVALID_CREDENTIALS')) throw err
      await recordSignInFailure(s.db, lockKey, clock())
      throw new AppError('WRONG_PASSWORD', { cause: err })
    }
    await clearSignInFailures(s.db, lockKey)
  })
}
