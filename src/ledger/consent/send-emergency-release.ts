import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendEmergencyReleaseParams {
  /** The patient's hospital, acting with its own key. */
  hospital: LocalAccount
  emergencyId: Hex
  /** Digest of the block of data keys wrapped for the doctor. */
  envelopes: Hex
  signal?: AbortSignal
}

/**
 * `Consent.releaseEmergencyKey`: the patient's hospital publishes the data keys for an open emergency.
 * @throws AppError LEDGER_REVERTED (`ConsentNotHospitalOf`, `ConsentEmergencyNotLive`, `ConsentEmergencyReleased`, …) / LEDGER_UNAVAILABLE
 */
export async function sendEmergencyRelease(ledger: Ledger, p: SendEmergencyReleaseParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'releaseEmergencyKey', args: [p.emergencyId, p.envelopes] })
  return sendTransaction(ledger, { account: p.hospital, to: ledger.contracts.consent, data, purpose: 'consent-emergency-release', ref: p.emergencyId, abi: consentAbi, signal: p.signal })
}
