import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendRevocationParams {
  /** The grant's patient, acting with its own key. */
  patient: LocalAccount
  requestId: Hex
  signal?: AbortSignal
}

/**
 * `Consent.revoke`: the patient ends a grant before its expiry.
 * @throws AppError LEDGER_REVERTED (`ConsentNotPatient`, `ConsentRequestNotApproved`, …) / LEDGER_UNAVAILABLE
 */
export async function sendRevocation(ledger: Ledger, p: SendRevocationParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'revoke', args: [p.requestId] })
  return sendTransaction(ledger, { account: p.patient, to: ledger.contracts.consent, data, purpose: 'consent-revoke', ref: p.requestId, abi: consentAbi, signal: p.signal })
}
