import { encodeFunctionData, type Address, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendHospitalVoteParams {
  /** The voting member hospital, acting with its own key. */
  voter: LocalAccount
  candidate: Address
  approve: boolean
  signal?: AbortSignal
}

/**
 * `Registry.voteOnHospital`: a member hospital votes on the open proposal about `candidate`.
 * @throws AppError LEDGER_REVERTED (`RegistryUnauthorized`, `RegistryNoProposal`, `RegistryAlreadyVoted`, …) / LEDGER_UNAVAILABLE
 */
export async function sendHospitalVote(ledger: Ledger, p: SendHospitalVoteParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'voteOnHospital', args: [p.candidate, p.approve] })
  return sendTransaction(ledger, { account: p.voter, to: ledger.contracts.registry, data, purpose: 'vote-hospital', ref: p.candidate.toLowerCase(), abi: registryAbi, signal: p.signal })
}
