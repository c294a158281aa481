import { bytesToHex, concat, keccak256, numberToHex, type Address, type Hex } from 'viem'
import { decodeBase64url, encodeBase64url, utf8 } from '../crypto/bytes.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { generateEncryptionKeyPair, unwrapKey, wrapKey } from '../crypto/key-wrap.ts'
import { publicKeyOf } from '../accounts/directory.ts'
import type { AccountRow } from '../accounts/account.ts'
import { isUniqueViolation } from '../db/open-database.ts'
import { AppError } from '../errors.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import type { Services } from '../services.ts'

/** A care team's key of one epoch, as a holder (a member, or one of the team hospital's staff or the admin) opens it. */
export interface TeamKey {
  epoch: number
  /** The pseudo-address envelopes name the team key by (never an account on chain). */
  address: Address
  privateKey: Uint8Array
}

/** Whoever opens team keys with their own key: a member reading, staff or the admin changing the team. */
export interface TeamKeyHolder {
  id: string
  address: Address
  scheme: AccountRow['key_scheme']
  privateKey: Uint8Array
}

type S = Pick<Services, 'db' | 'ledger' | 'ipfs'>

/**
 * The address a team key of `epoch` is named by in envelopes: the first 20 bytes of
 * keccak256(teamId ‖ epoch), so each epoch's key has its own envelopes and wrap context.
 */
export function teamKeyAddress(teamId: Hex, epoch: number): Address {
  return `0x${keccak256(concat([teamId, numberToHex(epoch, { size: 4 })])).slice(26)}` as Address
}

const wrapContext = (teamId: Hex, epoch: number, holder: string) => utf8(`medledger/team-key/v1|${teamId.toLowerCase()}|${epoch}|${holder.toLowerCase()}`)

/**
 * Who is given the team's keys: its current members (to read) and its keepers (to add members
 * later): the active staff of the team's hospital and this node's admin, each with a keystore
 * here. No copy is kept under the node key.
 */
export async function teamKeyHolders(s: Pick<Services, 'db'>, teamId: Hex, { except = [] }: { except?: string[] } = {}): Promise<AccountRow[]> {
  const rows = await s.db.all(`SELECT a.* FROM accounts a WHERE a.id IN (SELECT account_id FROM team_members WHERE team_id = ? AND removed_at IS NULL)
    OR (a.state = 'active' AND a.keystore <> '' AND (a.role = 'admin' OR (a.role = 'staff' AND a.hospital_id = (SELECT hospital_id FROM teams WHERE id = ?))))
    ORDER BY a.created_at`, teamId, teamId) as AccountRow[]
  return rows.filter((r) => !except.includes(r.id))
}

/**
 * A fresh X25519 team key for `epoch`, wrapped (HPKE, bound to team, epoch and holder) for each
 * of the team's holders but those in `except` (a member being removed); the private key is
 * kept nowhere else, and is returned for the caller to use and then zero. The public key and its
 * SHA-256 (which goes on chain) are stored, and the public key is pinned as an IPFS raw block,
 * whose CID carries that same digest.
 * @throws AppError TEAM_BUSY when the team already has a key of `epoch`, PUBLIC_KEY_MISMATCH
 */
export async function createTeamKey(s: S, { teamId, epoch, except = [] }: { teamId: Hex; epoch: number; except?: string[] }): Promise<{ publicKey: Uint8Array; keyDigest: Hex; key: TeamKey }> {
  const pair = await generateEncryptionKeyPair('x25519-hpke')
  const key: TeamKey = { epoch, address: teamKeyAddress(teamId, epoch), privateKey: pair.privateKey }
  // Published as a raw block: its CID's digest is the digest the chain holds, so another member's
  // node can fetch the team's public key by the on-chain digest and check it.
  // Before the row: a failed write then leaves no key row behind to hold the epoch.
  await putRawBlock(s.ipfs, pair.publicKey)
  try {
    await s.db.run('INSERT INTO team_keys (team_id, epoch, public_key, sealed_private_key) VALUES (?, ?, ?, NULL)', teamId, epoch, Buffer.from(pair.publicKey))
  } catch (err) {
    key.privateKey.fill(0)
    // Another process took this epoch a moment ago (or a removal cut off by a crash holds it).
    if (isUniqueViolation(err)) throw new AppError('TEAM_BUSY', { details: `team ${teamId} key epoch ${epoch}` })
    throw err
  }
  try {
    for (const holder of await teamKeyHolders(s, teamId, { except })) await putTeamKeyWrap(s, { teamId, key, holder })
  } catch (err) {
    key.privateKey.fill(0)
    await dropTeamKeys(s, { teamId, epoch })
    throw err
  }
  return { publicKey: pair.publicKey, keyDigest: bytesToHex(hashSha256(pair.publicKey)), key }
}

