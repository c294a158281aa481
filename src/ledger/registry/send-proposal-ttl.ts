import { encodeFunctionData, type Address, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendProposalTtlParams {
  /** The consortium admin, acting with its own key. */
  admin: LocalAccount
  /** The registry; default: the ledger's own (a fresh deployment names the one it just deployed). */
  registry?: Address
  /** How long a proposal stays open to votes, in seconds (1 hour to 365 days). */
  ttlSeconds: number
  signal?: AbortSignal
}

/**
 * `Registry.setProposalTtl`: the admin sets how long admission and removal proposals stay open
 * to votes (open ones included).
 * @throws AppError LEDGER_REVERTED (`RegistryUnauthorized`, `RegistryInvalidTtl`) / LEDGER_UNAVAILABLE
 */
export async function sendProposalTtl(ledger: Ledger, p: SendProposalTtlParams): Promise<TransactionReceipt> {
  const registry = p.registry ?? ledger.contracts.registry
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'setProposalTtl', args: [BigInt(p.ttlSeconds)] })
  return sendTransaction(ledger, { account: p.admin, to: registry, data, purpose: 'proposal-ttl', ref: registry.toLowerCase(), abi: registryAbi, signal: p.signal })
}
