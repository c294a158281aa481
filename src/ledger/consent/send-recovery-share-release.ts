import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Consent.releaseRecoveryShare`: a member hospital, from its own key, publishes the block of its
 * Shamir shares of a recovered patient's data keys, re-wrapped for the patient's new key.
 * @throws AppError LEDGER_REVERTED (`ConsentRecoveryNotApproved`, `ConsentNotMemberHospital`, …) / LEDGER_UNAVAILABLE
 */
export async function sendRecoveryShareRelease(ledger: Ledger, p: { hospital: LocalAccount; recoveryId: Hex; shares: Hex; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'releaseRecoveryShare', args: [p.recoveryId, p.shares] })
  return sendTransaction(ledger, { account: p.hospital, to: ledger.contracts.consent, data, purpose: 'consent-recovery-share', ref: p.recoveryId, abi: consentAbi, signal: p.signal })
}
