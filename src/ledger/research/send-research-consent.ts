import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { researchAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import { researchAddress } from './research-address.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Research.giveConsent` (`give`) or `Research.withdrawConsent`, from the patient's own key.
 * @throws AppError RESEARCH_UNAVAILABLE, LEDGER_REVERTED (`ResearchStudyNotApproved`, `ResearchAlreadyConsented`, `ResearchNotConsented`, …) / LEDGER_UNAVAILABLE
 */
export async function sendResearchConsent(ledger: Ledger, p: { patient: LocalAccount; studyId: Hex; give: boolean; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = p.give
    ? encodeFunctionData({ abi: researchAbi, functionName: 'giveConsent', args: [p.studyId] })
    : encodeFunctionData({ abi: researchAbi, functionName: 'withdrawConsent', args: [p.studyId] })
  return sendTransaction(ledger, { account: p.patient, to: researchAddress(ledger), data, purpose: p.give ? 'research-consent' : 'research-withdraw', ref: p.studyId, abi: researchAbi, signal: p.signal })
}
