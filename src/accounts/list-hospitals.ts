import type { Db } from '../db/open-database.ts'
import { toHospital, type Hospital, type HospitalRow } from './hospital.ts'

/** The consortium's hospitals as this node knows them (members, proposed, remote, applied), oldest first. */
export async function listHospitals(s: { db: Db }): Promise<Hospital[]> {
  const rows = await s.db.all(`SELECT * FROM hospitals WHERE state IN ('active', 'proposed', 'remote', 'applied') ORDER BY created_at`) as HospitalRow[]
  return rows.map(toHospital)
}
