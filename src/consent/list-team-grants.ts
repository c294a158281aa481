import type { Hex } from 'viem'
import { requireRole, type Actor } from '../accounts/account.ts'
import type { Services } from '../services.ts'

/** A patient's grant to a care team, as the patient's consent directives show it. */
export interface TeamGrantView {
  teamId: Hex
  teamName: string
  patient: { id: string; name: string }
  /** The chain's expiry (seconds). */
  expiresAt: number
  revoked: boolean
  txHash: Hex
  grantedAt: number
}

/**
 * The actor's own grants to care teams, live and ended (the latest per team).
 * @throws AppError UNAUTHENTICATED, FORBIDDEN (not a patient)
 */
export async function listTeamGrants(s: Pick<Services, 'db'>, { actor }: { actor: Actor | undefined }): Promise<TeamGrantView[]> {
  const me = requireRole(actor, 'patient')
  // A team of another hospital (mirrored here) has no name on this node: it is named after its hospital.
  const rows = await s.db.all(`SELECT g.team_id, t.name, h.name AS hospital_name, r.hospital, g.expires_at, g.revoked_at, g.tx_hash, g.granted_at, a.name AS patient_name
    FROM team_grants g LEFT JOIN teams t ON t.id = g.team_id LEFT JOIN remote_teams r ON r.id = g.team_id LEFT JOIN hospitals h ON h.address = r.hospital
    JOIN accounts a ON a.id = g.patient_id WHERE g.patient_id = ? AND (t.id IS NOT NULL OR r.id IS NOT NULL) ORDER BY g.granted_at`, me.account.id) as
    { team_id: Hex; name: string | null; hospital_name: string | null; hospital: string | null; expires_at: number; revoked_at: number | null; tx_hash: Hex; granted_at: number; patient_name: string }[]
  return rows.map((r) => ({
    teamId: r.team_id,
    teamName: r.name ?? `Care team of ${r.hospital_name ?? r.hospital}`,
    patient: { id: me.account.id, name: r.patient_name },
    expiresAt: Number(r.expires_at),
    revoked: r.revoked_at !== null,
    txHash: r.tx_hash,
    grantedAt: Number(r.granted_at),
  }))
}
