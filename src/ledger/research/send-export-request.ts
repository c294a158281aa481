import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { researchAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import { researchAddress } from './research-address.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Research.requestExport`: the study's researcher asks the home nodes of its consenting patients
 * for export `exportId` (each submits its part).
 * @throws AppError RESEARCH_UNAVAILABLE, LEDGER_REVERTED (`ResearchUnauthorized`, `ResearchStudyNotApproved`, `ResearchExportExists`, …) / LEDGER_UNAVAILABLE
 */
export async function sendExportRequest(ledger: Ledger, p: { researcher: LocalAccount; studyId: Hex; exportId: Hex; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: researchAbi, functionName: 'requestExport', args: [p.studyId, p.exportId] })
  return sendTransaction(ledger, { account: p.researcher, to: researchAddress(ledger), data, purpose: 'study-export-request', ref: p.exportId, abi: researchAbi, signal: p.signal })
}
