import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendShareRevocationParams {
  /** The share's patient, acting with its own key. */
  patient: LocalAccount
  shareId: Hex
  signal?: AbortSignal
}

/**
 * `Consent.revokeShare`: the patient ends a share.
 * @throws AppError LEDGER_REVERTED (`ConsentNotPatient`, `ConsentShareNotLive`, …) / LEDGER_UNAVAILABLE
 */
export async function sendShareRevocation(ledger: Ledger, p: SendShareRevocationParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'revokeShare', args: [p.shareId] })
  return sendTransaction(ledger, { account: p.patient, to: ledger.contracts.consent, data, purpose: 'consent-share-revoke', ref: p.shareId, abi: consentAbi, signal: p.signal })
}
