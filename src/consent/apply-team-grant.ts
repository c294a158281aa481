import type { Address, Hex } from 'viem'
import { ensureAccount } from '../accounts/directory.ts'
import { readGrantRecordIds } from './read-grant-record-ids.ts'
import type { Db } from '../db/open-database.ts'
import type { Services } from '../services.ts'

/**
 * `TeamAccessGranted` sent from another node (a patient of another hospital granting one of this
 * node's care teams): the grant is kept here as the team's own grants are (`team_grants`, under
 * the patient's mirrored account), so the team's members read the patient's records as a member
 * reads a local patient's (`readByTeam`: the chain decides each read). The grant's envelopes
 * block is fetched within `fetchMs` and checked to be this team's grant, so it is held here.
 * Each current member is told (`team-access-granted`, from the patient as this node knows them:
 * pseudonymous). A grant to a team this node does not hold is not its business. Idempotent;
 * applied to this node's own grants too (a flow killed after its send), whichever of the two
 * writes the grant telling the members.
 * @throws AppError RECORD_UNAVAILABLE (the block not served in time: the follower retries),
 *   RECORD_INTEGRITY, UNKNOWN_ACCOUNT
 */
export async function applyTeamGranted(
  s: Pick<Services, 'db' | 'ledger' | 'ipfs' | 'notify'>,
  e: { teamId: Hex; patient: Address; expiresAt: number; envelopes: Hex; txHash: string; fetchMs: number },
): Promise<void> {
  const teamId = e.teamId.toLowerCase() as Hex
  const team = await s.db.get<{ epoch: number }>(`SELECT epoch FROM teams WHERE id = ? AND state = 'active'`, teamId)
  if (!team) return
  const patient = await ensureAccount(s, e.patient)
  const held = await s.db.get('SELECT 1 AS x FROM team_grants WHERE team_id = ? AND patient_id = ? AND tx_hash = ?', teamId, patient.id, e.txHash)
  if (held) return
  const recordIds = await readGrantRecordIds(s, { envelopes: e.envelopes, grantId: teamId, fetchMs: e.fetchMs })
  const written = await writeTeamGrant(s.db, { teamId, patientId: patient.id, epoch: Number(team.epoch), expiresAt: e.expiresAt, envelopes: e.envelopes.toLowerCase() as Hex, txHash: e.txHash })
  if (!written) return // written meanwhile by this node's own flow, which tells the members
  const facts = { recordCount: recordIds.length > 0 ? recordIds.length : 'all' as const, expiresAt: new Date(e.expiresAt * 1000) }
  for (const m of await currentMembers(s, teamId)) await s.notify?.({ accountId: m, kind: 'team-access-granted', by: { accountId: patient.id }, ...facts })
}

/**
 * A patient's grant to a team, written once per transaction (the flow that sent it and the
 * follower alike; a newer grant replaces an older one). Whether this call wrote it.
 */
export async function writeTeamGrant(db: Db, g: { teamId: Hex; patientId: string; epoch: number; expiresAt: number; envelopes: Hex; txHash: string }): Promise<boolean> {
  const r = await db.run(`INSERT INTO team_grants (team_id, patient_id, epoch, expires_at, envelopes, revoked_at, tx_hash, granted_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)
    ON CONFLICT (team_id, patient_id) DO UPDATE SET epoch = excluded.epoch, expires_at = excluded.expires_at, envelopes = excluded.envelopes, revoked_at = NULL,
      tx_hash = excluded.tx_hash, granted_at = excluded.granted_at WHERE team_grants.tx_hash <> excluded.tx_hash`,
  g.teamId, g.patientId, g.epoch, g.expiresAt, g.envelopes, g.txHash, Date.now())
  return r.changes > 0
}

async function currentMembers(s: Pick<Services, 'db'>, teamId: Hex): Promise<string[]> {
  return (await s.db.all('SELECT account_id FROM team_members WHERE team_id = ? AND removed_at IS NULL', teamId) as { account_id: string }[]).map((m) => m.account_id)
}

/** `TeamAccessRevoked` (sent from another node, or this node's own): the grant held here for one of this node's teams ends, and its members are told, once. */
export async function applyTeamRevoked(s: Pick<Services, 'db' | 'notify'>, e: { teamId: Hex; patient: Address }): Promise<void> {
  const patient = await s.db.get<{ id: string }>('SELECT id FROM accounts WHERE address = ?', e.patient.toLowerCase())
  if (!patient) return
  const teamId = e.teamId.toLowerCase() as Hex
  const ended = await s.db.run('UPDATE team_grants SET revoked_at = ? WHERE team_id = ? AND patient_id = ? AND revoked_at IS NULL', Date.now(), teamId, patient.id)
  if (ended.changes === 0) return
  for (const m of await currentMembers(s, teamId)) await s.notify?.({ accountId: m, kind: 'team-access-revoked', by: { accountId: patient.id } })
}
