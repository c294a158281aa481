import { createPublicKey, randomUUID } from 'node:crypto'
import { hexToBytes, isAddress as isHexAddress, zeroHash, type Address } from 'viem'
import { registryAbi } from '../ledger/abis.ts'
import { readContract } from '../ledger/read-contract.ts'
import { keySchemeFromId, type KeyScheme } from '../crypto/key-wrap.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { AppError, isAppError } from '../errors.ts'
import { checkText } from '../text/check-text.ts'
import type { AccountRow, Role } from './account.ts'
import type { HospitalRow } from './hospital.ts'
import type { Services } from '../services.ts'

// A node knows its own hospital's people by name. People of other member hospitals it knows
// only as the ledger does: an address, a role, a hospital and the digest of a public key. Such
// parties are mirrored into the same tables as local ones (state `remote`, no keystore, no
// mailbox: the `.invalid` top-level domain can never deliver), so that every consent flow works
// the same whoever is on the other side, and nothing personal crosses between hospitals.

const chainRoles: Record<number, Role> = { 1: 'staff', 2: 'doctor', 3: 'patient', 4: 'researcher' }

/** How long a public key may take to arrive from the peer that published it. */
const KEY_FETCH_MS = 15_000

export function shortAddress(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}

/** Whether `ref`, trimmed, is a ledger address (0x and 40 hexadecimal characters, any case). */
export function isAddress(ref: string): ref is Address {
  return isHexAddress(ref.trim(), { strict: false })
}

/** The hospital row for a member hospital's address, mirrored from the chain when not known here. */
export async function ensureHospital(s: Pick<Services, 'db' | 'ledger'>, address: Address, published?: string): Promise<HospitalRow> {
  const a = address.toLowerCase()
  // A name another member published on chain is shown to users here: kept only when it is a
  // valid display name (no control, format or invisible-only text), else the address label.
  const name = published === undefined ? undefined : validName(published)
  const known = await s.db.get<HospitalRow>('SELECT * FROM hospitals WHERE address = ?', a)
  if (known) {
    if (name !== undefined && known.state === 'remote' && known.name !== name) {
      await s.db.run('UPDATE hospitals SET name = ? WHERE id = ?', name, known.id)
      return { ...known, name }
    }
    return known
  }
  const h = await readContract(s.ledger, { address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'hospitalOf', args: [a as Address] })
  if (!h.member) throw new AppError('UNKNOWN_HOSPITAL')
  return mirrorHospital(s, { address: a as Address, name, keyScheme: h.keyScheme, state: 'remote' })
}

function validName(name: string): string | undefined {
  try {
    return checkText(name, { field: 'name', max: 200 })
  } catch {
    return undefined
  }
}

/**
 * Inserts another member's (or a candidate's) hospital as this node knows it: no keys, a name
 * given or derived from its address, `state` `remote` or `proposed`. An existing row is kept;
 * with `rename`, its name is updated. Returns the row.
 */
export async function mirrorHospital(s: Pick<Services, 'db'>, { address, name, keyScheme, state, rename = false }: { address: Address; name?: string; keyScheme: number; state: 'remote' | 'proposed'; rename?: boolean }): Promise<HospitalRow> {
  const a = address.toLowerCase()
  await s.db.run(`INSERT INTO hospitals (id, name, address, key_scheme, emergency_public_key, sealed_secrets, state, tx_hash, created_at)
    VALUES (?, ?, ?, ?, ?, '', ?, NULL, ?) ON CONFLICT (address) DO ${rename ? 'UPDATE SET name = excluded.name' : 'NOTHING'}`,
  randomUUID(), name ?? `Hospital ${shortAddress(a)}`, a, keySchemeFromId(keyScheme), Buffer.alloc(0), state, Date.now())
  return (await s.db.get<HospitalRow>('SELECT * FROM hospitals WHERE address = ?', a))!
}

/** Registry `Status.Retired`: a recovered patient's old address (issue 13 item 4). */
const RETIRED = 5

/**
 * The account row for a ledger address: the local account when this node holds it, else a
 * `remote` mirror of the registered account (created on first use). With `live`, a retired
 * address (a recovered patient's old one) is refused and nothing is mirrored for it: a person
 * naming a party means the living one; the follower, mirroring past events, takes it as it was.
 * @throws AppError UNKNOWN_ACCOUNT when the address is not registered on the ledger, or with `live` is retired
 */
