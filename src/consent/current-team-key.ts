import { bytesToHex, type Hex } from 'viem'
import { hashSha256 } from '../crypto/hashes.ts'
import { readTeam } from '../ledger/care-teams/read-team.ts'
import { AppError } from '../errors.ts'
import { fetchTeamKey } from './apply-team-event.ts'
import type { Services } from '../services.ts'

/** A care team's key of its current epoch, as a patient's node wraps data keys for it. */
export interface CurrentTeamKey {
  teamId: Hex
  epoch: number
  publicKey: Uint8Array
  /** The team's hospital as this node knows it (undefined for another hospital this node does not list). */
  hospitalId: string | undefined
}

/**
 * The current team key of a team of this node (`teams`, active) or of another hospital mirrored
 * here from CareTeams events (`remote_teams`), checked against the epoch and digest CareTeams
 * holds now; undefined when this node knows no such team.
 * @throws AppError PUBLIC_KEY_MISMATCH (the key held here is not the chain's: e.g. a removal on
 *   another node not mirrored yet), LEDGER_UNAVAILABLE
 */
export async function currentTeamKey(s: Pick<Services, 'db' | 'ledger' | 'ipfs'>, teamId: string): Promise<CurrentTeamKey | undefined> {
  const id = String(teamId).toLowerCase()
  const local = await s.db.get(`SELECT t.id, t.epoch, t.hospital_id, k.public_key FROM teams t JOIN team_keys k ON k.team_id = t.id AND k.epoch = t.epoch
    WHERE t.id = ? AND t.state = 'active'`, id) as { id: Hex; epoch: number; hospital_id: string; public_key: Buffer } | undefined
  const remote = local ? undefined : await s.db.get(`SELECT r.id, r.epoch, h.id AS hospital_id, r.public_key FROM remote_teams r LEFT JOIN hospitals h ON h.address = r.hospital
    WHERE r.id = ?`, id) as { id: Hex; epoch: number; hospital_id: string | null; public_key: Buffer } | undefined
  const team = local ?? remote
  if (!team) return undefined
  let epoch = Number(team.epoch)
  let publicKey: Uint8Array = new Uint8Array(team.public_key)
  const onChain = await readTeam(s.ledger, { teamId: team.id })
  if (remote && onChain.epoch > epoch) {
    // Another hospital's team moved to a new epoch the follower has not mirrored yet: its key is
    // fetched now by the digest on chain (and checked), as the follower will.
    publicKey = await fetchTeamKey(s, { teamId: team.id, keyDigest: onChain.keyDigest, fetchMs: CURRENT_KEY_FETCH_MS })
    epoch = onChain.epoch
    await s.db.run('UPDATE remote_teams SET epoch = ?, key_digest = ?, public_key = ?, updated_at = ? WHERE id = ? AND epoch < ?',
      epoch, onChain.keyDigest.toLowerCase(), Buffer.from(publicKey), Date.now(), team.id, epoch)
  }
  if (onChain.epoch !== epoch || bytesToHex(hashSha256(publicKey)) !== onChain.keyDigest) throw new AppError('PUBLIC_KEY_MISMATCH', { details: `team ${team.id} key of epoch ${epoch}` })
  return { teamId: team.id, epoch, publicKey, hospitalId: team.hospital_id ?? undefined }
}

/** How long a grant or an upload waits for another hospital's new team key from IPFS. */
const CURRENT_KEY_FETCH_MS = 5_000
