import type { Hex } from 'viem'
import { AppError } from '../errors.ts'
import { dropRecordBlocks } from '../records/drop-record-blocks.ts'
import { dropGrantKeys } from './drop-grant-keys.ts'
import type { RecordRow } from '../records/record.ts'
import type { Services } from '../services.ts'

/**
 * Applies `RecordSuperseded(oldId, newId)` on this node, the one that re-keyed the record or any
 * other: grant, share and break-glass envelope blocks held here are rewritten without the old
 * data key (`dropGrantKeys`), the old row moves to `superseded_records`, grants and named shares
 * that listed the old id list the new one (whose own envelopes carry their holders' keys), the replica entry goes,
 * and the old version's blocks are unpinned and deleted here (`dropRecordBlocks`). Idempotent;
 * a record this node never knew is skipped.
 * @throws AppError STORAGE_UNAVAILABLE
 */
export function applyRecordSuperseded(s: Pick<Services, 'db' | 'ipfs' | 'blockCache' | 'log'>, p: { oldId: Hex; newId: Hex; txHash: Hex }): Promise<void> {
  // One at a time per node: the re-keying request and the follower (which applies this node's
  // own RecordSuperseded too) must not unpin and delete the same blocks concurrently. Keyed by the
  // node's database, so two nodes in one process share nothing.
  const run = (inFlight.get(s.db) ?? Promise.resolve()).then(() => applyOnce(s, p))
  inFlight.set(s.db, run.catch(() => undefined))
  return run
}

const inFlight = new WeakMap<object, Promise<void>>()

async function applyOnce(s: Pick<Services, 'db' | 'ipfs' | 'blockCache' | 'log'>, { oldId, newId, txHash }: { oldId: Hex; newId: Hex; txHash: Hex }): Promise<void> {
  const old = oldId.toLowerCase() as Hex
  const fresh = newId.toLowerCase() as Hex
  const row = await s.db.get('SELECT * FROM records WHERE record_id = ?', old) as RecordRow | undefined
  if (row) {
    // Grant, share and break-glass envelope blocks held here lose the old data key first (idempotent).
    await dropGrantKeys(s, { recordId: old, patientId: row.patient_id })
    const listed = (ids: string) => (JSON.parse(ids) as string[]).map((id) => id === old ? fresh : id)
    await s.db.transaction(async (tx) => {
      await tx.run(`INSERT INTO superseded_records (record_id, superseded_by, patient_id, author_id, hospital_id, digest, envelopes, tx_hash, superseded_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_id) DO NOTHING`,
      old, fresh, row.patient_id, row.author_id, row.hospital_id, row.digest, row.envelopes, txHash, Date.now())
      const grants = await tx.all(`SELECT request_id, granted_record_ids FROM access_requests WHERE patient_id = ? AND granted_record_ids IS NOT NULL`, row.patient_id) as { request_id: string; granted_record_ids: string }[]
      for (const g of grants.filter((g) => g.granted_record_ids.includes(old))) {
        await tx.run('UPDATE access_requests SET granted_record_ids = ? WHERE request_id = ?', JSON.stringify(listed(g.granted_record_ids)), g.request_id)
      }
      // Named shares only: a token's share keeps the old id, since the new key was not wrapped for it.
      const shares = await tx.all('SELECT share_id, record_ids FROM shares WHERE patient_id = ? AND grantee_id IS NOT NULL', row.patient_id) as { share_id: string; record_ids: string }[]
      for (const sh of shares.filter((sh) => sh.record_ids.includes(old))) {
        await tx.run('UPDATE shares SET record_ids = ? WHERE share_id = ?', JSON.stringify(listed(sh.record_ids)), sh.share_id)
      }
      await tx.run('DELETE FROM replicas WHERE record_id = ?', old)
      await tx.run('DELETE FROM record_proofs WHERE record_id = ?', old)
      await tx.run('DELETE FROM record_tokens WHERE patient_id = ? AND record_id = ?', row.patient_id, old)
      await tx.run('DELETE FROM record_terms WHERE record_id = ?', old)
      await tx.run('DELETE FROM records WHERE record_id = ?', old)
    })
  }
  const gone = row ?? await s.db.get('SELECT digest, envelopes FROM superseded_records WHERE record_id = ?', old) as Pick<RecordRow, 'digest' | 'envelopes'> | undefined
  if (gone) await dropRecordBlocks(s, { digest: gone.digest, envelopes: gone.envelopes })
}

/**
 * The answer to a request for a superseded record: 410 RECORD_SUPERSEDED naming its newest
 * version (`supersededBy`), or undefined when `recordId` was never superseded here.
 */
export async function supersededAnswer(s: Pick<Services, 'db'>, recordId: Hex): Promise<AppError | undefined> {
  let newest: string | undefined
  let id: string = recordId.toLowerCase()
  // A record re-keyed again since: follow to its newest version (bounded, against a cycle in a damaged table).
  for (let i = 0; i < 64; i++) {
    const next = await s.db.get('SELECT superseded_by FROM superseded_records WHERE record_id = ?', id) as { superseded_by: string } | undefined
    if (!next) break
    newest = id = next.superseded_by
  }
  return newest === undefined ? undefined : new AppError('RECORD_SUPERSEDED', { body: { supersededBy: newest } })
}
