import type { Address } from 'viem'
import { generateRecordId } from '../crypto/tokens.ts'
import { checkText } from '../text/check-text.ts'
import { requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { sendTeamCreation } from '../ledger/care-teams/send-team-creation.ts'
import { careTeamsAddress } from '../ledger/care-teams/care-teams-address.ts'
import { createTeamKey, dropTeamKeys } from './team-keys.ts'
import { teamChangeJournaled } from './team-lock.ts'
import { managedHospitalId, toTeamView, type TeamRow, type TeamView } from './team-view.ts'
import type { Services } from '../services.ts'

/**
 * A hospital's staff (or the admin) create a care team: a random team id and a first team key
 * (epoch 1), registered on chain from the actor's own key (`CareTeams.createTeam`, only ids,
 * addresses and the key's digest); the name stays on this node. The key is wrapped for the
 * hospital's staff and the admin only (`createTeamKey`), never kept under the node key. The row is written first as
 * 'creating' and becomes 'active' once the transaction is mined.
 * @throws AppError FORBIDDEN, VALIDATION_FAILED, TEAMS_UNAVAILABLE, LEDGER_*
 */
export async function createTeam(s: Services, { actor, name, signal }: { actor: Actor | undefined; name: string; signal?: AbortSignal }): Promise<TeamView> {
  const by = requireRole(actor, 'staff', 'admin')
  const keys = requireKeys(by)
  const teamName = checkText(name, { field: 'name', max: 200 })
  const hospitalId = await managedHospitalId(s, by)
  const hospital = await s.db.get('SELECT address FROM hospitals WHERE id = ?', hospitalId) as { address: Address }
  await careTeamsAddress(s.ledger)
  const teamId = generateRecordId()
  const row: TeamRow = { id: teamId, hospital_id: hospitalId, name: teamName, epoch: 1, created_by: by.account.id, tx_hash: null, created_at: Date.now() }
  // The row and its key first, as 'creating': a crash after the transaction is mined leaves a team
  // the next start completes (settleTeamChanges), never a team on chain with no row.
  await s.db.run(`INSERT INTO teams (id, hospital_id, name, epoch, created_by, tx_hash, created_at, state) VALUES (?, ?, ?, ?, ?, NULL, ?, 'creating')`,
    row.id, row.hospital_id, row.name, row.epoch, row.created_by, row.created_at)
  try {
    const { keyDigest, key } = await createTeamKey(s, { teamId, epoch: 1 })
    key.privateKey.fill(0)
    const receipt = await sendTeamCreation(s.ledger, { by: keys.ledger, teamId, hospital: hospital.address, keyDigest, signal })
    row.tx_hash = receipt.transactionHash
  } catch (err) {
    // Refused, never sent, or no key stored: nothing to keep. Sent and not refused, it may yet be mined: the row
    // stays 'creating' (unlisted) until the next start settles it by what the chain holds.
    if (!(await teamChangeJournaled(s, { purpose: 'team-create', teamId, since: row.created_at }))) {
      await dropTeamKeys(s, { teamId })
      await s.db.run('DELETE FROM teams WHERE id = ?', teamId)
    }
    throw err
  }
  await s.db.run(`UPDATE teams SET state = 'active', tx_hash = ? WHERE id = ?`, row.tx_hash, teamId)
  return toTeamView(s, row)
}
