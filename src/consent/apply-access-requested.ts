import { zeroHash, type Address, type Hex } from 'viem'
import { ensureAccount } from '../accounts/directory.ts'
import { findActiveByAddress } from '../accounts/find-active-by-address.ts'
import { purposeNames } from '../ledger/purposes.ts'
import { scopeOf } from '../ledger/scope-of.ts'
import type { Services } from '../services.ts'

/** An access request as its `AccessRequested` event names it. */
export interface RequestedAccess {
  requestId: Hex
  requester: Address
  patient: Address
  purpose: number
  /** The hash of the requested record ids, or zero for all of the patient's records. */
  scope: Hex
  durationSeconds: number
  txHash: Hex
}

/**
 * A doctor of another member asked a patient of this node for access: the patient sees the
 * request (its purpose as a category only: the details stay with the requesting hospital) and
 * is told. Requests for patients not held here are ignored; a request already held is kept.
 * @throws AppError LEDGER_* (the requester could not be read)
 */
export async function applyAccessRequested(s: Pick<Services, 'db' | 'ledger' | 'notify'>, r: RequestedAccess): Promise<void> {
  const requestId = r.requestId.toLowerCase()
  if (await s.db.get('SELECT 1 AS x FROM access_requests WHERE request_id = ?', requestId)) return
  const patient = await findActiveByAddress(s.db, r.patient, 'patient')
  if (!patient) return
  const requester = await ensureAccount(s, r.requester)
  const hospital = requester.hospital_id ? await s.db.get<{ name: string }>('SELECT name FROM hospitals WHERE id = ?', requester.hospital_id) : undefined
  const recordIds = await matchScope(s, patient.id, r.scope.toLowerCase() as Hex)
  await s.db.run(`INSERT INTO access_requests (request_id, requester_id, patient_id, record_ids, purpose_code, purpose, duration_s, status, request_tx, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (request_id) DO NOTHING`,
  requestId, requester.id, patient.id, recordIds && JSON.stringify(recordIds), r.purpose,
  `${purposeNames[r.purpose] ?? 'other'} — the details stay with ${hospital?.name ?? 'the requesting hospital'}`,
  r.durationSeconds, r.txHash, Date.now())
  await s.notify?.({ accountId: patient.id, kind: 'access-requested', by: { accountId: requester.id }, recordCount: recordIds?.length ?? 'all', durationSeconds: r.durationSeconds })
}

/** The chain holds only the hash of the requested record ids: matched against this patient's records (null: all). */
async function matchScope(s: Pick<Services, 'db'>, patientId: string, scope: Hex): Promise<Hex[] | null> {
  if (scope === zeroHash) return null
  const mine = await s.db.all<{ record_id: Hex }>(`SELECT record_id FROM records WHERE patient_id = ? AND state = 'anchored'`, patientId)
  const single = mine.find((r) => scopeOf([r.record_id]) === scope)
  if (single) return [single.record_id]
  return scopeOf(mine.map((r) => r.record_id)) === scope ? mine.map((r) => r.record_id) : []
}
