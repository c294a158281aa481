import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { researchAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import { researchAddress } from './research-address.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Research.submitExportPart`, from a member hospital's own account: its part of export
 * `exportId` (the SHA-256 of the encrypted part's index block in IPFS, and its counts).
 * @throws AppError RESEARCH_UNAVAILABLE, LEDGER_REVERTED (`ResearchUnauthorized`, `ResearchUnknownExport`, `ResearchPartExists`, …) / LEDGER_UNAVAILABLE
 */
export async function sendExportPart(ledger: Ledger, p: { hospital: LocalAccount; exportId: Hex; digest: Hex; patients: number; resources: number; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: researchAbi, functionName: 'submitExportPart', args: [p.exportId, p.digest, p.patients, p.resources] })
  return sendTransaction(ledger, { account: p.hospital, to: researchAddress(ledger), data, purpose: 'study-export-part', ref: p.exportId, abi: researchAbi, signal: p.signal })
}
