import { bytesToHex, type Address, type Hex } from 'viem'
import { hashSha256 } from '../crypto/hashes.ts'
import { readTeam } from '../ledger/care-teams/read-team.ts'
import { readTeamMember } from '../ledger/care-teams/read-team-member.ts'
import { dropPendingMember, finishTeamRemoval, settlePendingMember } from './team-members.ts'
import { serializeTeamChange } from './team-lock.ts'
import { dropTeamKeys } from './team-keys.ts'
import type { Services } from '../services.ts'

export interface SettleTeamChangesResult {
  /** Teams whose creation was mined and is now recorded ('active'). */
  created: number
  /** Teams never created on chain, dropped with their key. */
  dropped: number
  /** Removals the chain holds, now recorded (members out with their wraps; the new key was wrapped for the rest before its transaction). */
  removed: number
  /** Keys of removals that never reached the chain, dropped. */
  discarded: number
  /** Members added (pending here) whom the chain holds, now members. */
  added: number
  /** Pending members the chain never had, dropped with their wraps. */
  unadded: number
}

/**
 * At start, after the journal was replayed: care-team changes cut off between the transaction and
 * the rows that record it, settled by what the chain holds. A team still 'creating' whose team is
 * on chain with this node's key becomes 'active'; one the chain does not have is dropped with its
 * key (it was never acknowledged). A key of an epoch after the team's: when the chain's team is at
 * that epoch with that key, the removal happened (the members the chain no longer has leave);
 * otherwise the key is dropped with its wraps. A member added pending (its key wraps made before the
 * transaction) becomes a member when the chain has them in the team, else is dropped with them.
 * Needs no team key: none is kept under the node key.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function settleTeamChanges(s: Pick<Services, 'db' | 'ledger' | 'ipfs'>): Promise<SettleTeamChangesResult> {
  const out: SettleTeamChangesResult = { created: 0, dropped: 0, removed: 0, discarded: 0, added: 0, unadded: 0 }
  const creating = await s.db.all(`SELECT id FROM teams WHERE state = 'creating'`) as { id: Hex }[]
  for (const { id } of creating) {
    const key = await s.db.get('SELECT public_key FROM team_keys WHERE team_id = ? AND epoch = 1', id) as { public_key: Buffer } | undefined
    const onChain = await readTeam(s.ledger, { teamId: id })
    if (key && onChain.epoch >= 1 && (onChain.epoch > 1 || onChain.keyDigest === digestOf(key.public_key))) {
      const tx = await s.db.get(`SELECT tx_hash FROM journal WHERE purpose = 'team-create' AND ref = ? AND state = 'mined' ORDER BY id DESC LIMIT 1`, id) as { tx_hash: Hex } | undefined
      await s.db.run(`UPDATE teams SET state = 'active', tx_hash = ? WHERE id = ?`, tx?.tx_hash ?? null, id)
      out.created++
    } else {
      await dropTeamKeys(s, { teamId: id })
      await s.db.run('DELETE FROM teams WHERE id = ?', id)
      out.dropped++
    }
  }
  const ahead = await s.db.all(`SELECT k.team_id, k.epoch, k.public_key FROM team_keys k JOIN teams t ON t.id = k.team_id
    WHERE t.state = 'active' AND k.epoch > t.epoch ORDER BY k.team_id, k.epoch`) as { team_id: Hex; epoch: number; public_key: Buffer }[]
  for (const k of ahead) {
    await serializeTeamChange(s, k.team_id, async () => {
      const onChain = await readTeam(s.ledger, { teamId: k.team_id })
      if (onChain.epoch === Number(k.epoch) && onChain.keyDigest === digestOf(k.public_key)) {
        await finishTeamRemoval(s, { teamId: k.team_id, epoch: Number(k.epoch), removed: await leftOnChain(s, k.team_id) })
        out.removed++
      } else {
        await dropTeamKeys(s, { teamId: k.team_id, epoch: Number(k.epoch) })
        out.discarded++
      }
    })
  }
  await settlePendingMembers(s, out)
  return out
}

async function settlePendingMembers(s: Pick<Services, 'db' | 'ledger'>, out: SettleTeamChangesResult): Promise<void> {
  const pending = await s.db.all(`SELECT m.team_id, m.account_id, a.address FROM team_members m JOIN accounts a ON a.id = m.account_id WHERE m.removed_at = 0`) as { team_id: Hex; account_id: string; address: Address }[]
  for (const p of pending) {
    await serializeTeamChange(s, p.team_id, async () => {
      if (await readTeamMember(s.ledger, { teamId: p.team_id, account: p.address })) {
        await settlePendingMember(s, { teamId: p.team_id, accountId: p.account_id })
        out.added++
      } else {
        await dropPendingMember(s, p.team_id, p.account_id)
        out.unadded++
      }
    })
  }
}

const digestOf = (publicKey: Buffer): Hex => bytesToHex(hashSha256(new Uint8Array(publicKey)))

/** The members this node lists whom the chain no longer has in the team. */
async function leftOnChain(s: Pick<Services, 'db' | 'ledger'>, teamId: Hex): Promise<string[]> {
  const members = await s.db.all(`SELECT a.id, a.address FROM team_members m JOIN accounts a ON a.id = m.account_id WHERE m.team_id = ? AND m.removed_at IS NULL`, teamId) as { id: string; address: Address }[]
  const left = []
  for (const m of members) if (!(await readTeamMember(s.ledger, { teamId, account: m.address }))) left.push(m.id)
  return left
}
