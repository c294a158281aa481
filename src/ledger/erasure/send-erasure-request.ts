import { encodeFunctionData, zeroHash, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { recordLedgerAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendErasureRequestParams {
  /** The record's patient, acting with its own key. */
  patient: LocalAccount
  erasureId: Hex
  /** The record as anchored. */
  leaf: { recordId: Hex; patient: Address; author: Address; hospital: Address; digest: Hex; envelopes: Hex }
  /** For a record anchored in a batch: its root, inclusion proof and author signature. */
  batch?: { root: Hex; proof: Hex[]; signature: Hex }
  /** Keyed hash of the reason (the text stays off chain). */
  reasonHash: Hex
  signal?: AbortSignal
}

/**
 * `RecordLedger.requestErasure`: the patient asks to erase one of their records.
 * @throws AppError LEDGER_REVERTED (`RecordLedgerNotPatient`, `RecordLedgerErasurePending`, …) / LEDGER_UNAVAILABLE
 */
export async function sendErasureRequest(ledger: Ledger, p: SendErasureRequestParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({
    abi: recordLedgerAbi, functionName: 'requestErasure',
    args: [p.erasureId, p.leaf, p.batch?.root ?? zeroHash, p.batch?.proof ?? [], p.batch?.signature ?? '0x', p.reasonHash],
  })
  return sendTransaction(ledger, { account: p.patient, to: ledger.contracts.recordLedger, data, purpose: 'erasure-request', ref: p.erasureId, abi: recordLedgerAbi, signal: p.signal })
}
