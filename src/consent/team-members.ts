import type { Address, Hex } from 'viem'
import { findAccount, requireKeys, requireRole, type AccountRow, type Actor } from '../accounts/account.ts'
import { sendTeamMemberAddition } from '../ledger/care-teams/send-team-member-addition.ts'
import { sendTeamMemberRemoval } from '../ledger/care-teams/send-team-member-removal.ts'
import { readTeamMember } from '../ledger/care-teams/read-team-member.ts'
import { AppError, isAppError } from '../errors.ts'
import { createTeamKey, dropTeamKeys, openTeamKeys, shareTeamKeys, wrapTeamKeysFor, type TeamKey, type TeamKeyHolder } from './team-keys.ts'
import { managedTeam, toTeamView, type TeamView } from './team-view.ts'
import { serializeTeamChange, teamChangeJournaled } from './team-lock.ts'
import type { Services } from '../services.ts'

/**
 * The hospital's staff (or the admin) add one of the hospital's active doctors to a team: on chain
 * from the actor's key (`CareTeams.addMember`), then every epoch's team key is wrapped for the
 * doctor, one wrap per epoch: no record is re-wrapped. The actor opens the team keys from their
 * own wraps with the key their session unlocked (the node holds no copy it could open alone), and
 * wraps them too for any other holder who lacks one (staff who joined since). Changes to one team
 * run one at a time. The member's row and key wraps are written pending (`removed_at` 0: not a
 * member to any query, so nothing reads by it) before the transaction is sent, as a removal writes
 * its new key first: a node stopped after sending finds them settled by its follower (this node's
 * own TeamMemberAdded) or at the next start by what the chain holds (`settleTeamChanges`), and
 * dropped when the chain never had the member; the wraps need the actor's key, which no later
 * step has.
 * @throws AppError FORBIDDEN, KEYS_LOCKED, UNKNOWN_TEAM, UNKNOWN_ACCOUNT (not an active doctor of the team's hospital), TEAM_MEMBER_EXISTS, TEAM_KEY_NOT_HELD, LEDGER_*
 */
export async function addTeamMember(s: Services, { actor, teamId, doctor, signal }: { actor: Actor | undefined; teamId: string; doctor: string; signal?: AbortSignal }): Promise<TeamView> {
  const by = requireRole(actor, 'staff', 'admin')
  const keys = requireKeys(by)
  const { id } = await managedTeam(s, by, teamId)
  return serializeTeamChange(s, id, async () => {
    const team = await managedTeam(s, by, id)
    const member = await hospitalDoctor(s, doctor, team.hospital_id)
    if (await s.db.get('SELECT 1 FROM team_members WHERE team_id = ? AND account_id = ? AND removed_at IS NULL', team.id, member.id)) throw new AppError('TEAM_MEMBER_EXISTS')
    const holder = { id: by.account.id, address: by.account.address, scheme: by.account.keyScheme, privateKey: keys.encryptionPrivateKey }
    // Before the transaction: an actor who cannot give the doctor every epoch's key changes nothing.
    const before = await heldEveryEpoch(s, team.id, Number(team.epoch), holder)
    const since = Date.now()
    try {
      await s.db.run('DELETE FROM team_members WHERE team_id = ? AND account_id = ?', team.id, member.id)
      await s.db.run('INSERT INTO team_members (team_id, account_id, added_at, removed_at) VALUES (?, ?, ?, 0)', team.id, member.id, since)
      await wrapTeamKeysFor(s, { teamId: team.id, keys: before, holder: member })
    } finally {
      zero(before)
    }
    try {
      await sendTeamMemberAddition(s.ledger, { by: keys.ledger, teamId: team.id, doctor: member.address as Address, signal })
    } catch (err) {
      // Refused, or never sent: nothing changed. Sent and not refused, it may yet be mined: the
      // pending member stays, and the follower or the next start settles it by the chain.
      // Refused because the chain has the member already (an addition cut off before): a member.
      if (isAppError(err, 'LEDGER_REVERTED') && (await readTeamMember(s.ledger, { teamId: team.id, account: member.address as Address }))) await settlePendingMember(s, { teamId: team.id, accountId: member.id })
      else if (isAppError(err, 'LEDGER_REVERTED') || !(await teamChangeJournaled(s, { purpose: 'team-add', teamId: team.id, since }))) await dropPendingMember(s, team.id, member.id)
      throw err
    }
    // Member now (the row before the wraps of keys made since: a removal running in another
    // process then either wraps its new key for this member too, or has written that key, and
    // the actor's wrap, before these keys are opened).
    await settlePendingMember(s, { teamId: team.id, accountId: member.id })
    const held = await openTeamKeys(s, { teamId: team.id, member: holder })
    try {
      await shareTeamKeys(s, { teamId: team.id, keys: held })
    } finally {
      zero(held)
    }
    return toTeamView(s, await managedTeam(s, by, id))
  })
}

/** A pending member (`removed_at` 0) becomes a member: the chain holds the addition. */
export async function settlePendingMember(s: Pick<Services, 'db'>, { teamId, accountId }: { teamId: Hex; accountId: string }): Promise<void> {
  await s.db.run('UPDATE team_members SET removed_at = NULL, added_at = ? WHERE team_id = ? AND account_id = ? AND removed_at = 0', Date.now(), teamId, accountId)
}

/** A pending member the chain never had leaves with the wraps made for them. */
export async function dropPendingMember(s: Pick<Services, 'db'>, teamId: Hex, accountId: string): Promise<void> {
  if (!(await s.db.get('SELECT 1 FROM team_members WHERE team_id = ? AND account_id = ? AND removed_at = 0', teamId, accountId))) return
  await s.db.run('DELETE FROM team_key_wraps WHERE team_id = ? AND account_id = ?', teamId, accountId)
  await s.db.run('DELETE FROM team_members WHERE team_id = ? AND account_id = ? AND removed_at = 0', teamId, accountId)
}

