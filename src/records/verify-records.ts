import { hexToBytes, type Hex } from 'viem'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest, verifyDag } from '../storage/read-verified.ts'
import { AppError, isAppError } from '../errors.ts'
import { parseRecordId } from '../crypto/tokens.ts'
import { requireRole, type Actor } from '../accounts/account.ts'
import { assertAnchored } from './assert-anchored.ts'
import { isErased } from '../ledger/erasure/is-erased.ts'
import type { RecordRow } from './record.ts'
import type { Services } from '../services.ts'

export interface VerifyRecordsParams {
  actor: Actor | undefined
  /** Records to check; with `all`, every record in the actor's scope. */
  recordIds?: string[]
  all?: boolean
  signal?: AbortSignal
  onProgress?: (p: { checked: number; total: number }) => void
}

export interface VerifyItem {
  recordId: Hex
  ok: boolean
  /** The Merkle root of the batch the record is anchored in; absent for a record anchored alone. */
  root?: Hex
  /** RECORD_INTEGRITY (anchor or digest mismatch), RECORD_UNAVAILABLE (blocks missing), RECORD_ERASED. */
  problem?: string
  /** The record was erased at its patient's request (its tombstone is on chain): not damaged, gone. */
  erased?: boolean
  detail?: string
}

export interface VerifyRecordsResult {
  checked: number
  intact: number
  /** Records erased at their patient's request: neither intact nor mismatches. */
  erased: number
  mismatches: VerifyItem[]
  results: VerifyItem[]
}

/**
 * Re-checks stored records against their ledger anchors: the anchor commits to the node's
 * copy of the record's fields (for a record anchored in a batch: its leaf, inclusion proof,
 * root and author signature hold on chain, `checkLeaf`), and every block of the ciphertext and of the envelopes hashes
 * to what the anchor names. Needs no key: an auditor's check.
 * Scope: the admin, every record; staff, their hospital's; doctors, their uploads; patients,
 * their own.
 * @throws AppError VALIDATION_FAILED (neither ids nor all), RECORD_NOT_FOUND (an id outside the scope)
 */
export async function verifyRecords(s: Services, { actor, recordIds, all = false, signal, onProgress }: VerifyRecordsParams): Promise<VerifyRecordsResult> {
  const who = requireRole(actor, 'admin', 'staff', 'doctor', 'patient')
  if (!all && (!recordIds || recordIds.length === 0)) throw new AppError('VALIDATION_FAILED', { message: 'Name records to verify, or ask for all.' })
  const scope = {
    admin: ['1 = 1', []],
    staff: ['hospital_id = ?', [who.account.hospitalId]],
    doctor: ['author_id = ?', [who.account.id]],
    patient: ['patient_id = ?', [who.account.id]],
  }[who.account.role as 'admin' | 'staff' | 'doctor' | 'patient'] as [string, unknown[]]
  let rows: RecordRow[]
  let erased: Hex[]
  if (all) {
    rows = await s.db.all(`SELECT * FROM records WHERE state = 'anchored' AND ${scope[0]} ORDER BY created_at`, ...scope[1]) as RecordRow[]
    erased = (await s.db.all<{ record_id: Hex }>(`SELECT record_id FROM erased_records WHERE ${scope[0]} ORDER BY erased_at`, ...scope[1])).map((r) => r.record_id)
  } else {
    rows = []
    erased = []
    for (const r of recordIds!) {
      const id = parseRecordId(r)
      const row = await s.db.get(`SELECT * FROM records WHERE record_id = ? AND state = 'anchored' AND ${scope[0]}`, id, ...scope[1]) as RecordRow | undefined
      if (row) rows.push(row)
      else if (await s.db.get(`SELECT 1 AS x FROM erased_records WHERE record_id = ? AND ${scope[0]}`, id, ...scope[1])) erased.push(id)
      else throw new AppError('RECORD_NOT_FOUND')
    }
  }
  const results: VerifyItem[] = []
  for (const row of rows) {
    signal?.throwIfAborted()
    results.push(await verifyOne(s, row, signal))
    onProgress?.({ checked: results.length, total: rows.length })
  }
  for (const recordId of erased) results.push(await verifyErased(s, recordId))
  const mismatches = results.filter((r) => !r.ok && !r.erased)
  const gone = results.filter((r) => r.erased).length
  return { checked: results.length, intact: results.length - mismatches.length - gone, erased: gone, mismatches, results }
}

async function verifyOne(s: Services, row: RecordRow, signal?: AbortSignal): Promise<VerifyItem> {
  try {
    const { root } = await assertAnchored(s, row, { fresh: true }) // a verification asks the chain itself
    await verifyDag(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.digest), 'dag'), { signal })
    await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.envelopes), 'raw'), { signal })
    return root ? { recordId: row.record_id, ok: true, root } : { recordId: row.record_id, ok: true }
  } catch (err) {
    if (!isAppError(err, 'RECORD_INTEGRITY', 'RECORD_UNAVAILABLE')) throw err
    return { recordId: row.record_id, ok: false, problem: err.code, detail: err.details }
  }
}

/** An erased record: reported erased when the chain holds its tombstone, a mismatch otherwise. */
async function verifyErased(s: Services, recordId: Hex): Promise<VerifyItem> {
  const tombstone = await isErased(s.ledger, { recordId })
  if (tombstone) return { recordId, ok: false, erased: true, problem: 'RECORD_ERASED' }
  return { recordId, ok: false, problem: 'RECORD_INTEGRITY', detail: `record ${recordId} is erased on this node but the chain holds no tombstone for it` }
}
