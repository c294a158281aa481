import type { Address } from 'viem'
import { checkAnchor } from '../ledger/check-anchor.ts'
import { AppError } from '../errors.ts'
import type { RecordRow } from './record.ts'
import type { Services } from '../services.ts'

/**
 * Throws unless the chain's anchor commits to exactly this record's patient, author,
 * hospital, digest and envelopes.
 * @throws AppError RECORD_INTEGRITY
 */
export async function assertAnchored(s: Services, row: RecordRow): Promise<void> {
  const parties = await s.db.get('SELECT a.address AS patient, b.address AS author, h.address AS hospital FROM accounts a, accounts b, hospitals h WHERE a.id = ? AND b.id = ? AND h.id = ?', row.patient_id, row.author_id, row.hospital_id) as { patient: Address; author: Address; hospital: Address }
  const ok = await checkAnchor(s.ledger, { recordId: row.record_id, ...parties, digest: row.digest, envelopes: row.envelopes })
  if (!ok) throw new AppError('RECORD_INTEGRITY', { details: `record ${row.record_id} does not match its ledger anchor` })
}
