import type { Hex } from 'viem'
import { requireRole, type Actor } from '../accounts/account.ts'
import { toTeamView, type TeamRow, type TeamView } from './team-view.ts'
import type { Services } from '../services.ts'

type ListedTeam = TeamView & { grantExpiresAt?: string | null; remote?: boolean }

/**
 * The care teams the actor may see: the admin all of this node's; staff, doctors and patients
 * their hospital's. A patient also sees the teams of other hospitals mirrored here from the
 * chain (`remote`: by id and hospital, named after the hospital, members not listed), so they
 * may grant one. A patient's view says until when their own grant to each team runs.
 * @throws AppError UNAUTHENTICATED, FORBIDDEN
 */
export async function listTeams(s: Services, { actor }: { actor: Actor | undefined }): Promise<{ teams: ListedTeam[] }> {
  const me = requireRole(actor, 'admin', 'staff', 'doctor', 'patient')
  const rows = me.account.role === 'admin'
    ? await s.db.all(`SELECT * FROM teams WHERE state = 'active' ORDER BY created_at`) as TeamRow[]
    : await s.db.all(`SELECT * FROM teams WHERE hospital_id = ? AND state = 'active' ORDER BY created_at`, me.account.hospitalId ?? '') as TeamRow[]
  const teams: ListedTeam[] = []
  for (const row of rows) {
    const view = await toTeamView(s, row)
    if (me.account.role !== 'patient') { teams.push(view); continue }
    teams.push({ ...view, grantExpiresAt: await grantExpiry(s, row.id, me.account.id) })
  }
  if (me.account.role !== 'patient') return { teams }
  const remote = await s.db.all(`SELECT r.id, r.hospital, r.epoch, r.updated_at, h.id AS hospital_id, h.name AS hospital_name FROM remote_teams r
    LEFT JOIN hospitals h ON h.address = r.hospital ORDER BY r.updated_at`) as { id: Hex; hospital: string; epoch: number; updated_at: number; hospital_id: string | null; hospital_name: string | null }[]
  for (const r of remote) {
    teams.push({
      teamId: r.id, name: `Care team of ${r.hospital_name ?? r.hospital}`, hospitalId: r.hospital_id ?? r.hospital, epoch: Number(r.epoch), members: [],
      createdAt: new Date(Number(r.updated_at)).toISOString(), remote: true, grantExpiresAt: await grantExpiry(s, r.id, me.account.id),
    })
  }
  return { teams }
}

/** Until when the patient's own live grant to the team runs (ISO), or null. */
async function grantExpiry(s: Pick<Services, 'db'>, teamId: string, patientId: string): Promise<string | null> {
  const g = await s.db.get('SELECT expires_at FROM team_grants WHERE team_id = ? AND patient_id = ? AND revoked_at IS NULL', teamId, patientId) as { expires_at: number } | undefined
  return g ? new Date(Number(g.expires_at) * 1000).toISOString() : null
}
