import type { Address, Hex } from 'viem'
import { ensureAccount } from '../accounts/directory.ts'
import { readGrantRecordIds } from './read-grant-record-ids.ts'
import type { Services } from '../services.ts'

/**
 * `TeamAccessGranted` sent from another node (a patient of another hospital granting one of this
 * node's care teams): the grant is kept here as the team's own grants are (`team_grants`, under
 * the patient's mirrored account), so the team's members read the patient's records as a member
 * reads a local patient's (`readByTeam`: the chain decides each read). The grant's envelopes
 * block is fetched within `fetchMs` and checked to be this team's grant, so it is held here.
 * Each current member is told (`team-access-granted`, from the patient as this node knows them:
 * pseudonymous). A grant to a team this node does not hold is not its business. Idempotent.
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
  await s.db.run('DELETE FROM team_grants WHERE team_id = ? AND patient_id = ?', teamId, patient.id)
  await s.db.run('INSERT INTO team_grants (team_id, patient_id, epoch, expires_at, envelopes, revoked_at, tx_hash, granted_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)',
    teamId, patient.id, Number(team.epoch), e.expiresAt, e.envelopes.toLowerCase(), e.txHash, Date.now())
  const facts = { recordCount: recordIds.length > 0 ? recordIds.length : 'all' as const, expiresAt: new Date(e.expiresAt * 1000) }
  for (const m of await currentMembers(s, teamId)) await s.notify?.({ accountId: m, kind: 'team-access-granted', by: { accountId: patient.id }, ...facts })
}

async function currentMembers(s: Pick<Services, 'db'>, teamId: Hex): Promise<string[]> {
  return (await s.db.all('SELECT account_id FROM team_members WHERE team_id = ? AND removed_at IS NULL', teamId) as { account_id: string }[]).map((m) => m.account_id)
}

/** `TeamAccessRevoked` sent from another node: the grant held here for one of this node's teams ends, and its members are told. */
export async function applyTeamRevoked(s: Pick<Services, 'db' | 'notify'>, e: { teamId: Hex; patient: Address }): Promise<void> {
  const patient = await s.db.get<{ id: string }>('SELECT id FROM accounts WHERE address = ?', e.patient.toLowerCase())
  if (!patient) return
  const teamId = e.teamId.toLowerCase() as Hex
  const ended = await s.db.run('UPDATE team_grants SET revoked_at = ? WHERE team_id = ? AND patient_id = ? AND revoked_at IS NULL', Date.now(), teamId, patient.id)
  if (ended.changes === 0) return
  for (const m of await currentMembers(s, teamId)) await s.notify?.({ accountId: m, kind: 'team-access-revoked', by: { accountId: patient.id } })
}
