import { toHex, type Hex } from 'viem'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import { requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { sendTeamGrant } from '../ledger/consent/send-team-grant.ts'
import { sendTeamGrantRevocation } from '../ledger/consent/send-team-grant-revocation.ts'
import { openRecordKeys } from '../records/open-record-keys.ts'
import { AppError } from '../errors.ts'
import { sealGrantEnvelopes } from './grant-envelopes.ts'
import { parseDays, patientRecords } from './access-request.ts'
import { teamKeyAddress } from './team-keys.ts'
import { currentTeamKey } from './current-team-key.ts'
import { writeTeamGrant } from './apply-team-grant.ts'
import type { Services } from '../services.ts'

const DEFAULT_DAYS = 30

export interface TeamGrantView {
  teamId: Hex
  patientId: string
  epoch: number
  expiresAt: string
  envelopes: Hex
  txHash: Hex
}

/**
 * A patient grants a care team all of their records: the node unwraps each record's data key
 * with the patient's key and wraps it once for the team key of the current epoch (checked against
 * the digest CareTeams holds; a team of another hospital by the key mirrored from its CareTeams
 * events), in one IPFS block whose digest the grant carries; the grant goes on
 * chain from the patient's own key (`Consent.grantTeam`). Records added later while it lives are
 * wrapped for the team key in their own envelopes. The patient and each member are notified
 * (the hospital, counts and the expiry: never the team's name).
 * @throws AppError FORBIDDEN, UNKNOWN_TEAM, INVALID_DURATION, PUBLIC_KEY_MISMATCH, LEDGER_*
 */
export async function grantTeam(s: Services, p: { actor: Actor | undefined; teamId: string; days?: number; signal?: AbortSignal }): Promise<TeamGrantView> {
  const patient = requireRole(p.actor, 'patient')
  const keys = requireKeys(patient)
  const duration = parseDays(p.days ?? DEFAULT_DAYS)
  // A team of this node, or of another hospital mirrored here (its key fetched from IPFS by the on-chain digest).
  const key = await currentTeamKey(s, String(p.teamId))
  if (!key) throw new AppError('UNKNOWN_TEAM')
  const team = { id: key.teamId }
  const epoch = key.epoch
  const me = { address: patient.account.address, scheme: patient.account.keyScheme, privateKey: keys.encryptionPrivateKey }
  const dataKeys = []
  for (const r of await patientRecords(s, patient.account.id, null)) dataKeys.push({ recordId: r.record_id, dataKey: (await openRecordKeys(s, r, me, p.signal)).dataKey })
  const block = await sealGrantEnvelopes({
    grantId: team.id,
    kind: 'grant',
    to: { kind: 'account', address: teamKeyAddress(team.id, epoch), scheme: 'x25519-hpke', publicKey: key.publicKey },
    keys: dataKeys,
  })
  for (const k of dataKeys) k.dataKey.fill(0)
  const envelopes = toHex(digestFromCid(await putRawBlock(s.ipfs, block, { signal: p.signal })))
  const receipt = await sendTeamGrant(s.ledger, { patient: keys.ledger, teamId: team.id, duration: BigInt(duration), envelopes, signal: p.signal })
  const { timestamp } = await s.ledger.client.getBlock({ blockNumber: receipt.blockNumber })
  const expiresAt = Number(timestamp) + duration
  // The follower applies this node's own TeamAccessGranted too (a node stopped before this point
  // keeps the grant): whichever writes this grant tells the members.
  const written = await writeTeamGrant(s.db, { teamId: team.id, patientId: patient.account.id, epoch, expiresAt, envelopes, txHash: receipt.transactionHash })
  const facts = { recordCount: dataKeys.length > 0 ? dataKeys.length : 'all' as const, expiresAt: new Date(expiresAt * 1000) }
  if (key.hospitalId) await s.notify?.({ accountId: patient.account.id, kind: 'team-grant-confirmed', by: { hospitalId: key.hospitalId }, ...facts })
  if (written) for (const m of await currentMembers(s, team.id)) await s.notify?.({ accountId: m, kind: 'team-access-granted', by: { accountId: patient.account.id }, ...facts })
  return { teamId: team.id, patientId: patient.account.id, epoch, expiresAt: new Date(expiresAt * 1000).toISOString(), envelopes, txHash: receipt.transactionHash }
}

async function currentMembers(s: Pick<Services, 'db'>, teamId: Hex): Promise<string[]> {
  return (await s.db.all('SELECT account_id FROM team_members WHERE team_id = ? AND removed_at IS NULL', teamId) as { account_id: string }[]).map((m) => m.account_id)
}

/**
 * The patient ends their grant to a team at once (`Consent.revokeTeamGrant`, from their key).
 * @throws AppError FORBIDDEN, UNKNOWN_TEAM, GRANT_NOT_ACTIVE, LEDGER_*
 */
export async function revokeTeamGrant(s: Services, p: { actor: Actor | undefined; teamId: string; signal?: AbortSignal }): Promise<{ teamId: Hex; revoked: true }> {
  const patient = requireRole(p.actor, 'patient')
  const keys = requireKeys(patient)
  const g = await s.db.get('SELECT team_id FROM team_grants WHERE team_id = ? AND patient_id = ? AND revoked_at IS NULL', String(p.teamId).toLowerCase(), patient.account.id) as { team_id: Hex } | undefined
  if (!g) throw new AppError('GRANT_NOT_ACTIVE')
  await sendTeamGrantRevocation(s.ledger, { patient: keys.ledger, teamId: g.team_id, signal: p.signal })
  // The follower applies this node's own TeamAccessRevoked too: whichever ends the grant tells the members.
  const ended = await s.db.run('UPDATE team_grants SET revoked_at = ? WHERE team_id = ? AND patient_id = ? AND revoked_at IS NULL', Date.now(), g.team_id, patient.account.id)
  if (ended.changes > 0) for (const m of await currentMembers(s, g.team_id)) await s.notify?.({ accountId: m, kind: 'team-access-revoked', by: { accountId: patient.account.id } })
  return { teamId: g.team_id, revoked: true }
}
