import { randomUUID } from 'node:crypto'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { toHex, type Address } from 'viem'
import { generateEncryptionKeyPair, keySchemeId, type KeyScheme } from '../crypto/key-wrap.ts'
import { generateRecoveryCode, sealKeystore } from '../crypto/keystore.ts'
import { encodeAccountSecrets } from './account-secrets.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import { registerAccount } from '../ledger/register-account.ts'
import { registryAbi } from '../ledger/abis.ts'
import { readContract } from '../ledger/read-contract.ts'
import { AppError } from '../errors.ts'
import { isUniqueViolation } from '../db/db.ts'
import { requireKeys, toAccount, type Account, type AccountRow, type Actor, type Role } from './account.ts'
import { findHospital } from './hospital.ts'
import { unlockHospital } from './hospital-keys.ts'
import { nodeHospital } from './node-hospital.ts'
import { checkName } from './create-hospital.ts'
import type { Services } from '../services.ts'

export interface CreateAccountParams {
  /** Who creates it; `undefined` only when the node bootstraps its consortium admin. */
  actor: Actor | undefined
  role: Role
  /** Hospital id or ledger address; required for every role but admin. */
  hospital?: string
  email: string
  name: string
  password: string
  keyScheme?: KeyScheme
  signal?: AbortSignal
}

export interface CreateAccountResult {
  account: Account
  /** Shown once: re-opens the keystore after a forgotten password. Never stored in clear. */
  recoveryCode: string
  /** The unlocked keys of the new account (used by bootstrap; never leaves the process). */
  keys: { ledgerKey: `0x${string}`; keystoreKey: Uint8Array }
}

