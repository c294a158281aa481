import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Consent.moveEmergencyShares`: a record's hospital, from its own key, publishes the shares block
 * of a record stored before threshold break-glass (or of one whose home share it re-wraps).
 * @throws AppError LEDGER_REVERTED (`ConsentNotMemberHospital`, …) / LEDGER_UNAVAILABLE
 */
export async function sendEmergencySharesMoved(ledger: Ledger, p: { hospital: LocalAccount; recordId: Hex; shares: Hex; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'moveEmergencyShares', args: [p.recordId, p.shares] })
  return sendTransaction(ledger, { account: p.hospital, to: ledger.contracts.consent, data, purpose: 'consent-emergency-move', ref: p.recordId, abi: consentAbi, signal: p.signal })
}
