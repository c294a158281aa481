import { encodeFunctionData, type Address, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendLinkContractsParams {
  /** The consortium admin, acting with its own key. */
  admin: LocalAccount
  /** The registry to link; default: the ledger's own (a fresh deployment names the one it just deployed). */
  registry?: Address
  recordLedger: Address
  consent: Address
  signal?: AbortSignal
}

/**
 * `Registry.linkContracts`: the admin links the RecordLedger and Consent contracts, once.
 * @throws AppError LEDGER_REVERTED (`RegistryAlreadyLinked`, `RegistryForeignContract`, `RegistryUnauthorized`, …) / LEDGER_UNAVAILABLE
 */
export async function sendLinkContracts(ledger: Ledger, p: SendLinkContractsParams): Promise<TransactionReceipt> {
  const registry = p.registry ?? ledger.contracts.registry
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'linkContracts', args: [p.recordLedger, p.consent] })
  return sendTransaction(ledger, { account: p.admin, to: registry, data, purpose: 'link-contracts', ref: registry.toLowerCase(), abi: registryAbi, signal: p.signal })
}
