import type { Address } from 'viem'
import { findParty } from '../accounts/directory.ts'
import { generateRecordId } from '../crypto/tokens.ts'
import { commitText } from '../crypto/commit-text.ts'
import { sendAccessRequest } from '../ledger/consent/send-access-request.ts'
import { purposes } from '../ledger/purposes.ts'
import { scopeOf } from '../ledger/scope-of.ts'
import { requireKeys, type Actor } from '../accounts/account.ts'
import { requireConfirmedDoctor } from '../accounts/require-confirmed-doctor.ts'
import { AppError } from '../errors.ts'
import { checkText } from '../text/check-text.ts'
import { parseDays, patientRecords, type AccessRequestView } from './access-request.ts'
import { getAccessRequest } from './get-access-request.ts'
import type { Services } from '../services.ts'

/**
 * A confirmed doctor asks a patient (of any hospital) for access to all or listed records.
 * @throws AppError FORBIDDEN, DOCTOR_NOT_CONFIRMED, UNKNOWN_PATIENT, RECORD_NOT_FOUND, INVALID_DURATION, LEDGER_*
 */
export async function requestAccess(s: Services, p: { actor: Actor | undefined; patient: string; recordIds?: string[]; purpose: string; days: number; signal?: AbortSignal }): Promise<AccessRequestView> {
  const doctor = requireConfirmedDoctor(p.actor)
  const keys = requireKeys(doctor)
  const purpose = checkText(p.purpose, { field: 'purpose', max: 500, multiline: true })
  const duration = parseDays(p.days)
  // A patient of this node by e-mail, id or address, or of another member hospital by ledger address.
  const patient = await findParty(s, p.patient)
  if (!patient || patient.role !== 'patient') throw new AppError('UNKNOWN_PATIENT')
  const recordIds = p.recordIds && p.recordIds.length > 0 ? (await patientRecords(s, patient.id, p.recordIds)).map((r) => r.record_id) : null
  const requestId = generateRecordId()
  // created_at / decided_at are bookkeeping (ordering, display) on the node's clock; every
  // expiry is the chain's: expires_at comes from the approving block and is compared with chainTime.
  const now = Date.now()
  await s.db.run(`INSERT INTO access_requests (request_id, requester_id, patient_id, record_ids, purpose_code, purpose, duration_s, status, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)`, requestId, doctor.account.id, patient.id, recordIds && JSON.stringify(recordIds), purposes.grant, purpose, duration, now)
  try {
    const receipt = await sendAccessRequest(s.ledger, {
      doctor: keys.ledger,
      requestId,
      patient: patient.address as Address,
      scope: scopeOf(recordIds),
      purpose: purposes.grant,
      purposeHash: commitText(s.nodeKey, requestId, purpose),
      duration: BigInt(duration),
      signal: p.signal,
    })
    await s.db.run('UPDATE access_requests SET request_tx = ? WHERE request_id = ?', receipt.transactionHash, requestId)
  } catch (err) {
    await s.db.run('DELETE FROM access_requests WHERE request_id = ?', requestId)
    throw err
  }
  await s.notify?.({ accountId: patient.id, kind: 'access-requested', by: { accountId: doctor.account.id }, recordCount: recordIds?.length ?? 'all', durationSeconds: duration })
  return getAccessRequest(s, { actor: doctor, requestId })
}
