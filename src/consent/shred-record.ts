import type { Hex } from 'viem'
import { forgetErasedRecord, type ErasedRecordRow } from '../records/forget-erased-record.ts'
import { dropGrantKeys } from './drop-grant-keys.ts'
import type { Services } from '../services.ts'

/**
 * Crypto-shreds a record on this node once its erasure is confirmed on chain: the record's own
 * envelopes and blocks (records' `forgetErasedRecord`), then every grant envelope of its
 * patient's grants, shares and break-glass releases that wraps its key (`dropGrantKeys`).
 * Idempotent, so the follower may replay it; the node that confirmed runs it at once, the others
 * on the `RecordErased` event.
 */
export async function shredRecord(s: Pick<Services, 'db' | 'ipfs' | 'blockCache' | 'log'>, p: { recordId: Hex; erasureId?: Hex; txHash?: Hex; signal?: AbortSignal }): Promise<ErasedRecordRow | undefined> {
  const tomb = await forgetErasedRecord(s, p)
  // Serialized like the record's own part: a concurrent run rewrites nothing twice.
  if (tomb) await s.db.transaction((tx) => dropGrantKeys({ ...s, db: tx }, { recordId: tomb.record_id, patientId: tomb.patient_id, signal: p.signal }))
  return tomb
}