/** This node's own TeamMemberAdded (the flow may have stopped before settling it): its pending member, if any, is a member. */
export async function applyOwnTeamMemberAdded(s: Pick<Services, 'db'>, { teamId, doctor }: { teamId: Hex; doctor: Address }): Promise<void> {
  const row = await s.db.get('SELECT id FROM accounts WHERE address = ?', doctor.toLowerCase()) as { id: string } | undefined
  if (row) await settlePendingMember(s, { teamId: teamId.toLowerCase() as Hex, accountId: row.id })
}

/**
 * The team keys of epochs 1 to `epoch` that `holder` opens from their own wraps.
 * @throws AppError TEAM_KEY_NOT_HELD when one is missing (the holder joined the staff after it was made)
 */
async function heldEveryEpoch(s: Pick<Services, 'db'>, teamId: Hex, epoch: number, holder: TeamKeyHolder): Promise<TeamKey[]> {
  const held = await openTeamKeys(s, { teamId, member: holder })
  for (let e = 1; e <= epoch; e++) {
    if (held.some((k) => k.epoch === e)) continue
    zero(held)
    throw new AppError('TEAM_KEY_NOT_HELD', { details: `team ${teamId} key epoch ${e}` })
  }
  return held
}

const zero = (keys: TeamKey[]) => {
  for (const k of keys) k.privateKey.fill(0)
}

/**
 * The hospital's staff (or the admin) remove a member: the team key moves to a new epoch (a new
 * key, its digest on chain with the removal, `CareTeams.removeMember`), wrapped for the remaining
 * members and the team's keepers (the hospital's staff, the admin) only. Records added from now on are wrapped for the new key; the chain refuses the
 * removed doctor's reads at once, whatever keys it kept. Changes to one team run one at a time on
 * this node; another process removing from the same team at the same moment gets `TEAM_BUSY`.
 * @throws AppError FORBIDDEN, KEYS_LOCKED, UNKNOWN_TEAM, UNKNOWN_ACCOUNT, NOT_TEAM_MEMBER, TEAM_BUSY, LEDGER_*
 */
export async function removeTeamMember(s: Services, { actor, teamId, doctorId, signal }: { actor: Actor | undefined; teamId: string; doctorId: string; signal?: AbortSignal }): Promise<TeamView> {
  const by = requireRole(actor, 'staff', 'admin')
  const keys = requireKeys(by)
  const { id } = await managedTeam(s, by, teamId)
  return serializeTeamChange(s, id, async () => {
    const team = await managedTeam(s, by, id)
    const member = await findAccount(s.db, doctorId)
    if (!member) throw new AppError('UNKNOWN_ACCOUNT')
    if (!(await s.db.get('SELECT 1 FROM team_members WHERE team_id = ? AND account_id = ? AND removed_at IS NULL', team.id, member.id))) throw new AppError('NOT_TEAM_MEMBER')
    const epoch = Number(team.epoch) + 1
    const since = Date.now()
    const { keyDigest, key } = await createTeamKey(s, { teamId: team.id, epoch, except: [member.id] })
    try {
      await sendTeamMemberRemoval(s.ledger, { by: keys.ledger, teamId: team.id, doctor: member.address as Address, keyDigest, signal })
    } catch (err) {
      // Refused, or never sent: nothing changed. Sent and not refused, it may yet be mined: the
      // key stays, and the next start settles the removal by what the chain holds.
      if (isAppError(err, 'LEDGER_REVERTED') || !(await teamChangeJournaled(s, { purpose: 'team-remove', teamId: team.id, since }))) {
        await dropTeamKeys(s, { teamId: team.id, epoch })
      }
      key.privateKey.fill(0)
      throw err
    }
    try {
      await finishTeamRemoval(s, { teamId: team.id, epoch, removed: [member.id], key })
    } finally {
      key.privateKey.fill(0)
    }
    return toTeamView(s, { ...team, epoch })
  })
}

/**
 * Records a removal the chain holds (its new key of `epoch` is on chain): the removed members
 * leave with their wraps and the team moves to `epoch`. The new key was wrapped for the remaining
 * members and the keepers when it was made; with the key still in hand (`key`), it is also
 * wrapped for anyone who became a holder since (a member added meanwhile by another process).
 * @throws AppError PUBLIC_KEY_MISMATCH
 */
export async function finishTeamRemoval(s: Pick<Services, 'db' | 'ledger' | 'ipfs'>, { teamId, epoch, removed, key }: { teamId: Hex; epoch: number; removed: string[]; key?: TeamKey }): Promise<void> {
  for (const accountId of removed) {
    await s.db.run('UPDATE team_members SET removed_at = ? WHERE team_id = ? AND account_id = ? AND removed_at IS NULL', Date.now(), teamId, accountId)
    await s.db.run('DELETE FROM team_key_wraps WHERE team_id = ? AND account_id = ?', teamId, accountId)
  }
  await s.db.run('UPDATE teams SET epoch = ? WHERE id = ?', epoch, teamId)
  if (key) await shareTeamKeys(s, { teamId, keys: [key] })
}

async function hospitalDoctor(s: Services, ref: string, hospitalId: string): Promise<AccountRow> {
  const row = await findAccount(s.db, ref)
  if (!row || row.role !== 'doctor' || row.hospital_id !== hospitalId) throw new AppError('UNKNOWN_ACCOUNT')
  return row
}
