import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendEmergencyParams {
  /** The declaring doctor, acting with its own key. */
  doctor: LocalAccount
  emergencyId: Hex
  patient: Address
  /** Keyed hash of the reason (the text stays off chain). */
  reasonHash: Hex
  /** Seconds the access stays open. */
  window: bigint
  signal?: AbortSignal
}

/**
 * `Consent.declareEmergency`: a doctor opens break-glass access to a patient's records.
 * @throws AppError LEDGER_REVERTED (`ConsentEmergencyExists`, `ConsentInvalidDuration`, …) / LEDGER_UNAVAILABLE
 */
export async function sendEmergency(ledger: Ledger, p: SendEmergencyParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'declareEmergency', args: [p.emergencyId, p.patient, p.reasonHash, p.window] })
  return sendTransaction(ledger, { account: p.doctor, to: ledger.contracts.consent, data, purpose: 'consent-emergency', ref: p.emergencyId, abi: consentAbi, signal: p.signal })
}
