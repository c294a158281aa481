import { encodeFunctionData, type Address, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Registry.linkResearch`: the admin links the Research contract, once, so joining nodes find it.
 * @throws AppError LEDGER_REVERTED (`RegistryAlreadyLinked`, `RegistryForeignContract`, `RegistryUnauthorized`, …) / LEDGER_UNAVAILABLE
 */
export async function sendLinkResearch(ledger: Ledger, p: { admin: LocalAccount; registry: Address; research: Address; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'linkResearch', args: [p.research] })
  return sendTransaction(ledger, { account: p.admin, to: p.registry, data, purpose: 'link-research', ref: p.registry.toLowerCase(), abi: registryAbi, signal: p.signal })
}
