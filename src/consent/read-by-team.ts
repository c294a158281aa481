import type { Address, Hex } from 'viem'
import { isTeamGrantLive } from '../ledger/consent/is-team-grant-live.ts'
import { isAppError } from '../errors.ts'
import type { KeyScheme } from '../crypto/key-wrap.ts'
import { openEnvelopes, type EnvelopesObject } from '../records/envelopes.ts'
import type { RecordRow } from '../records/record.ts'
import type { GrantReader } from './grant-envelopes.ts'
import { openTeamKeys } from './team-keys.ts'
import type { Services } from '../services.ts'

export interface ReadByTeamParams {
  row: RecordRow
  patient: Address
  reader: { id: string; address: Address; scheme: KeyScheme; privateKey: Uint8Array }
  /** The record's envelopes, once it is checked against its anchor. */
  envelopes: () => Promise<EnvelopesObject>
  /** The data key in the grant envelope stored under `digest`. */
  grantKey: (digest: string, grantId: Hex, reader: GrantReader) => Promise<Uint8Array>
}

/**
 * A read under a care team's grant: the reader is a member of a team this patient granted (on
 * this node), and the chain says, now, that the grant lives and the reader is a member
 * (`isTeamGrantLive`). The record's data key comes from the grant's block (records granted at
 * the time) or from the record's own envelopes (records added later), opened with a team key the
 * reader holds: each epoch's key wrapped for the member, so a record added after a removal opens
 * only with the new epoch's key.
 * @throws AppError LEDGER_UNAVAILABLE, RECORD_INTEGRITY
 */
export async function readByTeam(s: Services, { row, patient, reader, envelopes, grantKey }: ReadByTeamParams): Promise<{ teamId: Hex; dataKey: Uint8Array; env: EnvelopesObject } | undefined> {
  const grants = await s.db.all(`SELECT g.team_id, g.envelopes FROM team_grants g JOIN team_members m ON m.team_id = g.team_id
    WHERE m.account_id = ? AND m.removed_at IS NULL AND g.patient_id = ? AND g.revoked_at IS NULL ORDER BY g.granted_at DESC`, reader.id, row.patient_id) as { team_id: Hex; envelopes: string }[]
  for (const g of grants) {
    if (!(await isTeamGrantLive(s.ledger, { teamId: g.team_id, patient, reader: reader.address }))) continue
    const env = await envelopes()
    const keys = await openTeamKeys(s, { teamId: g.team_id, member: reader })
    try {
      for (const k of keys) {
        const as = { address: k.address, scheme: 'x25519-hpke' as const, privateKey: k.privateKey }
        const dataKey = await grantKey(g.envelopes, g.team_id, { kind: 'account', ...as }).catch(notHere)
          ?? await openEnvelopes(env, as).then((o) => o.dataKey, notHere)
        if (dataKey) return { teamId: g.team_id, dataKey, env }
      }
    } finally {
      for (const k of keys) k.privateKey.fill(0)
    }
  }
  return undefined
}

/** An envelope not addressed to this key: try the next. */
const notHere = (err: unknown): undefined => {
  if (isAppError(err, 'RECORD_NOT_FOUND')) return undefined
  throw err
}
