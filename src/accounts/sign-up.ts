import { randomUUID } from 'node:crypto'
import { bytesToHex, type Address } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { generateEncryptionKeyPair, keySchemeId, type KeyScheme } from '../crypto/key-wrap.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { registryAbi } from '../ledger/abis.ts'
import { sendRegistrationRequest } from '../ledger/registry/send-registration-request.ts'
import { chainRoles } from '../ledger/register-account.ts'
import { decodeAccountSecrets, encodeAccountSecrets } from './account-secrets.ts'
import { generateRecoveryCode, openKeystoreWithKey, sealKeystore } from '../crypto/keystore.ts'
import { AppError, isAppError } from '../errors.ts'
import { toAccount, type Account } from './account.ts'
import { findHospital, type HospitalRow } from './hospital.ts'
import { checkEmail, checkPassword, prepareAccount } from './create-account.ts'
import { checkName } from './create-hospital.ts'
import type { Services } from '../services.ts'

export interface SignUpParams {
  role: 'doctor' | 'patient' | 'researcher'
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
 * admin or the hospital's staff confirm them, and so does a researcher.
 *
 * An address that already has an account gets the same answer as a fresh sign-up (same shape,
 * the same key and Argon2 work), but nothing is stored or registered and the answer's id,
 * address and recovery code open nothing; the address's owner is mailed instead. So the answer
 * never tells whether someone has an account.
 * @throws AppError INVALID_ROLE, UNKNOWN_HOSPITAL, WEAK_PASSWORD, VALIDATION_FAILED, LEDGER_*
 */
export async function signUp(s: Services, p: SignUpParams): Promise<{ account: Account; recoveryCode: string }> {
  if (p.role !== 'doctor' && p.role !== 'patient' && p.role !== 'researcher') throw new AppError('INVALID_ROLE')
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
  const decoy = { email, name, role: p.role, hospital, password: p.password, keyScheme, signal: p.signal }
  if (await s.db.get('SELECT 1 FROM accounts WHERE email = ?', email)) return answerTakenAddress(s, decoy)
  let prepared
  try {
    prepared = await prepareAccount(s, { email, name, role: p.role, hospitalId: hospital.id, password: p.password, keyScheme, state: 'registering', signal: p.signal })
  } catch (err) {
    // Taken between the check and the insert: the key work is done, so answer at once.
    if (isAppError(err, 'EMAIL_TAKEN')) return answerTakenAddress(s, { ...decoy, workDone: true })
    throw err
  }
  const { row } = prepared
  await s.db.run('UPDATE accounts SET licence = ? WHERE id = ?', licence, row.id)
  try {
    const keys = decodeAccountSecrets(openKeystoreWithKey(JSON.parse(row.keystore), prepared.keystoreKey))
    const receipt = await sendRegistrationRequest(s.ledger, {
      account: keys.ledger,
      role: p.role,
      hospital: hospital.address as Address,
      keyScheme: keySchemeId(keyScheme),
      encryptionKey: prepared.keyDigest,
      signal: p.signal,
    })
    row.state = p.role === 'patient' ? 'active' : 'pending'
    row.tx_hash = receipt.transactionHash
    await s.db.run('UPDATE accounts SET state = ?, tx_hash = ? WHERE id = ?', row.state, row.tx_hash, row.id)
  } catch (err) {
    await s.db.run('DELETE FROM accounts WHERE id = ?', row.id)
    throw err
  }
  return { account: toAccount(row), recoveryCode: prepared.recoveryCode }
}

/**
 * The answer to a sign-up with an address that already has an account: the same work and the
 * same shape as a real one, from keys that are thrown away; nothing is stored or sent on chain.
 * The account's owner gets a `sign-up-attempted` notification instead.
 */
async function answerTakenAddress(s: Services, p: { email: string; name: string; role: SignUpParams['role']; hospital: HospitalRow; password: string; keyScheme: KeyScheme; signal?: AbortSignal; workDone?: boolean }): Promise<{ account: Account; recoveryCode: string }> {
  const ledgerKey = generatePrivateKey()
  const address = privateKeyToAccount(ledgerKey).address.toLowerCase() as Address
  const recoveryCode = generateRecoveryCode()
  if (!p.workDone) {
    const encryption = await generateEncryptionKeyPair(p.keyScheme)
    await sealKeystore({ payload: encodeAccountSecrets(ledgerKey, encryption.privateKey), password: p.password, recoveryCode, kdf: s.config.kdf, signal: p.signal })
    // A real sign-up asks the chain before it sends: ask the same question, send nothing.
    await s.ledger.client.estimateContractGas({
      address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'requestRegistration', account: address,
      args: [chainRoles[p.role], p.hospital.address as Address, keySchemeId(p.keyScheme), bytesToHex(hashSha256(encryption.publicKey))],
    }).catch(() => undefined)
  }
  const owner = await s.db.get('SELECT id, state FROM accounts WHERE email = ?', p.email) as { id: string; state: string } | undefined
  if (owner && owner.state !== 'registering') {
    await s.notify?.({ accountId: owner.id, kind: 'sign-up-attempted', by: { accountId: owner.id } })
  }
  return {
    account: {
      id: randomUUID(),
      email: p.email,
      name: p.name,
      role: p.role,
      hospitalId: p.hospital.id,
      address,
      keyScheme: p.keyScheme,
      status: p.role === 'patient' ? 'active' : 'pending',
      createdAt: new Date().toISOString(),
    },
    recoveryCode,
  }
}
