import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendDenialParams {
  /** The request's patient, acting with its own key. */
  patient: LocalAccount
  requestId: Hex
  /** Keyed hash of the reason (the text stays off chain). */
  reasonHash: Hex
  signal?: AbortSignal
}

/**
 * `Consent.deny`: the patient refuses a pending request.
 * @throws AppError LEDGER_REVERTED (`ConsentNotPatient`, `ConsentRequestNotPending`, `ConsentEmptyReason`, …) / LEDGER_UNAVAILABLE
 */
export async function sendDenial(ledger: Ledger, p: SendDenialParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'deny', args: [p.requestId, p.reasonHash] })
  return sendTransaction(ledger, { account: p.patient, to: ledger.contracts.consent, data, purpose: 'consent-deny', ref: p.requestId, abi: consentAbi, signal: p.signal })
}
