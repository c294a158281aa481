import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendApprovalParams {
  /** The request's patient, acting with its own key. */
  patient: LocalAccount
  requestId: Hex
  /** Zero hash to keep the requested scope, else the narrowed one. */
  scope: Hex
  /** At most the requested duration, in seconds. */
  duration: bigint
  /** Digest of the block of data keys re-wrapped for the requester. */
  envelopes: Hex
  signal?: AbortSignal
}

/**
 * `Consent.approve`: the patient grants a pending request until now + `duration` (chain time).
 * @throws AppError LEDGER_REVERTED (`ConsentNotPatient`, `ConsentRequestNotPending`, `ConsentDurationExceedsRequest`, …) / LEDGER_UNAVAILABLE
 */
export async function sendApproval(ledger: Ledger, p: SendApprovalParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'approve', args: [p.requestId, p.scope, p.duration, p.envelopes] })
  return sendTransaction(ledger, { account: p.patient, to: ledger.contracts.consent, data, purpose: 'consent-approve', ref: p.requestId, abi: consentAbi, signal: p.signal })
}
