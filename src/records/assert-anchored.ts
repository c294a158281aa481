import type { Address, Hex } from 'viem'
import { checkAnchor } from '../ledger/check-anchor.ts'
import { checkLeaf } from '../ledger/anchor-batch.ts'
import { AppError, isAppError } from '../errors.ts'
import type { RecordRow } from './record.ts'
import type { Services } from '../services.ts'

/**
 * Throws unless the chain's anchor commits to exactly this record's patient, author,
 * hospital, digest and envelopes: for a record anchored alone, its commitment (`checkAnchor`);
 * for one anchored in a batch, its leaf, inclusion proof, root and author signature
 * (`checkLeaf`: the root anchored by the record's hospital, the signature the author's).
 * Resolves the batch root the record is anchored under (none for a lone anchor).
 * @throws AppError RECORD_INTEGRITY, LEDGER_UNAVAILABLE
 */
export async function assertAnchored(s: Services, row: RecordRow): Promise<{ root?: Hex }> {
  const parties = await s.db.get('SELECT a.address AS patient, b.address AS author, h.address AS hospital FROM accounts a, accounts b, hospitals h WHERE a.id = ? AND b.id = ? AND h.id = ?', row.patient_id, row.author_id, row.hospital_id) as { patient: Address; author: Address; hospital: Address }
  const batched = await s.db.get<{ root: Hex; proof: string; signature: Hex }>('SELECT root, proof, signature FROM record_proofs WHERE record_id = ?', row.record_id)
  if (!batched) {
    const ok = await checkAnchor(s.ledger, { recordId: row.record_id, ...parties, digest: row.digest, envelopes: row.envelopes })
    if (!ok) throw new AppError('RECORD_INTEGRITY', { details: `record ${row.record_id} does not match its ledger anchor` })
    return {}
  }
  try {
    const leaf = { recordId: row.record_id, ...parties, digest: row.digest, envelopes: row.envelopes, signature: batched.signature }
    await checkLeaf(s.ledger, { root: batched.root, proof: JSON.parse(batched.proof) as Hex[], leaf })
  } catch (err) {
    if (!isAppError(err, 'LEDGER_REVERTED')) throw err
    throw new AppError('RECORD_INTEGRITY', { details: `record ${row.record_id} does not match its batch anchor: ${err.details ?? ''}` })
  }
  return { root: batched.root }
}
