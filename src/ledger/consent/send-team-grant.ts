import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Consent.grantTeam`: the patient, from its own key, grants care team `teamId` all of its
 * records until now + `duration` (chain time).
 * @throws AppError LEDGER_REVERTED (`ConsentUnknownTeam`, `ConsentNotActivePatient`, `ConsentInvalidDuration`, …) / LEDGER_UNAVAILABLE
 */
export async function sendTeamGrant(ledger: Ledger, p: { patient: LocalAccount; teamId: Hex; duration: bigint; envelopes: Hex; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'grantTeam', args: [p.teamId, p.duration, p.envelopes] })
  return sendTransaction(ledger, { account: p.patient, to: ledger.contracts.consent, data, purpose: 'team-grant', ref: p.teamId, abi: consentAbi, signal: p.signal })
}