export async function ensureAccount(s: Pick<Services, 'db' | 'ledger'>, address: Address, { live = false }: { live?: boolean } = {}): Promise<AccountRow> {
  const a = address.toLowerCase()
  const known = await s.db.get<AccountRow>('SELECT * FROM accounts WHERE address = ?', a)
  if (known) return known
  const acc = await readContract(s.ledger, { address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'accountOf', args: [a as Address] })
  const role = chainRoles[acc.role]
  if (!role || (live && acc.status === RETIRED)) throw new AppError('UNKNOWN_ACCOUNT')
  const hospital = await ensureHospital(s, acc.hospital)
  const label = role === 'doctor' ? 'Doctor' : role === 'patient' ? 'Patient' : role === 'researcher' ? 'Researcher' : 'Staff'
  const row: AccountRow = {
    id: randomUUID(),
    email: `${a}@ledger.invalid`,
    name: `${label} ${shortAddress(a)} at ${hospital.name}`,
    role,
    hospital_id: hospital.id,
    address: a,
    key_scheme: keySchemeFromId(acc.keyScheme),
    public_key: Buffer.alloc(0),
    keystore: '',
    state: 'remote',
    tx_hash: null,
    created_at: Date.now(),
  }
  await s.db.run(`INSERT INTO accounts (id, email, name, role, hospital_id, address, key_scheme, public_key, keystore, state, tx_hash, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (address) DO NOTHING`,
  row.id, row.email, row.name, row.role, row.hospital_id, row.address, row.key_scheme, row.public_key, row.keystore, row.state, row.tx_hash, row.created_at)
  return (await s.db.get<AccountRow>('SELECT * FROM accounts WHERE address = ?', a))!
}

/**
 * A patient or doctor by id, e-mail or ledger address; a ledger address of another hospital's
 * account is mirrored from the chain. Only accounts that are active here or registered on the
 * ledger are returned, never a retired address (`ensureAccount` with `live`).
 */
export async function findParty(s: Pick<Services, 'db' | 'ledger'>, ref: string): Promise<AccountRow | undefined> {
  const r = ref.trim()
  const column = r.includes('@') ? 'email' : isAddress(r) ? 'address' : 'id'
  const local = await s.db.get<AccountRow>(`SELECT * FROM accounts WHERE ${column} = ? AND state IN ('active', 'remote')`, column === 'id' ? r : r.toLowerCase())
  if (local || column !== 'address') return local
  try {
    return await ensureAccount(s, r as Address, { live: true })
  } catch (err) {
    if (isAppError(err, 'UNKNOWN_ACCOUNT') || isAppError(err, 'UNKNOWN_HOSPITAL')) return undefined
    throw err
  }
}

/**
 * An account's public encryption key: the local copy, or for a remote account the block its
 * node published in IPFS, fetched by the digest the Registry holds (so it is the registered key
 * or nothing), checked to be a key of the account's scheme, then kept.
 * @throws AppError RECORD_UNAVAILABLE when no peer serves it in time, PUBLIC_KEY_MISMATCH,
 *   INVALID_KEY when the registered key is not a key of the account's scheme
 */
export async function publicKeyOf(s: Pick<Services, 'db' | 'ledger' | 'ipfs'>, row: Pick<AccountRow, 'id' | 'address' | 'public_key' | 'key_scheme'>, signal?: AbortSignal): Promise<Uint8Array> {
  if (row.public_key.length > 0) return new Uint8Array(row.public_key)
  const digest = await readContract(s.ledger, { address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'encryptionKeyOf', args: [row.address as Address] })
  if (digest === zeroHash) throw new AppError('PUBLIC_KEY_MISMATCH', { details: 'no key registered' })
  const timeout = AbortSignal.timeout(KEY_FETCH_MS)
  const key = await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(digest), 'raw'), { signal: signal ? AbortSignal.any([signal, timeout]) : timeout })
    .catch((cause: unknown) => {
      if (isAppError(cause)) throw cause
      throw new AppError('RECORD_UNAVAILABLE', { cause, details: `public key of ${row.address} not served by any peer` })
    })
  checkPublicKey(row.key_scheme, key)
  await s.db.run('UPDATE accounts SET public_key = ? WHERE id = ?', Buffer.from(key), row.id)
  return key
}

/**
 * Only a key's digest reaches the chain, so its shape is checked where the key is fetched: a
 * raw 32-byte X25519 key, or an SPKI DER RSA key of 4096 bits (550 bytes with e = 65537).
 * @throws AppError INVALID_KEY
 */
function checkPublicKey(scheme: KeyScheme, key: Uint8Array): void {
  if (scheme === 'x25519-hpke') {
    if (key.length !== 32) throw new AppError('INVALID_KEY', { details: `an x25519 public key is 32 bytes, not ${key.length}` })
    return
  }
  let ok = false
  try {
    const k = createPublicKey({ key: Buffer.from(key), format: 'der', type: 'spki' })
    ok = k.asymmetricKeyType === 'rsa' && k.asymmetricKeyDetails?.modulusLength === 4096
  } catch {
    ok = false
  }
  if (!ok) throw new AppError('INVALID_KEY', { details: `not an SPKI RSA-4096 public key (${key.length} bytes)` })
}