/** Deletes a team's keys and every wrap of them: of one epoch, or all (a team never created). */
export async function dropTeamKeys(s: Pick<Services, 'db'>, { teamId, epoch }: { teamId: Hex; epoch?: number }): Promise<void> {
  const which = epoch === undefined ? '' : ' AND epoch = ?'
  const args = epoch === undefined ? [teamId] : [teamId, epoch]
  await s.db.run(`DELETE FROM team_key_wraps WHERE team_id = ?${which}`, ...args)
  await s.db.run(`DELETE FROM team_keys WHERE team_id = ?${which}`, ...args)
}

/**
 * Wraps each of `keys` (opened by someone who holds them) for every holder of the team that has
 * no wrap of that epoch yet: a member just added, staff who joined after the key was made, a
 * member added in another process while a removal made its key. Returns the wraps written.
 * @throws AppError PUBLIC_KEY_MISMATCH
 */
export async function shareTeamKeys(s: S, { teamId, keys }: { teamId: Hex; keys: TeamKey[] }): Promise<number> {
  let written = 0
  const holders = await teamKeyHolders(s, teamId)
  for (const key of keys) {
    const have = new Set((await s.db.all('SELECT account_id FROM team_key_wraps WHERE team_id = ? AND epoch = ?', teamId, key.epoch) as { account_id: string }[]).map((w) => w.account_id))
    for (const holder of holders) {
      if (have.has(holder.id)) continue
      await putTeamKeyWrap(s, { teamId, key, holder })
      written++
    }
  }
  return written
}

/** Wraps each of `keys` for one holder (a member being added, still pending). */
export async function wrapTeamKeysFor(s: S, { teamId, keys, holder }: { teamId: Hex; keys: TeamKey[]; holder: AccountRow }): Promise<void> {
  for (const key of keys) await putTeamKeyWrap(s, { teamId, key, holder })
}

async function putTeamKeyWrap(s: S, { teamId, key, holder }: { teamId: Hex; key: TeamKey; holder: AccountRow }): Promise<void> {
  const publicKey = await publicKeyOf(s, holder)
  const wrapped = await wrapKey({ scheme: holder.key_scheme, publicKey, key: key.privateKey, context: wrapContext(teamId, key.epoch, holder.address) })
  await s.db.run('DELETE FROM team_key_wraps WHERE team_id = ? AND epoch = ? AND account_id = ?', teamId, key.epoch, holder.id)
  await s.db.run('INSERT INTO team_key_wraps (team_id, epoch, account_id, wrapped) VALUES (?, ?, ?, ?)', teamId, key.epoch, holder.id, encodeBase64url(wrapped))
}

/**
 * The team keys wrapped for this holder, opened with the holder's own private key, newest first.
 * @throws AppError RECORD_INTEGRITY when a wrap does not open
 */
export async function openTeamKeys(s: Pick<Services, 'db'>, { teamId, member }: { teamId: Hex; member: TeamKeyHolder }): Promise<TeamKey[]> {
  const wraps = await s.db.all('SELECT epoch, wrapped FROM team_key_wraps WHERE team_id = ? AND account_id = ? ORDER BY epoch DESC', teamId, member.id) as { epoch: number; wrapped: string }[]
  const keys: TeamKey[] = []
  try {
    for (const w of wraps) {
      const wrapped = decodeBase64url(w.wrapped)
      if (!wrapped) throw new AppError('RECORD_INTEGRITY', { details: 'team key wrap is not base64url' })
      const epoch = Number(w.epoch)
      const privateKey = await unwrapKey({ scheme: member.scheme, privateKey: member.privateKey, wrapped, context: wrapContext(teamId, epoch, member.address) })
      keys.push({ epoch, address: teamKeyAddress(teamId, epoch), privateKey })
    }
  } catch (err) {
    for (const k of keys) k.privateKey.fill(0)
    throw err
  }
  return keys
}
