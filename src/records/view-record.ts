import type { Db } from '../db/open-database.ts'
import type { Manifest } from './envelopes.ts'
import { recordParties, toRecordView, type RecordRow, type RecordView } from './record.ts'

/** A record the caller may read (access already decided), as its ledger facts, parties and decrypted metadata. */
export async function viewRecord(s: { db: Db }, { row, manifest }: { row: RecordRow; manifest: Manifest }): Promise<RecordView> {
  return toRecordView(row, await recordParties(s.db, row), manifest)
}
