import type { Hex } from 'viem'
import { chainTime } from '../ledger/chain-time.ts'
import type { GranteeAccount } from '../records/upload-record.ts'
import { currentTeamKey } from './current-team-key.ts'
import { teamKeyAddress } from './team-keys.ts'
import type { Services } from '../services.ts'

/**
 * The care teams holding a live grant to a patient's records, as grantees of a new record: each
 * team's key (of this node's teams, or another hospital's mirrored here) of its current epoch (so after a removal only the new key), checked against the
 * digest CareTeams holds (`teamKey`: upload does not look it up in the Registry). Live by the
 * chain's clock `now` (asked of the chain when not given).
 * @throws AppError PUBLIC_KEY_MISMATCH, LEDGER_UNAVAILABLE
 */
export async function listTeamGrantees(s: Pick<Services, 'db' | 'ledger' | 'ipfs'>, { patientId, now, signal }: { patientId: string; now?: number; signal?: AbortSignal }): Promise<GranteeAccount[]> {
  now ??= await chainTime(s.ledger, { signal })
  const rows = await s.db.all('SELECT team_id FROM team_grants WHERE patient_id = ? AND revoked_at IS NULL AND expires_at > ?', patientId, now) as { team_id: Hex }[]
  const grantees: GranteeAccount[] = []
  for (const g of rows) {
    // A team of this node or of another hospital (mirrored here): its current epoch's key, checked on chain.
    const t = await currentTeamKey(s, g.team_id)
    if (!t) continue
    grantees.push({ id: `team:${t.teamId}`, address: teamKeyAddress(t.teamId, t.epoch), key_scheme: 'x25519-hpke', public_key: Buffer.from(t.publicKey), teamKey: t.publicKey })
  }
  return grantees
}
