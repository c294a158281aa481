import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { researchAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import { researchAddress } from './research-address.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Research.decideStudy`: the consortium admin approves or rejects a proposed study.
 * @throws AppError RESEARCH_UNAVAILABLE, LEDGER_REVERTED (`ResearchUnauthorized`, `ResearchStudyNotProposed`, …) / LEDGER_UNAVAILABLE
 */
export async function sendStudyDecision(ledger: Ledger, p: { admin: LocalAccount; studyId: Hex; approve: boolean; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: researchAbi, functionName: 'decideStudy', args: [p.studyId, p.approve] })
  return sendTransaction(ledger, { account: p.admin, to: researchAddress(ledger), data, purpose: p.approve ? 'study-approve' : 'study-reject', ref: p.studyId, abi: researchAbi, signal: p.signal })
}
