import type { Hex } from 'viem'
import { ensureAccount, ensureHospital } from '../accounts/directory.ts'
import { insertRecord } from './insert-record.ts'
import type { AnchorFields } from '../ledger/check-anchor.ts'
import type { Services } from '../services.ts'

/** A record anchored on the ledger, as its `RecordAnchored` event names it. */
export interface AnchoredRecord extends AnchorFields {
  txHash: Hex
  blockNumber: number
}

/**
 * Makes a record anchored by any member known here (pseudonymous facts only: its parties as
 * ledger addresses, its digests, its block), and tells its patient when the patient is an
 * active account of this node. Idempotent: a record already held is left as it is.
 * @throws AppError LEDGER_* (the parties or the block could not be read)
 */
export async function applyAnchoredRecord(s: Pick<Services, 'db' | 'ledger' | 'notify'>, r: AnchoredRecord): Promise<void> {
  const recordId = r.recordId.toLowerCase() as Hex
  if (await s.db.get('SELECT 1 AS x FROM records WHERE record_id = ?', recordId)) return
  const patient = await ensureAccount(s, r.patient)
  const author = await ensureAccount(s, r.author)
  const hospital = await ensureHospital(s, r.hospital)
  const block = await s.ledger.client.getBlock({ blockNumber: BigInt(r.blockNumber) })
  await insertRecord(s.db, {
    record_id: recordId,
    patient_id: patient.id,
    author_id: author.id,
    hospital_id: hospital.id,
    digest: r.digest.toLowerCase() as Hex,
    envelopes: r.envelopes.toLowerCase() as Hex,
    suite: 'aes-256-gcm',
    stored_bytes: 0,
    state: 'anchored',
    tx_hash: r.txHash,
    block_number: r.blockNumber,
    anchored_at: Number(block.timestamp),
    created_at: Number(block.timestamp) * 1000,
  })
  if (patient.state === 'active') await s.notify?.({ accountId: patient.id, kind: 'record-added', by: { accountId: author.id } })
}
