import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Consent.releaseEmergencyShare`: a member hospital, from its own key, publishes the block of its
 * Shamir shares of the patient's data keys, re-wrapped for the emergency's doctor.
 * @throws AppError LEDGER_REVERTED (`ConsentNotMemberHospital`, `ConsentEmergencyNotLive`, …) / LEDGER_UNAVAILABLE
 */
export async function sendEmergencyShareRelease(ledger: Ledger, p: { hospital: LocalAccount; emergencyId: Hex; shares: Hex; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'releaseEmergencyShare', args: [p.emergencyId, p.shares] })
  return sendTransaction(ledger, { account: p.hospital, to: ledger.contracts.consent, data, purpose: 'consent-emergency-share', ref: p.emergencyId, abi: consentAbi, signal: p.signal })
}
