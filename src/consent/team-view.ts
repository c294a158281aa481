import type { Address, Hex } from 'viem'
import { AppError } from '../errors.ts'
import type { Actor } from '../accounts/account.ts'
import { nodeHospital } from '../accounts/node-hospital.ts'
import type { Services } from '../services.ts'

export interface TeamRow {
  id: Hex
  hospital_id: string
  name: string
  epoch: number
  created_by: string
  tx_hash: string | null
  created_at: number
}

/** A care team as the API shows it: members by id, name and address; the name stays off chain. */
export interface TeamView {
  teamId: Hex
  name: string
  hospitalId: string
  epoch: number
  members: { id: string; name: string; address: Address }[]
  createdAt: string
}

/** The team as the API shows it. */
export async function toTeamView(s: Pick<Services, 'db'>, row: TeamRow): Promise<TeamView> {
  const members = await s.db.all(`SELECT a.id, a.name, a.address FROM team_members m JOIN accounts a ON a.id = m.account_id
    WHERE m.team_id = ? AND m.removed_at IS NULL ORDER BY m.added_at`, row.id) as TeamView['members']
  return { teamId: row.id, name: row.name, hospitalId: row.hospital_id, epoch: Number(row.epoch), members, createdAt: new Date(Number(row.created_at)).toISOString() }
}

/**
 * The hospital whose teams the actor manages: a staff member's own, or for the admin this node's.
 * @throws AppError FORBIDDEN, UNKNOWN_HOSPITAL
 */
export async function managedHospitalId(s: Pick<Services, 'db'>, actor: Actor): Promise<string> {
  if (actor.account.role === 'staff' && actor.account.hospitalId) return actor.account.hospitalId
  if (actor.account.role !== 'admin') throw new AppError('FORBIDDEN')
  const home = await nodeHospital(s)
  if (!home) throw new AppError('UNKNOWN_HOSPITAL')
  return home.id
}

/**
 * A team the actor manages (its hospital's staff, or the admin).
 * @throws AppError UNKNOWN_TEAM (absent or another hospital's: the same answer), FORBIDDEN
 */
export async function managedTeam(s: Pick<Services, 'db'>, actor: Actor, teamId: string): Promise<TeamRow> {
  const row = await s.db.get(`SELECT * FROM teams WHERE id = ? AND state = 'active'`, teamId.toLowerCase()) as TeamRow | undefined
  if (!row || (actor.account.role === 'staff' && row.hospital_id !== actor.account.hospitalId)) throw new AppError('UNKNOWN_TEAM')
  return row
}
