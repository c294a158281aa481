import type { Address } from 'viem'
import type { Db } from '../db/open-database.ts'
import type { KeyScheme } from '../crypto/key-wrap.ts'

export interface Hospital {
  id: string
  name: string
  address: Address
  keyScheme: KeyScheme
  /** `active` (a member), `proposed` (waiting for the members' vote), `expired` (its admission vote expired, in listings), `remote`, `applied`. */
  status: string
  createdAt: string
}

export interface HospitalRow {
  id: string
  name: string
  address: string
  key_scheme: KeyScheme
  emergency_public_key: Buffer
  sealed_secrets: string
  state: string
  tx_hash: string | null
  created_at: number
}

/** The public view of a hospital row. */
export function toHospital(row: HospitalRow): Hospital {
  return { id: row.id, name: row.name, address: row.address as Address, keyScheme: row.key_scheme, status: row.state, createdAt: new Date(row.created_at).toISOString() }
}

/** Admitted hospital by id or ledger address, or undefined. */
export async function findHospital(db: Db, ref: string): Promise<HospitalRow | undefined> {
  const r = ref.trim()
  const isAddress = /^0x[0-9a-fA-F]{40}$/.test(r)
  return await db.get(`SELECT * FROM hospitals WHERE ${isAddress ? 'address' : 'id'} = ? AND state = 'active'`, isAddress ? r.toLowerCase() : r) as HospitalRow | undefined
}
