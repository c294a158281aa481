import { openKeystore, sealKeystore, generateRecoveryCode, type Keystore } from '../crypto/keystore.ts'
import { AppError, isAppError } from '../errors.ts'
import { checkEmail, checkPassword } from './create-account.ts'
import { assertNotLocked, clearSignInFailures, recordSignInFailure, serializeSignIn, signInKey, type Clock } from './lockout.ts'
import { signInStates } from './sessions.ts'
import type { AccountRow } from './account.ts'
import type { Services } from '../services.ts'

/**
 * Sets a new password with the recovery code shown at sign-up: the keystore is opened with the
 * code and sealed again under the new password and a NEW recovery code (returned, shown once;
 * the old code stops working). Every session of the account ends. Failed attempts count
 * towards the same lock-out as sign-in, so codes cannot be guessed at speed.
 * @throws AppError INVALID_CREDENTIALS (unknown e-mail or wrong code, the same answer),
 *   WEAK_PASSWORD, ACCOUNT_LOCKED
 */
export async function recoverAccount(
  s: Pick<Services, 'db' | 'config'>,
  { email, recoveryCode, newPassword, clock = Date.now }: { email: unknown; recoveryCode: unknown; newPassword: unknown; clock?: Clock },
): Promise<{ recoveryCode: string }> {
  checkPassword(newPassword)
  const lockKey = signInKey(email)
  return serializeSignIn(lockKey, async () => {
    await assertNotLocked(s.db, lockKey, clock())
    let row: AccountRow | undefined
    let payload: Uint8Array
    try {
      let normalized = ''
      try { normalized = checkEmail(email) } catch { throw new AppError('INVALID_CREDENTIALS') }
      if (typeof recoveryCode !== 'string' || recoveryCode.length === 0 || recoveryCode.length > 200) throw new AppError('INVALID_CREDENTIALS')
      row = await s.db.get(`SELECT * FROM accounts WHERE email = ? AND state IN ${signInStates}`, normalized) as AccountRow | undefined
      if (!row) throw new AppError('INVALID_CREDENTIALS')
      ;({ payload } = await openKeystore(JSON.parse(row.keystore) as Keystore, { recoveryCode }))
    } catch (err) {
      if (isAppError(err, 'INVALID_CREDENTIALS')) {
        await recordSignInFailure(s.db, lockKey, clock())
        throw new AppError('INVALID_CREDENTIALS', { message: 'Wrong e-mail or recovery code.' })
      }
      throw err
    }
    const next = generateRecoveryCode()
    const { keystore } = await sealKeystore({ payload, password: newPassword as string, recoveryCode: next, kdf: s.config.kdf })
    const account = row!
    await s.db.transaction(async (tx) => {
      await tx.run('UPDATE accounts SET keystore = ? WHERE id = ?', JSON.stringify(keystore), account.id)
      await tx.run('DELETE FROM sessions WHERE account_id = ?', account.id)
    })
    await clearSignInFailures(s.db, lockKey)
    return { recoveryCode: next }
  })
}
