import type { Address } from 'viem'
import { findAccount, requireKeys, requireRole, type AccountRow, type Actor } from '../accounts/account.ts'
import { sendTeamMemberAddition } from '../ledger/care-teams/send-team-member-addition.ts'
import { sendTeamMemberRemoval } from '../ledger/care-teams/send-team-member-removal.ts'
import { AppError } from '../errors.ts'
import { createTeamKey, wrapTeamKeysFor } from './team-keys.ts'
import { managedTeam, toTeamView, type TeamView } from './team-view.ts'
import type { Services } from '../services.ts'

/**
 * The hospital's staff (or the admin) add one of the hospital's active doctors to a team: on chain
 * from the actor's key (`CareTeams.addMember`), then every epoch's team key is wrapped for the
 * doctor, one wrap per epoch: no record is re-wrapped.
 * @throws AppError FORBIDDEN, UNKNOWN_TEAM, UNKNOWN_ACCOUNT (not an active doctor of the team's hospital), TEAM_MEMBER_EXISTS, LEDGER_*
 */
export async function addTeamMember(s: Services, { actor, teamId, doctor, signal }: { actor: Actor | undefined; teamId: string; doctor: string; signal?: AbortSignal }): Promise<TeamView> {
  const by = requireRole(actor, 'staff', 'admin')
  const team = await managedTeam(s, by, teamId)
  const member = await hospitalDoctor(s, doctor, team.hospital_id)
  if (await s.db.get('SELECT 1 FROM team_members WHERE team_id = ? AND account_id = ? AND removed_at IS NULL', team.id, member.id)) throw new AppError('TEAM_MEMBER_EXISTS')
  await sendTeamMemberAddition(s.ledger, { by: requireKeys(by).ledger, teamId: team.id, doctor: member.address as Address, signal })
  await wrapTeamKeysFor(s, { teamId: team.id, member })
  await s.db.run('DELETE FROM team_members WHERE team_id = ? AND account_id = ?', team.id, member.id)
  await s.db.run('INSERT INTO team_members (team_id, account_id, added_at, removed_at) VALUES (?, ?, ?, NULL)', team.id, member.id, Date.now())
  return toTeamView(s, team)
}

/**
 * The hospital's staff (or the admin) remove a member: the team key moves to a new epoch (a new
 * key, its digest on chain with the removal, `CareTeams.removeMember`), wrapped for the remaining
 * members only. Records added from now on are wrapped for the new key; the chain refuses the
 * removed doctor's reads at once, whatever keys it kept.
 * @throws AppError FORBIDDEN, UNKNOWN_TEAM, UNKNOWN_ACCOUNT, NOT_TEAM_MEMBER, LEDGER_*
 */
export async function removeTeamMember(s: Services, { actor, teamId, doctorId, signal }: { actor: Actor | undefined; teamId: string; doctorId: string; signal?: AbortSignal }): Promise<TeamView> {
  const by = requireRole(actor, 'staff', 'admin')
  const team = await managedTeam(s, by, teamId)
  const member = await findAccount(s.db, doctorId)
  if (!member) throw new AppError('UNKNOWN_ACCOUNT')
  if (!(await s.db.get('SELECT 1 FROM team_members WHERE team_id = ? AND account_id = ? AND removed_at IS NULL', team.id, member.id))) throw new AppError('NOT_TEAM_MEMBER')
  const epoch = Number(team.epoch) + 1
  const { keyDigest } = await createTeamKey(s, { teamId: team.id, epoch })
  try {
    await sendTeamMemberRemoval(s.ledger, { by: requireKeys(by).ledger, teamId: team.id, doctor: member.address as Address, keyDigest, signal })
  } catch (err) {
    await s.db.run('DELETE FROM team_keys WHERE team_id = ? AND epoch = ?', team.id, epoch)
    throw err
  }
  await s.db.run('UPDATE team_members SET removed_at = ? WHERE team_id = ? AND account_id = ?', Date.now(), team.id, member.id)
  await s.db.run('DELETE FROM team_key_wraps WHERE team_id = ? AND account_id = ?', team.id, member.id)
  await s.db.run('UPDATE teams SET epoch = ? WHERE id = ?', epoch, team.id)
  const remaining = await s.db.all(`SELECT a.* FROM team_members m JOIN accounts a ON a.id = m.account_id WHERE m.team_id = ? AND m.removed_at IS NULL`, team.id) as AccountRow[]
  for (const r of remaining) await wrapTeamKeysFor(s, { teamId: team.id, member: r, fromEpoch: epoch })
  return toTeamView(s, { ...team, epoch })
}

async function hospitalDoctor(s: Services, ref: string, hospitalId: string): Promise<AccountRow> {
  const row = await findAccount(s.db, ref)
  if (!row || row.role !== 'doctor' || row.hospital_id !== hospitalId) throw new AppError('UNKNOWN_ACCOUNT')
  return row
}
