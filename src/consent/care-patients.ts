import type { Services } from '../services.ts'
import { chainTime } from '../ledger/chain-time.ts'

/**
 * The ids of the patients a doctor has a care relationship with now: a record the doctor
 * authored, a pending request the doctor made, a live grant (approved, unexpired, unrevoked),
 * a live share to the doctor or a live emergency access the doctor opened — "live" by the
 * chain's clock. With `patientId`, only that patient's id when the relationship exists.
 * @throws AppError LEDGER_UNAVAILABLE when the chain's time cannot be read
 */
export async function carePatients(s: Services, { doctorId, patientId }: { doctorId: string; patientId?: string }): Promise<Set<string>> {
  const now = await chainTime(s.ledger)
  const one = patientId === undefined ? '' : ' AND patient_id = ?'
  const p = patientId === undefined ? [] : [patientId]
  const rows = await s.db.all(`SELECT patient_id FROM records WHERE author_id = ? AND state = 'anchored'${one}
    UNION SELECT patient_id FROM access_requests WHERE requester_id = ? AND (status = 'pending' OR (status = 'approved' AND expires_at > ?))${one}
    UNION SELECT patient_id FROM shares WHERE grantee_id = ? AND revoked_at IS NULL AND expires_at > ? AND NOT (once = 1 AND used_at IS NOT NULL)${one}
    UNION SELECT patient_id FROM emergencies WHERE doctor_id = ? AND expires_at > ?${one}`,
  doctorId, ...p, doctorId, now, ...p, doctorId, now, ...p, doctorId, now, ...p) as { patient_id: string }[]
  return new Set(rows.map((r) => r.patient_id))
}
