import { createHash } from 'node:crypto'
import type { Address, Hex } from 'viem'
import { checkAnchor } from '../ledger/check-anchor.ts'
import { checkLeaf, partiesRefusal } from '../ledger/anchor-batch.ts'
import { toLedgerError } from '../ledger/send-transaction.ts'
import { AppError, isAppError } from '../errors.ts'
import type { RecordRow } from './record.ts'
import type { Services } from '../services.ts'

/**
 * Throws unless the chain's anchor commits to exactly this record's patient, author,
 * hospital, digest and envelopes: for a record anchored alone, its commitment (`checkAnchor`);
 * for one anchored in a batch, its leaf, inclusion proof, root and author signature
 * (`checkLeaf`: the root anchored by the record's hospital, the signature the author's).
 * Resolves the batch root the record is anchored under (none for a lone anchor).
 * A match is remembered in the node's `anchorCache` (never a mismatch): a lone anchor's for good,
 * a batched record's for the chain block it was checked at, since `checkLeaf` also reads the
 * author's and the patient's current roles; at a later block, a batched record that matched before
 * has only those roles asked again (`partiesRefusal`, once per author, patient and hospital per block). `fresh` asks the chain whatever the cache holds;
 * `head` is the current block as the caller read it afresh (a listing reads it once for all its records).
 * @throws AppError RECORD_INTEGRITY, LEDGER_UNAVAILABLE
 */
export async function assertAnchored(s: Services, row: RecordRow, { fresh = false, known, head }: { fresh?: boolean; known?: AnchorFacts; head?: () => Promise<bigint> } = {}): Promise<{ root?: Hex }> {
  const { parties, batched } = known ?? await anchorFacts(s, row)
  const cache = s.anchorCache.enabled ? s.anchorCache : undefined
  const key = createHash('sha256').update([row.record_id, parties.patient, parties.author, parties.hospital, row.digest, row.envelopes, batched?.root ?? '', batched?.proof ?? '', batched?.signature ?? ''].join(':').toLowerCase()).digest('base64')
  if (!batched) {
    if (!fresh && cache?.has(key)) return {}
    const ok = await checkAnchor(s.ledger, { recordId: row.record_id, ...parties, digest: row.digest, envelopes: row.envelopes })
    if (!ok) throw new AppError('RECORD_INTEGRITY', { details: `record ${row.record_id} does not match its ledger anchor` })
    cache?.set(key)
    return {}
  }
  const blockNumber = cache ? await (head?.() ?? cache.blockNumber(s.ledger)).catch((err: unknown) => { throw toLedgerError(err) }) : undefined
  if (!fresh && cache?.has(key, blockNumber)) return { root: batched.root }
  // Matched at an earlier block: its leaf, proof, root (anchored once, by its hospital) and
  // signature are what they were; only its parties' roles may have changed, and those are what
  // checkLeaf reads of the Registry, asked once per author, patient and hospital at this block.
  if (!fresh && blockNumber !== undefined && cache?.matchedOnce(key)) {
    const refusal = await cache.partiesAt(`${parties.author}:${parties.patient}:${parties.hospital}`.toLowerCase(), blockNumber, () => partiesRefusal(s.ledger, parties, blockNumber))
      .catch((err: unknown) => { throw toLedgerError(err) })
    if (refusal) throw new AppError('RECORD_INTEGRITY', { details: `record ${row.record_id} does not match its batch anchor: ${refusal.details ?? ''}` })
    cache.set(key, blockNumber)
    return { root: batched.root }
  }
  try {
    const leaf = { recordId: row.record_id, ...parties, digest: row.digest, envelopes: row.envelopes, signature: batched.signature }
    await checkLeaf(s.ledger, { root: batched.root, proof: JSON.parse(batched.proof) as Hex[], leaf, blockNumber })
  } catch (err) {
    if (!isAppError(err, 'LEDGER_REVERTED')) throw err
    throw new AppError('RECORD_INTEGRITY', { details: `record ${row.record_id} does not match its batch anchor: ${err.details ?? ''}` })
  }
  cache?.set(key, blockNumber)
  return { root: batched.root }
}

/** What `assertAnchored` compares a record's anchor with, beside its row: its parties' addresses and its batch proof (none for a lone anchor). */
export interface AnchorFacts {
  parties: { patient: Address; author: Address; hospital: Address }
  batched: { root: Hex; proof: string; signature: Hex } | undefined
}

/** A record's parties' addresses and batch proof, from the database (a caller checking many records may read them for all at once). */
export async function anchorFacts(s: Pick<Services, 'db'>, row: RecordRow): Promise<AnchorFacts> {
  // A record of a patient recovered since (consent/patient-recovery.ts) is anchored for the retired address.
  const [parties, batched] = await Promise.all([
    s.db.get(`SELECT COALESCE((SELECT patient_address FROM recovered_records WHERE record_id = ?), a.address) AS patient, b.address AS author, h.address AS hospital
      FROM accounts a, accounts b, hospitals h WHERE a.id = ? AND b.id = ? AND h.id = ?`, row.record_id, row.patient_id, row.author_id, row.hospital_id) as Promise<AnchorFacts['parties']>,
    s.db.get<{ root: Hex; proof: string; signature: Hex }>('SELECT root, proof, signature FROM record_proofs WHERE record_id = ?', row.record_id),
  ])
  return { parties, batched }
}
