import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendShareTokenUseParams {
  /** The hospital serving the token, acting with its own key. */
  hospital: LocalAccount
  shareId: Hex
  recordId: Hex
  signal?: AbortSignal
}

/**
 * `Consent.useShareToken`: the serving hospital records one use of a share token.
 * @throws AppError LEDGER_REVERTED (`ConsentNotMemberHospital`, `ConsentShareNotLive`, `ConsentShareUsed`, …) / LEDGER_UNAVAILABLE
 */
export async function sendShareTokenUse(ledger: Ledger, p: SendShareTokenUseParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'useShareToken', args: [p.shareId, p.recordId] })
  return sendTransaction(ledger, { account: p.hospital, to: ledger.contracts.consent, data, purpose: 'consent-share-use', ref: p.shareId, abi: consentAbi, signal: p.signal })
}
