import { bytesToHex } from 'viem'
import { hashSha256 } from '../crypto/hashes.ts'
import { chainTime } from '../ledger/chain-time.ts'
import { readTeam } from '../ledger/care-teams/read-team.ts'
import { AppError } from '../errors.ts'
import type { GranteeAccount } from '../records/upload-record.ts'
import { teamKeyAddress } from './team-keys.ts'
import type { TeamRow } from './team-view.ts'
import type { Services } from '../services.ts'

/**
 * The care teams holding a live grant to a patient's records, as grantees of a new record: each
 * team's key of its current epoch (so after a removal only the new key), checked against the
 * digest CareTeams holds (`teamKey`: upload does not look it up in the Registry). Live by the
 * chain's clock `now` (asked of the chain when not given).
 * @throws AppError PUBLIC_KEY_MISMATCH, LEDGER_UNAVAILABLE
 */
export async function listTeamGrantees(s: Pick<Services, 'db' | 'ledger'>, { patientId, now, signal }: { patientId: string; now?: number; signal?: AbortSignal }): Promise<GranteeAccount[]> {
  now ??= await chainTime(s.ledger, { signal })
  const rows = await s.db.all(`SELECT t.*, k.public_key FROM team_grants g JOIN teams t ON t.id = g.team_id JOIN team_keys k ON k.team_id = t.id AND k.epoch = t.epoch
    WHERE g.patient_id = ? AND g.revoked_at IS NULL AND g.expires_at > ?`, patientId, now) as (TeamRow & { public_key: Buffer })[]
  const grantees: GranteeAccount[] = []
  for (const t of rows) {
    const onChain = await readTeam(s.ledger, { teamId: t.id })
    const publicKey = new Uint8Array(t.public_key)
    if (onChain.epoch !== Number(t.epoch) || bytesToHex(hashSha256(publicKey)) !== onChain.keyDigest) throw new AppError('PUBLIC_KEY_MISMATCH', { details: `team ${t.id} key of epoch ${t.epoch}` })
    grantees.push({ id: `team:${t.id}`, address: teamKeyAddress(t.id, Number(t.epoch)), key_scheme: 'x25519-hpke', public_key: Buffer.from(publicKey), teamKey: publicKey })
  }
  return grantees
}
