import { encodeFunctionData, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Consent.setEmergencyThreshold`: the consortium admin sets how many member hospitals new
 * records' data keys are split among and how many a break-glass needs (0, 0: the default).
 * @throws AppError LEDGER_REVERTED (`ConsentNotAdmin`, `ConsentInvalidThreshold`) / LEDGER_UNAVAILABLE
 */
export async function sendEmergencyThreshold(ledger: Ledger, p: { admin: LocalAccount; shares: number; threshold: number; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'setEmergencyThreshold', args: [p.shares, p.threshold] })
  return sendTransaction(ledger, { account: p.admin, to: ledger.contracts.consent, data, purpose: 'consent-emergency-threshold', abi: consentAbi, signal: p.signal })
}
