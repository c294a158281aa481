import { bytesToHex, concat, keccak256, numberToHex, type Address, type Hex } from 'viem'
import { decodeBase64url, encodeBase64url, utf8 } from '../crypto/bytes.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { generateEncryptionKeyPair, unwrapKey, wrapKey } from '../crypto/key-wrap.ts'
import { openWithNodeKey, sealWithNodeKey } from '../accounts/node-key.ts'
import { publicKeyOf } from '../accounts/directory.ts'
import type { AccountRow } from '../accounts/account.ts'
import { isUniqueViolation } from '../db/open-database.ts'
import { AppError } from '../errors.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import type { Services } from '../services.ts'

/** A care team's key of one epoch, as its members open it. */
export interface TeamKey {
  epoch: number
  /** The pseudo-address envelopes name the team key by (never an account on chain). */
  address: Address
  privateKey: Uint8Array
}

/**
 * The address a team key of `epoch` is named by in envelopes: the first 20 bytes of
 * keccak256(teamId ‖ epoch), so each epoch's key has its own envelopes and wrap context.
 */
export function teamKeyAddress(teamId: Hex, epoch: number): Address {
  return `0x${keccak256(concat([teamId, numberToHex(epoch, { size: 4 })])).slice(26)}` as Address
}

const sealLabel = (teamId: Hex, epoch: number) => `team:${teamId.toLowerCase()}:${epoch}`
const wrapContext = (teamId: Hex, epoch: number, member: string) => utf8(`medledger/team-key/v1|${teamId.toLowerCase()}|${epoch}|${member.toLowerCase()}`)

/**
 * A fresh X25519 team key for `epoch`: its private key sealed under the node key (so the
 * hospital's staff can add a member with no member present) and stored; returns the public key
 * and its SHA-256, which goes on chain. The public key is also stored and pinned as an IPFS raw
 * block, whose CID carries that same digest.
 * @throws AppError TEAM_BUSY when the team already has a key of `epoch`
 */
export async function createTeamKey(s: Pick<Services, 'db' | 'nodeKey' | 'ipfs'>, { teamId, epoch }: { teamId: Hex; epoch: number }): Promise<{ publicKey: Uint8Array; keyDigest: Hex }> {
  const pair = await generateEncryptionKeyPair('x25519-hpke')
  const sealed = sealWithNodeKey(s.nodeKey, sealLabel(teamId, epoch), pair.privateKey)
  pair.privateKey.fill(0)
  // Published as a raw block: its CID's digest is the digest the chain holds, so another member's
  // node can fetch the team's public key by the on-chain digest and check it.
  // Before the row: a failed write then leaves no key row behind to hold the epoch.
  await putRawBlock(s.ipfs, pair.publicKey)
  try {
    await s.db.run('INSERT INTO team_keys (team_id, epoch, public_key, sealed_private_key) VALUES (?, ?, ?, ?)', teamId, epoch, Buffer.from(pair.publicKey), sealed)
  } catch (err) {
    // Another process took this epoch a moment ago (or a removal cut off by a crash holds it).
    if (isUniqueViolation(err)) throw new AppError('TEAM_BUSY', { details: `team ${teamId} key epoch ${epoch}` })
    throw err
  }
  return { publicKey: pair.publicKey, keyDigest: bytesToHex(hashSha256(pair.publicKey)) }
}

/**
 * Wraps the team's keys for `member` with the member's own public key: every epoch's, or only
 * `fromEpoch` and later. Cost: one wrap per epoch, not per record.
 * @throws AppError PUBLIC_KEY_MISMATCH, KEYSTORE_LOCKED
 */
export async function wrapTeamKeysFor(s: Pick<Services, 'db' | 'nodeKey' | 'ledger' | 'ipfs'>, { teamId, member, fromEpoch = 1 }: { teamId: Hex; member: AccountRow; fromEpoch?: number }): Promise<void> {
  const keys = await s.db.all('SELECT epoch, sealed_private_key FROM team_keys WHERE team_id = ? AND epoch >= ? ORDER BY epoch', teamId, fromEpoch) as { epoch: number; sealed_private_key: string }[]
  const publicKey = await publicKeyOf(s, member)
  for (const k of keys) {
    const privateKey = openWithNodeKey(s.nodeKey, sealLabel(teamId, Number(k.epoch)), k.sealed_private_key)
    const wrapped = await wrapKey({ scheme: member.key_scheme, publicKey, key: privateKey, context: wrapContext(teamId, Number(k.epoch), member.address) })
    privateKey.fill(0)
    await s.db.run('DELETE FROM team_key_wraps WHERE team_id = ? AND epoch = ? AND account_id = ?', teamId, k.epoch, member.id)
    await s.db.run('INSERT INTO team_key_wraps (team_id, epoch, account_id, wrapped) VALUES (?, ?, ?, ?)', teamId, k.epoch, member.id, encodeBase64url(wrapped))
  }
}

/**
 * The team keys wrapped for this member, opened with the member's own private key, newest first.
 * @throws AppError RECORD_INTEGRITY when a wrap does not open
 */
export async function openTeamKeys(s: Pick<Services, 'db'>, { teamId, member }: { teamId: Hex; member: { id: string; address: Address; scheme: AccountRow['key_scheme']; privateKey: Uint8Array } }): Promise<TeamKey[]> {
  const wraps = await s.db.all('SELECT epoch, wrapped FROM team_key_wraps WHERE team_id = ? AND account_id = ? ORDER BY epoch DESC', teamId, member.id) as { epoch: number; wrapped: string }[]
  const keys: TeamKey[] = []
  for (const w of wraps) {
    const wrapped = decodeBase64url(w.wrapped)
    if (!wrapped) throw new AppError('RECORD_INTEGRITY', { details: 'team key wrap is not base64url' })
    const epoch = Number(w.epoch)
    const privateKey = await unwrapKey({ scheme: member.scheme, privateKey: member.privateKey, wrapped, context: wrapContext(teamId, epoch, member.address) })
    keys.push({ epoch, address: teamKeyAddress(teamId, epoch), privateKey })
  }
  return keys
}
