import { encodeFunctionData, type Address, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Registry.linkCareTeams`: the admin links the CareTeams contract, once, so joining nodes find it.
 * @throws AppError LEDGER_REVERTED (`RegistryAlreadyLinked`, `RegistryForeignContract`, `RegistryUnauthorized`, …) / LEDGER_UNAVAILABLE
 */
export async function sendLinkCareTeams(ledger: Ledger, p: { admin: LocalAccount; registry: Address; careTeams: Address; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'linkCareTeams', args: [p.careTeams] })
  return sendTransaction(ledger, { account: p.admin, to: p.registry, data, purpose: 'link-care-teams', ref: p.registry.toLowerCase(), abi: registryAbi, signal: p.signal })
}
