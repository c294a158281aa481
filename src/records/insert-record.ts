import type { Db } from '../db/open-database.ts'
import type { RecordRow } from './record.ts'

/**
 * Writes a record's row, once: a row already held under its id is kept as it is (a replayed
 * anchor event, or an upload this node made itself, changes nothing). Resolves true when the
 * row was written. A record this node holds the erasure tombstone of is not written.
 */
export async function insertRecord(db: Db, row: RecordRow): Promise<boolean> {
  // An erased record never comes back, even when its anchor event is replayed or retried.
  if (await db.get('SELECT 1 AS x FROM erased_records WHERE record_id = ?', row.record_id)) return false
  const r = await db.run(`INSERT INTO records (record_id, patient_id, author_id, hospital_id, digest, envelopes, suite, stored_bytes, state, tx_hash, block_number, anchored_at, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_id) DO NOTHING`,
  row.record_id, row.patient_id, row.author_id, row.hospital_id, row.digest, row.envelopes, row.suite, row.stored_bytes, row.state,
  row.tx_hash, row.block_number, row.anchored_at, row.created_at)
  return r.changes > 0
}
