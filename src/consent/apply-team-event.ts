import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem'
import { hashSha256 } from '../crypto/hashes.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { AppError } from '../errors.ts'
import type { Services } from '../services.ts'

type S = Pick<Services, 'db' | 'ipfs'>

/** A care team of another hospital as this node mirrors it (what the chain says, and the checked public key). */
export interface RemoteTeamRow {
  id: Hex
  hospital: Address
  epoch: number
  key_digest: Hex
  public_key: Buffer
  tx_hash: string
  updated_at: number
}

/** The CareTeams events the follower hands here, their arguments as decoded. */
export type TeamEvent =
  | { kind: 'created'; teamId: Hex; hospital: Address; keyDigest: Hex; txHash: string; fetchMs: number }
  | { kind: 'added'; teamId: Hex; doctor: Address; epoch: number }
  | { kind: 'removed'; teamId: Hex; doctor: Address; epoch: number; keyDigest: Hex; txHash: string; fetchMs: number }

/**
 * A CareTeams event about a team of another hospital: the team is mirrored here by its id,
 * hospital address, key epoch and digest (no name is on chain, none is here), with the epoch's
 * public key fetched from IPFS by the digest on chain (the raw block the team's node pinned)
 * and checked to hash to it, so the team's node is not trusted for it; members by address.
 * A team this node holds itself (`teams`) is left alone. Idempotent: a replayed event changes
 * nothing, and an older epoch never replaces a newer one.
 * @throws AppError RECORD_UNAVAILABLE (the key block not served in time: the follower retries),
 *   RECORD_INTEGRITY, UNKNOWN_TEAM (a removal before its team is mirrored: retried)
 */
export async function applyTeamEvent(s: S, e: TeamEvent): Promise<void> {
  const teamId = e.teamId.toLowerCase() as Hex
  if (await s.db.get('SELECT 1 AS x FROM teams WHERE id = ?', teamId)) return
  const held = await s.db.get<{ epoch: number }>('SELECT epoch FROM remote_teams WHERE id = ?', teamId)
  if (e.kind === 'created') {
    if (held) return
    const publicKey = await fetchTeamKey(s, { teamId, keyDigest: e.keyDigest, fetchMs: e.fetchMs })
    await s.db.run(`INSERT INTO remote_teams (id, hospital, epoch, key_digest, public_key, tx_hash, updated_at) VALUES (?, ?, 1, ?, ?, ?, ?)
      ON CONFLICT (id) DO NOTHING`, teamId, e.hospital.toLowerCase(), e.keyDigest.toLowerCase(), Buffer.from(publicKey), e.txHash, Date.now())
    return
  }
  const doctor = e.doctor.toLowerCase()
  if (e.kind === 'added') {
    // Kept even while the team's own event waits in quarantine for its key block: members are by address only.
    await s.db.run(`INSERT INTO remote_team_members (team_id, address, added_at, removed_at) VALUES (?, ?, ?, NULL)
      ON CONFLICT (team_id, address) DO UPDATE SET added_at = excluded.added_at, removed_at = NULL`, teamId, doctor, Date.now())
    return
  }
  if (!held) throw new AppError('UNKNOWN_TEAM', { details: `team ${teamId} not mirrored yet` })
  // The key is fetched first (a block not served leaves nothing changed), the member marked removed before the epoch moves.
  const publicKey = e.epoch > Number(held.epoch) ? await fetchTeamKey(s, { teamId, keyDigest: e.keyDigest, fetchMs: e.fetchMs }) : undefined
  await s.db.run('UPDATE remote_team_members SET removed_at = ? WHERE team_id = ? AND address = ? AND removed_at IS NULL', Date.now(), teamId, doctor)
  if (publicKey) {
    await s.db.run('UPDATE remote_teams SET epoch = ?, key_digest = ?, public_key = ?, tx_hash = ?, updated_at = ? WHERE id = ? AND epoch < ?',
      e.epoch, e.keyDigest.toLowerCase(), Buffer.from(publicKey), e.txHash, Date.now(), teamId, e.epoch)
  }
}

/**
 * The team key's public key of the raw block whose digest is `keyDigest`, fetched within `fetchMs` and checked.
 * @throws AppError RECORD_UNAVAILABLE, RECORD_INTEGRITY
 */
export async function fetchTeamKey(s: S, { teamId, keyDigest, fetchMs }: { teamId: Hex; keyDigest: Hex; fetchMs: number }): Promise<Uint8Array> {
  const bytes = await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(keyDigest), 'raw'), { signal: AbortSignal.timeout(fetchMs) })
    .catch((cause: unknown) => {
      if (cause instanceof AppError && cause.code !== 'STORAGE_UNAVAILABLE') throw cause
      throw new AppError('RECORD_UNAVAILABLE', { cause, details: `key of team ${teamId} not served within ${fetchMs} ms` })
    })
  if (bytesToHex(hashSha256(bytes)) !== keyDigest.toLowerCase()) throw new AppError('RECORD_INTEGRITY', { details: `key block of team ${teamId} does not hash to its digest` })
  // An X25519 public key is 32 bytes: anything else is no team key.
  if (bytes.byteLength !== 32) throw new AppError('RECORD_INTEGRITY', { details: `key block of team ${teamId} is not an X25519 public key` })
  return bytes
}