const emailPattern = /^[^\s@<>()",;:]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$/

/**
 * Creates an account with its ledger key, its encryption key pair and its keystore, and
 * registers it on chain from the creator's own key (admin: any role and hospital; hospital
 * staff: doctors and patients of its own hospital).
 * @throws AppError FORBIDDEN, INVALID_ROLE, UNKNOWN_HOSPITAL, NOT_ADMITTED, EMAIL_TAKEN,
 *   WEAK_PASSWORD, VALIDATION_FAILED, LEDGER_*
 */
export async function createAccount(s: Services, p: CreateAccountParams): Promise<CreateAccountResult> {
  const { actor, role } = p
  const email = checkEmail(p.email)
  const name = checkName(p.name)
  checkPassword(p.password)
  const keyScheme = p.keyScheme ?? s.config.keyScheme
  let hospitalId: string | null = null
  let hospitalAddress: Address | undefined
  if (role === 'admin') {
    if (actor !== undefined) throw new AppError('INVALID_ROLE', { message: 'The consortium admin is created when the node first starts.' })
    // A joining node's admin belongs to its hospital (and acts as its staff once admitted).
    hospitalId = p.hospital ?? null
  } else {
    if (!actor) throw new AppError('UNAUTHENTICATED')
    const isAdmin = actor.account.role === 'admin'
    const isStaff = actor.account.role === 'staff'
    if (!isAdmin && !isStaff) throw new AppError('FORBIDDEN')
    if (!['staff', 'doctor', 'patient'].includes(role)) throw new AppError('INVALID_ROLE')
    if (role === 'staff' && !isAdmin) throw new AppError('FORBIDDEN', { message: 'Only the consortium admin creates hospital staff accounts.' })
    // Left out, the hospital is the actor's own, or the one this node serves.
    const home = await nodeHospital(s)
    const ref = p.hospital ?? actor.account.hospitalId ?? home?.id
    if (!ref) throw new AppError('VALIDATION_FAILED', { message: 'Name the hospital (its id or ledger address).' })
    const hospital = await findHospital(s.db, ref)
    if (!hospital) {
      if (home && home.state === 'applied' && (ref === home.id || ref.toLowerCase() === home.address)) throw new AppError('NOT_ADMITTED')
      throw new AppError('UNKNOWN_HOSPITAL')
    }
    if (actor.account.hospitalId !== null && hospital.id !== actor.account.hospitalId) throw new AppError('FORBIDDEN', { message: 'Staff add accounts to their own hospital only.' })
    hospitalId = hospital.id
    hospitalAddress = hospital.address as Address
    if (isAdmin && actor.account.hospitalId !== null && role !== 'staff') await requireAdminRegistered(s, actor.account.address as Address)
  }
  const prepared = await prepareAccount(s, { email, name, role, hospitalId, password: p.password, keyScheme, state: role === 'admin' ? 'active' : 'registering', signal: p.signal })
  const { row } = prepared
  if (role !== 'admin' && actor && hospitalAddress) {
    try {
      const receipt = await registerAccount(s.ledger, {
        // A joined node's admin is staff on the ledger; hospital staff are registered by the hospital's own key.
        registrar: role === 'staff' && actor.account.hospitalId !== null ? (await unlockHospital(s, actor.account.hospitalId)).keys.ledger : requireKeys(actor).ledger,
        account: row.address as Address,
        role,
        hospital: hospitalAddress,
        keyScheme: keySchemeId(keyScheme),
        encryptionKey: prepared.keyDigest,
        signal: p.signal,
      })
      row.state = 'active'
      row.tx_hash = receipt.transactionHash
      await s.db.run(`UPDATE accounts SET state = 'active', tx_hash = ? WHERE id = ?`, row.tx_hash, row.id)
    } catch (err) {
      await s.db.run('DELETE FROM accounts WHERE id = ?', row.id)
      throw err
    }
  }
  return { account: toAccount(row), recoveryCode: prepared.recoveryCode, keys: { ledgerKey: prepared.ledgerKey, keystoreKey: prepared.keystoreKey } }
}

/**
 * A joined node's admin registers doctors and patients from its own key, as staff of its hospital
 * on the ledger; that registration is sent by the node once the admission is seen
 * (consortium/start-consortium.ts). Until it is mined, the ledger would refuse the admin's.
 * @throws AppError NOT_ADMITTED while the admin is not registered on the ledger
 */
async function requireAdminRegistered(s: Services, admin: Address): Promise<void> {
  const onChain = await readContract(s.ledger, { address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'accountOf', args: [admin] })
  if (Number(onChain.role) === 0) {
    throw new AppError('NOT_ADMITTED', { message: 'This node\'s hospital was admitted; its admin\'s registration as staff on the ledger is on its way. Try again in a few seconds.' })
  }
}

export interface PreparedAccount {
  row: AccountRow
  ledgerKey: `0x${string}`
  keystoreKey: Uint8Array
  recoveryCode: string
  /** SHA-256 of the public encryption key, as the Registry keeps it. */
  keyDigest: `0x${string}`
}

/**
 * Creates an account's keys (ledger key, encryption key pair), seals them in a keystore under
 * the password and a fresh recovery code, publishes the public key in IPFS and inserts the
 * account row in `state`; the caller registers it on chain.
 * @throws AppError EMAIL_TAKEN
 */
export async function prepareAccount(s: Services, p: { email: string; name: string; role: Role; hospitalId: string | null; password: string; keyScheme: KeyScheme; state: string; signal?: AbortSignal }): Promise<PreparedAccount> {
  if (await s.db.get('SELECT 1 FROM accounts WHERE email = ?', p.email)) throw new AppError('EMAIL_TAKEN')
  const ledgerKey = generatePrivateKey()
  const address = privateKeyToAccount(ledgerKey).address.toLowerCase() as Address
  const encryption = await generateEncryptionKeyPair(p.keyScheme)
  const recoveryCode = generateRecoveryCode()
  const { keystore, key: keystoreKey } = await sealKeystore({
    payload: encodeAccountSecrets(ledgerKey, encryption.privateKey),
    password: p.password,
    recoveryCode,
    kdf: s.config.kdf,
    signal: p.signal,
  })
  const keyCid = await putRawBlock(s.ipfs, encryption.publicKey, { signal: p.signal })
  const row: AccountRow = {
    id: randomUUID(),
    email: p.email,
    name: p.name,
    role: p.role,
    hospital_id: p.hospitalId,
    address,
    key_scheme: p.keyScheme,
    public_key: Buffer.from(encryption.publicKey),
    keystore: JSON.stringify(keystore),
    state: p.state,
    tx_hash: null,
    created_at: Date.now(),
  }
  try {
    await s.db.run(`INSERT INTO accounts (id, email, name, role, hospital_id, address, key_scheme, public_key, keystore, state, tx_hash, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, row.id, row.email, row.name, row.role, row.hospital_id, row.address, row.key_scheme, row.public_key, row.keystore, row.state, row.tx_hash, row.created_at)
  } catch (cause) {
    if (isUniqueViolation(cause, 'accounts.email')) throw new AppError('EMAIL_TAKEN')
    throw cause
  }
  return { row, ledgerKey, keystoreKey, recoveryCode, keyDigest: toHex(digestFromCid(keyCid)) }
}

/**
 * A normalised (trimmed, lower-case) e-mail address.
 * @throws AppError VALIDATION_FAILED
 */
export function checkEmail(email: unknown): string {
  const e = typeof email === 'string' ? email.trim().toLowerCase() : ''
  if (!emailPattern.test(e)) throw new AppError('VALIDATION_FAILED', { message: 'That is not an e-mail address.' })
  return e
}

/** @throws AppError WEAK_PASSWORD */
export function checkPassword(password: unknown): void {
  if (typeof password !== 'string' || [...password].length < 12 || password.length > 1024) throw new AppError('WEAK_PASSWORD')
}
