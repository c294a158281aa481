import { requireRole, type Actor } from '../accounts/account.ts'
import { toTeamView, type TeamRow, type TeamView } from './team-view.ts'
import type { Services } from '../services.ts'

/**
 * The care teams the actor may see: the admin all of this node's; staff, doctors and patients
 * their hospital's. A patient's view says until when their own grant to each team runs.
 * @throws AppError UNAUTHENTICATED, FORBIDDEN
 */
export async function listTeams(s: Services, { actor }: { actor: Actor | undefined }): Promise<{ teams: (TeamView & { grantExpiresAt?: string | null })[] }> {
  const me = requireRole(actor, 'admin', 'staff', 'doctor', 'patient')
  const rows = me.account.role === 'admin'
    ? await s.db.all(`SELECT * FROM teams WHERE state = 'active' ORDER BY created_at`) as TeamRow[]
    : await s.db.all(`SELECT * FROM teams WHERE hospital_id = ? AND state = 'active' ORDER BY created_at`, me.account.hospitalId ?? '') as TeamRow[]
  const teams = []
  for (const row of rows) {
    const view = await toTeamView(s, row)
    if (me.account.role !== 'patient') { teams.push(view); continue }
    const g = await s.db.get('SELECT expires_at FROM team_grants WHERE team_id = ? AND patient_id = ? AND revoked_at IS NULL', row.id, me.account.id) as { expires_at: number } | undefined
    teams.push({ ...view, grantExpiresAt: g ? new Date(Number(g.expires_at) * 1000).toISOString() : null })
  }
  return { teams }
}
