import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendAccessRequestParams {
  /** The requesting doctor, acting with its own key. */
  doctor: LocalAccount
  requestId: Hex
  patient: Address
  /** keccak256 of the sorted record ids; zero hash for all records. */
  scope: Hex
  /** Purpose code (`purposes.grant`). */
  purpose: number
  /** Keyed hash of the purpose text (the text stays off chain). */
  purposeHash: Hex
  /** Seconds the grant would last once approved. */
  duration: bigint
  signal?: AbortSignal
}

/**
 * `Consent.requestAccess`: the doctor asks a patient for access to some or all records.
 * @throws AppError LEDGER_REVERTED (`ConsentRequestExists`, `ConsentInvalidDuration`, …) / LEDGER_UNAVAILABLE
 */
export async function sendAccessRequest(ledger: Ledger, p: SendAccessRequestParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'requestAccess', args: [p.requestId, p.patient, p.scope, p.purpose, p.purposeHash, p.duration] })
  return sendTransaction(ledger, { account: p.doctor, to: ledger.contracts.consent, data, purpose: 'consent-request', ref: p.requestId, abi: consentAbi, signal: p.signal })
}
