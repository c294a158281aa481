import type { Hex } from 'viem'
import { dropRecordBlocks } from './drop-record-blocks.ts'
import type { RecordRow } from './record.ts'
import type { Services } from '../services.ts'

export interface ForgetErasedRecordParams {
  recordId: Hex
  /** The erasure that was confirmed, when this node knows it. */
  erasureId?: Hex
  /** The transaction that carried the tombstone. */
  txHash?: Hex
  signal?: AbortSignal
}

/** What an erased record leaves on a node: its ids, parties and anchored digests, nothing that opens it. */
export interface ErasedRecordRow {
  record_id: Hex
  patient_id: string
  author_id: string
  hospital_id: string
  digest: Hex
  envelopes: Hex
  erasure_id: Hex | null
  tx_hash: Hex | null
  erased_at: number
}

/**
 * Forgets an erased record on this node: writes its tombstone row first (reads answer
 * RECORD_ERASED from then on), unpins and deletes its DAG and envelopes block (the envelopes of
 * the patient, the author and the hospital's emergency key with it), keeps the deleted blocks'
 * CIDs, and deletes its row, batch proof, search tokens and terms and replica entry. Idempotent:
 * a replayed tombstone, or one for a record this node never knew, changes nothing more.
 * Grant envelopes that carry the record's key are the caller's (consent).
 */
export async function forgetErasedRecord(s: Pick<Services, 'db' | 'ipfs' | 'blockCache' | 'log'>, { recordId, erasureId, txHash, signal }: ForgetErasedRecordParams): Promise<ErasedRecordRow | undefined> {
  const id = recordId.toLowerCase() as Hex
  const row = await s.db.get<RecordRow>('SELECT * FROM records WHERE record_id = ?', id)
  if (row) {
    await s.db.run(`INSERT INTO erased_records (record_id, patient_id, author_id, hospital_id, digest, envelopes, erasure_id, tx_hash, erased_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_id) DO NOTHING`,
    id, row.patient_id, row.author_id, row.hospital_id, row.digest, row.envelopes, erasureId?.toLowerCase() ?? null, txHash ?? null, Date.now())
    // In one transaction (they are serialized), so that the confirming flow and the follower's
    // tombstone, arriving together, shred once: the second finds the row gone.
    await s.db.transaction(async (tx) => {
      if (!(await tx.get('SELECT 1 AS x FROM records WHERE record_id = ?', id))) return
      const { cids } = await dropRecordBlocks(s, { digest: row.digest, envelopes: row.envelopes, signal })
      for (const cid of cids) await tx.run('INSERT INTO erased_blocks (cid, record_id) VALUES (?, ?) ON CONFLICT (cid) DO NOTHING', cid, id)
      await tx.run('DELETE FROM record_tokens WHERE patient_id = ? AND record_id = ?', row.patient_id, id)
      await tx.run('DELETE FROM record_terms WHERE record_id = ?', id)
      await tx.run('DELETE FROM replicas WHERE record_id = ?', id)
      await tx.run('DELETE FROM record_proofs WHERE record_id = ?', id)
      await tx.run('DELETE FROM records WHERE record_id = ?', id)
      s.log('info', `erasure: record ${id} forgotten on this node (${cids.length} blocks deleted)`)
    })
  }
  return erasedRecord(s, id)
}

/** The tombstone of `recordId` as this node holds it, or undefined. */
export async function erasedRecord(s: Pick<Services, 'db'>, recordId: Hex): Promise<ErasedRecordRow | undefined> {
  return s.db.get<ErasedRecordRow>('SELECT * FROM erased_records WHERE record_id = ?', recordId.toLowerCase())
}
