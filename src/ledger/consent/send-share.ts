import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendShareParams {
  /** The sharing patient, acting with its own key. */
  patient: LocalAccount
  shareId: Hex
  /** The account the share is for; the zero address for a token share. */
  grantee: Address
  /** SHA-256 of the share token; the zero hash for a share with an account. */
  tokenHash: Hex
  /** keccak256 of the sorted record ids. */
  scope: Hex
  /** Seconds the share lasts. */
  duration: bigint
  /** Whether the token may be used once only. */
  once: boolean
  /** Digest of the block of data keys wrapped for the share. */
  envelopes: Hex
  signal?: AbortSignal
}

/**
 * `Consent.share`: the patient shares records with one account, or with whoever holds a token.
 * @throws AppError LEDGER_REVERTED (`ConsentNotActivePatient`, `ConsentShareExists`, `ConsentInvalidShareTarget`, …) / LEDGER_UNAVAILABLE
 */
export async function sendShare(ledger: Ledger, p: SendShareParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'share', args: [p.shareId, p.grantee, p.tokenHash, p.scope, p.duration, p.once, p.envelopes] })
  return sendTransaction(ledger, { account: p.patient, to: ledger.contracts.consent, data, purpose: 'consent-share', ref: p.shareId, abi: consentAbi, signal: p.signal })
}
