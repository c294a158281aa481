import { chainTime } from '../ledger/chain-time.ts'
import type { GranteeAccount } from '../records/upload-record.ts'
import { listTeamGrantees } from './list-team-grantees.ts'
import type { Services } from '../services.ts'

/**
 * The doctors holding a live grant to all of a patient's records, and the care teams holding a
 * live grant (their current team key): a record added for that patient is wrapped for them too. Live by the chain's clock (the one the contract's expiry
 * uses), never the node's: a node clock behind the chain would hand the key to a grantee whose
 * grant has ended, one ahead would withhold it from a grantee whose grant runs on. The chain
 * still decides at each read.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function listAllRecordsGrantees(s: Pick<Services, 'db' | 'ledger' | 'ipfs'>, { patientId, signal }: { patientId: string; signal?: AbortSignal }): Promise<GranteeAccount[]> {
  const now = await chainTime(s.ledger, { signal })
  const doctors = await s.db.all(`SELECT DISTINCT a.id, a.address, a.key_scheme, a.public_key FROM access_requests r JOIN accounts a ON a.id = r.requester_id
    WHERE r.patient_id = ? AND r.status = 'approved' AND r.granted_record_ids IS NULL AND r.expires_at > ?`, patientId, now) as GranteeAccount[]
  // Care teams holding a live grant: their current team key (issue 13 item 5).
  return [...doctors, ...await listTeamGrantees(s, { patientId, now, signal })]
}
