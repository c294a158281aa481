import type { Address } from 'viem'
import { keySchemeId, type KeyScheme } from '../crypto/key-wrap.ts'
import { sendRegistrationRequest } from '../ledger/registry-actions.ts'
import { decodeAccountSecrets } from './account-secrets.ts'
import { openKeystoreWithKey } from '../crypto/keystore.ts'
import { AppError } from '../errors.ts'
import { toAccount, type Account } from './account.ts'
import { findHospital } from './hospital.ts'
import { checkEmail, checkPassword, prepareAccount } from './create-account.ts'
import { checkName } from './create-hospital.ts'
import type { Services } from '../services.ts'

export interface SignUpParams {
  role: 'doctor' | 'patient'
  /** Hospital id or ledger address. */
  hospital: string
  email: string
  name: string
  password: string
  /** Doctors: their licence number (kept off chain, shown to whoever confirms them). */
  licence?: string
  keyScheme?: KeyScheme
  signal?: AbortSignal
}

/**
 * Self sign-up: the new account registers itself on chain from its own key. A patient is
 * active at once; a doctor stays pending — able to sign in, not to act clinically — until the
 * admin or the hospital's staff confirm them.
 * @throws AppError INVALID_ROLE, UNKNOWN_HOSPITAL, EMAIL_TAKEN, WEAK_PASSWORD, VALIDATION_FAILED, LEDGER_*
 */
export async function signUp(s: Services, p: SignUpParams): Promise<{ account: Account; recoveryCode: string }> {
  if (p.role !== 'doctor' && p.role !== 'patient') throw new AppError('INVALID_ROLE')
  const email = checkEmail(p.email)
  const name = checkName(p.name)
  checkPassword(p.password)
  let licence: string | null = null
  if (p.role === 'doctor') {
    licence = typeof p.licence === 'string' ? p.licence.trim() : ''
    if (!/^[A-Za-z0-9][A-Za-z0-9 ./-]{2,39}$/.test(licence)) throw new AppError('VALIDATION_FAILED', { message: 'A doctor signs up with a licence number (3 to 40 letters, digits, spaces, dots, slashes or dashes).' })
  }
  const hospital = await findHospital(s.db, p.hospital)
  if (!hospital) throw new AppError('UNKNOWN_HOSPITAL')
  const keyScheme = p.keyScheme ?? s.config.keyScheme
  const prepared = await prepareAccount(s, { email, name, role: p.role, hospitalId: hospital.id, password: p.password, keyScheme, state: 'registering', signal: p.signal })
  const { row } = prepared
  await s.db.run('UPDATE accounts SET licence = ? WHERE id = ?', licence, row.id)
  try {
    const keys = decodeAccountSecrets(openKeystoreWithKey(JSON.parse(row.keystore), prepared.keystoreKey))
    const receipt = await sendRegistrationRequest(s.ledger, keys.ledger, {
      role: p.role === 'doctor' ? 2 : 3,
      hospital: hospital.address as Address,
      keyScheme: keySchemeId(keyScheme),
      encryptionKey: prepared.keyDigest,
    }, p.signal)
    row.state = p.role === 'doctor' ? 'pending' : 'active'
    row.tx_hash = receipt.transactionHash
    await s.db.run('UPDATE accounts SET state = ?, tx_hash = ? WHERE id = ?', row.state, row.tx_hash, row.id)
  } catch (err) {
    await s.db.run('DELETE FROM accounts WHERE id = ?', row.id)
    throw err
  }
  return { account: toAccount(row), recoveryCode: prepared.recoveryCode }
}
