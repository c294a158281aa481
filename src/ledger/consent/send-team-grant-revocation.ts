import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Consent.revokeTeamGrant`: the patient ends its grant to care team `teamId` at once.
 * @throws AppError LEDGER_REVERTED (`ConsentTeamGrantNotLive`) / LEDGER_UNAVAILABLE
 */
export async function sendTeamGrantRevocation(ledger: Ledger, p: { patient: LocalAccount; teamId: Hex; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'revokeTeamGrant', args: [p.teamId] })
  return sendTransaction(ledger, { account: p.patient, to: ledger.contracts.consent, data, purpose: 'team-grant-revoke', ref: p.teamId, abi: consentAbi, signal: p.signal })
}
