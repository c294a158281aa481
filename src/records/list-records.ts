import { AppError, isAppError } from '../errors.ts'
import { findAccount, requireRole, type Actor } from '../accounts/account.ts'
import { openRecordKeys } from './read-record.ts'
import { recordParties, toRecordView, type RecordRow, type RecordView } from './record.ts'
import type { Services } from '../services.ts'

export interface ListRecordsParams {
  actor: Actor | undefined
  /** A patient's e-mail, id or address: that patient's records the actor may read. */
  patient?: string
  limit?: number
  offset?: number
  signal?: AbortSignal
}

export interface ListRecordsResult {
  records: RecordView[]
  total: number
  limit: number
  offset: number
}

/**
 * Lists anchored records the actor may read, newest first, with their decrypted manifests:
 * a patient's own records, or a doctor's uploads (optionally for one patient).
 * @throws AppError FORBIDDEN (admin, staff), UNKNOWN_PATIENT, VALIDATION_FAILED
 */
export async function listRecords(s: Services, { actor, patient, limit = 100, offset = 0, signal }: ListRecordsParams): Promise<ListRecordsResult> {
  const reader = requireRole(actor, 'doctor', 'patient')
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000 || !Number.isSafeInteger(offset) || offset < 0) {
    throw new AppError('VALIDATION_FAILED', { message: 'limit is 1 to 1000 and offset 0 or more.' })
  }
  const where: string[] = [`state = 'anchored'`]
  const args: unknown[] = []
  if (reader.account.role === 'patient') {
    where.push('patient_id = ?')
    args.push(reader.account.id)
    if (patient !== undefined && findAccount(s.db, patient)?.id !== reader.account.id) throw new AppError('UNKNOWN_PATIENT')
  } else {
    where.push('author_id = ?')
    args.push(reader.account.id)
    if (patient !== undefined) {
      const p = findAccount(s.db, patient)
      if (!p || p.role !== 'patient' || p.hospital_id !== reader.account.hospitalId) throw new AppError('UNKNOWN_PATIENT')
      where.push('patient_id = ?')
      args.push(p.id)
    }
  }
  const clause = where.join(' AND ')
  const total = (s.db.prepare(`SELECT COUNT(*) AS n FROM records WHERE ${clause}`).get(...args) as { n: number }).n
  const rows = s.db.prepare(`SELECT * FROM records WHERE ${clause} ORDER BY created_at DESC, record_id LIMIT ? OFFSET ?`).all(...args, limit, offset) as RecordRow[]
  const records: RecordView[] = []
  for (const row of rows) {
    try {
      const { manifest } = await openRecordKeys(s, row, { address: reader.account.address, scheme: reader.account.keyScheme, privateKey: reader.keys.encryptionPrivateKey }, signal)
      records.push(toRecordView(row, recordParties(s.db, row), manifest))
    } catch (err) {
      // One damaged record must not hide the others: it is listed with its problem.
      if (!isAppError(err, 'RECORD_INTEGRITY', 'RECORD_UNAVAILABLE')) throw err
      const unknown = { fileName: '', mediaType: '', size: 0, sha256: '', created: '' }
      records.push({ ...toRecordView(row, recordParties(s.db, row), unknown), problem: err.code })
    }
  }
  return { records, total, limit, offset }
}
