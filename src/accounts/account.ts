import type { Address } from 'viem'
import type { KeyScheme } from '../crypto/key-wrap.ts'
import type { Db } from '../db/open-database.ts'
import { AppError } from '../errors.ts'

import type { Role } from '../roles.ts'
import type { UnlockedKeys } from '../services.ts'

export { roles, type Role } from '../roles.ts'

/** What the API shows of an account: no key material, no keystore. */
export interface Account {
  id: string
  email: string
  name: string
  role: Role
  hospitalId: string | null
  address: Address
  keyScheme: KeyScheme
  /** `active`; `pending` for a signed-up doctor not yet confirmed; `rejected`. */
  status: string
  createdAt: string
}

export type { UnlockedKeys } from '../services.ts'

/** The signed-in user a request acts as. */
export interface Actor {
  account: Account
  /**
   * The account's keys, unlocked by this session. Absent when the session was opened without
   * the password (Sign-In with Ethereum): read them through `requireKeys`, which answers
   * KEYS_LOCKED then.
   */
  keys?: UnlockedKeys
  /**
   * True while the account's role needs two-factor sign-in and no authenticator is confirmed
   * yet: the session may then only enrol one, read /auth/me and sign out.
   */
  mfaEnrollmentRequired?: boolean
}

export interface AccountRow {
  id: string
  email: string
  name: string
  role: Role
  hospital_id: string | null
  address: string
  key_scheme: KeyScheme
  public_key: Buffer
  keystore: string
  state: string
  tx_hash: string | null
  created_at: number
}

/** The public view of a database row. */
export function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    hospitalId: row.hospital_id,
    address: row.address as Address,
    keyScheme: row.key_scheme,
    status: row.state,
    createdAt: new Date(row.created_at).toISOString(),
  }
}

/** Active account by id, e-mail or ledger address, or undefined. */
export async function findAccount(db: Db, ref: string): Promise<AccountRow | undefined> {
  const r = ref.trim()
  const column = r.includes('@') ? 'email' : /^0x[0-9a-fA-F]{40}$/.test(r) ? 'address' : 'id'
  const value = column === 'id' ? r : r.toLowerCase()
  return await db.get(`SELECT * FROM accounts WHERE ${column} = ? AND state = 'active'`, value) as AccountRow | undefined
}

/**
 * Throws FORBIDDEN unless the actor has one of `allowed` roles.
 * @throws AppError FORBIDDEN
 */
export function requireRole(actor: Actor | undefined, ...allowed: Role[]): Actor {
  if (!actor) throw new AppError('UNAUTHENTICATED')
  if (!allowed.includes(actor.account.role)) throw new AppError('FORBIDDEN')
  return actor
}

/**
 * The actor's unlocked keys.
 * @throws AppError KEYS_LOCKED when this session cannot use the account's keys
 */
export function requireKeys(actor: Actor): UnlockedKeys {
  if (!actor.keys) throw new AppError('KEYS_LOCKED')
  return actor.keys
}
