import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction, type SendTransactionParams } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendAccessLogParams {
  /** The reader, acting with its own key. */
  reader: LocalAccount
  recordId: Hex
  patient: Address
  /** Purpose code (`purposes`). */
  purpose: number
  /** What allowed the read: a request, share or emergency id; the record id for its patient or author. */
  ref: Hex
  /**
   * The read's audit entry (`audit_entries`) when the node's audit batches send it alone: the
   * journal row then says `audit-entry` with this id as its ref, so a restart finds it sent.
   */
  entryId?: Hex
  signal?: AbortSignal
  /** Writes the journal row's `mined` state with the caller's own record of it (`sendTransaction`). */
  settle?: SendTransactionParams['settle']
}

/**
 * `Consent.logAccess`: the reader records one read of a record in the audit trail.
 * @throws AppError LEDGER_REVERTED (`ConsentNoAccessPath`, `ConsentInvalidPurpose`, …) / LEDGER_UNAVAILABLE
 */
export async function sendAccessLog(ledger: Ledger, p: SendAccessLogParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'logAccess', args: [p.recordId, p.patient, p.purpose, p.ref] })
  return sendTransaction(ledger, { account: p.reader, to: ledger.contracts.consent, data, purpose: p.entryId ? 'audit-entry' : 'audit', ref: p.entryId ?? p.recordId, abi: consentAbi, signal: p.signal, settle: p.settle })
}
