import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { researchAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import { researchAddress } from './research-address.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Research.recordExport`: the study's researcher records an export (counts and manifest hash).
 * @throws AppError RESEARCH_UNAVAILABLE, LEDGER_REVERTED (`ResearchUnauthorized`, `ResearchStudyNotApproved`, …) / LEDGER_UNAVAILABLE
 */
export async function sendStudyExport(ledger: Ledger, p: { researcher: LocalAccount; studyId: Hex; patients: number; resources: number; manifestHash: Hex; ref?: Hex; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: researchAbi, functionName: 'recordExport', args: [p.studyId, p.patients, p.resources, p.manifestHash] })
  return sendTransaction(ledger, { account: p.researcher, to: researchAddress(ledger), data, purpose: 'study-export', ref: p.ref ?? p.studyId, abi: researchAbi, signal: p.signal })
}
