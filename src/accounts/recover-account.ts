import { openKeystore, sealKeystore, generateRecoveryCode, type Keystore } from '../crypto/keystore.ts'
import { AppError, isAppError } from '../errors.ts'
import { checkEmail, checkPassword } from './create-account.ts'
import { assertNotLocked, clearSignInFailures, recordSignInFailure, serializeSignIn, signInKey, type Clock } from './lockout.ts'
import { signInStates } from './sessions.ts'
import { recordAccountEvent } from './record-account-event.ts'
import type { AccountRow } from './account.ts'
import type { Services } from '../services.ts'

/**
 * Sets a new password with the recovery code shown at sign-up: the keystore is opened with the
 * code and sealed again under the new password and a NEW recovery code (returned, shown once;
 * the old code stops working). Every session of the account ends, and its two-factor sign-in
 * (TOTP secret and recovery codes) is reset, so an authenticator that someone else enrolled
 * cannot keep the owner out; the account enrols again where its role requires it. The
 * recovery is written to the account events. Failed attempts count towards the same lock-out
 * as sign-in (per client address), so codes cannot be guessed at speed.
 * @throws AppError INVALID_CREDENTIALS (unknown e-mail or wrong code, the same answer),
 *   WEAK_PASSWORD, ACCOUNT_LOCKED
 */
export async function recoverAccount(
  s: Pick<Services, 'db' | 'config' | 'signIn'>,
  { email, recoveryCode, newPassword, clientAddress = '', clock = Date.now }: { email: unknown; recoveryCode: unknown; newPassword: unknown; clientAddress?: string; clock?: Clock },
): Promise<{ recoveryCode: string }> {
  checkPassword(newPassword)
  const lockKey = signInKey(email, clientAddress)
  return serializeSignIn(s.signIn, lockKey, async () => {
    await assertNotLocked(s.db, lockKey, clock())
    let row: AccountRow | undefined
    let payload: Uint8Array
    try {
      let normalized = ''
      try { normalized = checkEmail(email) } catch { throw new AppError('INVALID_CREDENTIALS') }
      if (typeof recoveryCode !== 'string' || recoveryCode.length === 0 || recoveryCode.length > 200) throw new AppError('INVALID_CREDENTIALS')
      row = await s.db.get(`SELECT * FROM accounts WHERE email = ? AND state IN ${signInStates}`, normalized) as AccountRow | undefined
      if (!row) {
        // Spend the same Argon2id work as for a real account, so timing does not tell which e-mails have one.
        s.signIn.decoys.recovery ??= sealKeystore({ payload: new Uint8Array(16), password: generateRecoveryCode(), recoveryCode: generateRecoveryCode(), kdf: s.config.kdf }).then((r) => r.keystore)
        await openKeystore(await s.signIn.decoys.recovery, { recoveryCode }).catch(() => undefined)
        throw new AppError('INVALID_CREDENTIALS')
      }
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
      await tx.run('DELETE FROM recovery_codes WHERE account_id = ?', account.id)
      await tx.run('DELETE FROM mfa WHERE account_id = ?', account.id)
      await recordAccountEvent(tx, { accountId: account.id, kind: 'account-recovered', actorId: null, now: clock() })
    })
    await clearSignInFailures(s.db, lockKey)
    return { recoveryCode: next }
  })
}
