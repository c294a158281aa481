import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { recordLedgerAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendErasureDecisionParams {
  /** Staff of the record's hospital, or the admin, acting with its own key. */
  by: LocalAccount
  erasureId: Hex
  /** Absent: `confirmErasure` (the tombstone). Present: `rejectErasure` with the keyed hash of the reason. */
  rejectReasonHash?: Hex
  signal?: AbortSignal
}

/**
 * `RecordLedger.confirmErasure` or `rejectErasure`: the record's hospital decides an erasure.
 * @throws AppError LEDGER_REVERTED (`RecordLedgerNotStaff`, `RecordLedgerErasureDecided`, …) / LEDGER_UNAVAILABLE
 */
export async function sendErasureDecision(ledger: Ledger, p: SendErasureDecisionParams): Promise<TransactionReceipt> {
  const data = p.rejectReasonHash === undefined
    ? encodeFunctionData({ abi: recordLedgerAbi, functionName: 'confirmErasure', args: [p.erasureId] })
    : encodeFunctionData({ abi: recordLedgerAbi, functionName: 'rejectErasure', args: [p.erasureId, p.rejectReasonHash] })
  const purpose = p.rejectReasonHash === undefined ? 'erasure-confirm' : 'erasure-reject'
  return sendTransaction(ledger, { account: p.by, to: ledger.contracts.recordLedger, data, purpose, ref: p.erasureId, abi: recordLedgerAbi, signal: p.signal })
}
