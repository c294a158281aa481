import { getMeta } from '../db/open-database.ts'
import type { HospitalRow } from './hospital.ts'
import type { Services } from '../services.ts'

/** Meta key: the id of the hospital this node serves. */
export const NODE_HOSPITAL = 'node.hospital'
/** Meta key: the block the ledger follower starts from on a fresh node (the consortium's deployment). */
export const FOLLOW_FROM = 'follow.from'

/** The hospital this node serves: set when a node joins, or by the first hospital created on the founding node. */
export async function nodeHospital(s: Pick<Services, 'db'>): Promise<HospitalRow | undefined> {
  const id = await getMeta(s.db, NODE_HOSPITAL)
  return id === undefined ? undefined : s.db.get<HospitalRow>('SELECT * FROM hospitals WHERE id = ?', id)
}
