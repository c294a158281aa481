import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { researchAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import { researchAddress } from './research-address.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Research.proposeStudy`: an active researcher registers a study by id and protocol hash.
 * @throws AppError RESEARCH_UNAVAILABLE, LEDGER_REVERTED (`ResearchUnauthorized`, `ResearchStudyExists`, …) / LEDGER_UNAVAILABLE
 */
export async function sendStudyProposal(ledger: Ledger, p: { researcher: LocalAccount; studyId: Hex; protocolHash: Hex; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: researchAbi, functionName: 'proposeStudy', args: [p.studyId, p.protocolHash] })
  return sendTransaction(ledger, { account: p.researcher, to: researchAddress(ledger), data, purpose: 'study-propose', ref: p.studyId, abi: researchAbi, signal: p.signal })
}
