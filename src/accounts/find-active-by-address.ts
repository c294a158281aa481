import type { Db } from '../db/open-database.ts'
import type { Role } from '../roles.ts'

/** An active account of this node by its ledger address (and role, when given), or undefined. */
export async function findActiveByAddress(db: Db, address: string, role?: Role): Promise<{ id: string; hospital_id: string | null } | undefined> {
  const sql = `SELECT id, hospital_id FROM accounts WHERE address = ? AND state = 'active'${role ? ' AND role = ?' : ''}`
  return db.get<{ id: string; hospital_id: string | null }>(sql, ...(role ? [address.toLowerCase(), role] : [address.toLowerCase()]))
}
