import { deleteRecordIndex } from './search/search-key.ts'
import type { Services } from '../services.ts'

/**
 * At start, after the journal was replayed: records whose anchor was sent but not yet confirmed
 * to the uploader (or re-keyer), and anchored records whose block changed because the chain lost
 * its tail and the journal re-sent the anchor. A record anchored alone follows its `anchor`
 * journal row (ref: the record id), a re-key's new version its `supersede` row (ref: the new id);
 * one anchored in a batch, the `anchor-batch` row of its root (`record_proofs`).
 * Mined: the record is anchored (at that block). Never journaled, so never acknowledged: the
 * pending record is dropped (with its proof and its entry in the blind index).
 */
export async function settleAnchors(s: Pick<Services, 'db' | 'ledger'>): Promise<void> {
  const { db, ledger } = s
  const rows = await db.all(`SELECT r.record_id, r.patient_id, r.state, r.block_number, j.tx_hash, j.state AS tx_state, j.block_number AS tx_block
    FROM records r LEFT JOIN record_proofs p ON p.record_id = r.record_id
    LEFT JOIN journal j ON j.chain_id = ? AND (
      (p.root IS NULL AND j.ref = r.record_id AND j.purpose IN ('anchor', 'supersede')) OR (j.ref = p.root AND j.purpose = 'anchor-batch'))
    WHERE r.state = 'pending' OR r.block_number IS DISTINCT FROM j.block_number`, ledger.chainId) as
    { record_id: string; patient_id: string; state: string; block_number: number | null; tx_hash: string | null; tx_state: string | null; tx_block: number | null }[]
  for (const r of rows) {
    if (r.tx_state === 'mined' && r.tx_block !== null) {
      const block = await ledger.client.getBlock({ blockNumber: BigInt(r.tx_block) })
      await db.run(`UPDATE records SET state = 'anchored', tx_hash = ?, block_number = ?, anchored_at = ? WHERE record_id = ?`, r.tx_hash, r.tx_block, Number(block.timestamp), r.record_id)
    } else if (r.state === 'pending') {
      await db.run('DELETE FROM record_proofs WHERE record_id = ?', r.record_id)
      await db.run('DELETE FROM records WHERE record_id = ?', r.record_id)
      await deleteRecordIndex(db, r.patient_id, r.record_id)
    }
  }
}

/**
 * A pending record whose anchor this node sent itself, seen mined by its follower (`RecordAnchored`
 * of a transaction in its journal): anchored at that block. This covers the flow that sent it
 * never handling the receipt (its answer lost, or it gave up waiting) while the node runs on; a
 * record already anchored is left as it is.
 * @throws AppError LEDGER_* (the block could not be read)
 */
export async function settleOwnAnchor(s: Pick<Services, 'db' | 'ledger'>, { recordId, txHash, blockNumber }: { recordId: string; txHash: string; blockNumber: number }): Promise<void> {
  const id = recordId.toLowerCase()
  if (!(await s.db.get(`SELECT 1 AS x FROM records WHERE record_id = ? AND state = 'pending'`, id))) return
  const block = await s.ledger.client.getBlock({ blockNumber: BigInt(blockNumber) })
  await s.db.run(`UPDATE records SET state = 'anchored', tx_hash = ?, block_number = ?, anchored_at = ? WHERE record_id = ? AND state = 'pending'`,
    txHash, blockNumber, Number(block.timestamp), id)
}
