import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { recordLedgerAbi } from './abis.ts'
import { sendTransaction } from './send-transaction.ts'
import type { Ledger } from './connect-ledger.ts'

export interface AnchorRecordParams {
  /** The doctor who wrote the record, acting with its own key. */
  author: LocalAccount
  recordId: Hex
  patient: Address
  hospital: Address
  /** Root digest of the ciphertext DAG. */
  digest: Hex
  /** Digest of the envelopes block (wrapped data keys and the encrypted manifest). */
  envelopes: Hex
  signal?: AbortSignal
}

/**
 * Anchors a record on the RecordLedger and waits until it is mined.
 * @throws AppError LEDGER_REVERTED (`RecordLedgerUnauthorized`, `RecordLedgerUnknownPatient`, …)
 */
export async function anchorRecord(ledger: Ledger, p: AnchorRecordParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: recordLedgerAbi, functionName: 'anchor', args: [p.recordId, p.patient, p.hospital, p.digest, p.envelopes] })
  return sendTransaction(ledger, { account: p.author, to: ledger.contracts.recordLedger, data, purpose: 'anchor', ref: p.recordId, abi: recordLedgerAbi, signal: p.signal })
}
