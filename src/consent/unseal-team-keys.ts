import type { Hex } from 'viem'
import { openWithNodeKey } from '../accounts/node-key.ts'
import { shareTeamKeys, teamKeyAddress } from './team-keys.ts'
import type { Services } from '../services.ts'

/**
 * At start: care-team keys a node before this version kept sealed under the node key are wrapped
 * for their holders (the team's members, its hospital's staff, the admin) who lack a wrap, and
 * the sealed copy is then erased from its row, so the node key alone opens no team key any more.
 * Returns how many keys were moved; none is left on a second run.
 * @throws AppError KEYSTORE_LOCKED (a sealed key that does not open with this node key), PUBLIC_KEY_MISMATCH
 */
export async function unsealTeamKeys(s: Pick<Services, 'db' | 'nodeKey' | 'ledger' | 'ipfs'>): Promise<number> {
  const sealed = await s.db.all(`SELECT team_id, epoch, sealed_private_key FROM team_keys WHERE sealed_private_key IS NOT NULL AND sealed_private_key <> ''
    ORDER BY team_id, epoch`) as { team_id: Hex; epoch: number; sealed_private_key: string }[]
  for (const k of sealed) {
    const epoch = Number(k.epoch)
    const privateKey = openWithNodeKey(s.nodeKey, `team:${k.team_id.toLowerCase()}:${epoch}`, k.sealed_private_key)
    try {
      await shareTeamKeys(s, { teamId: k.team_id, keys: [{ epoch, address: teamKeyAddress(k.team_id, epoch), privateKey }] })
    } finally {
      privateKey.fill(0)
    }
    await s.db.run('UPDATE team_keys SET sealed_private_key = NULL WHERE team_id = ? AND epoch = ?', k.team_id, k.epoch)
  }
  return sealed.length
}
