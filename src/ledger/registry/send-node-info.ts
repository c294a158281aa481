import { encodeFunctionData, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendNodeInfoParams {
  /** The member hospital, acting with its own key. */
  hospital: LocalAccount
  /** The hospital's public name. */
  name: string
  /** libp2p multiaddrs of its node. */
  addrs: readonly string[]
  signal?: AbortSignal
}

/**
 * `Registry.setNodeInfo`: a member hospital publishes its name and its node's libp2p addresses.
 * @throws AppError LEDGER_REVERTED (`RegistryUnauthorized`, `RegistryNameTooLong`, `RegistryTooManyAddrs`, …) / LEDGER_UNAVAILABLE
 */
export async function sendNodeInfo(ledger: Ledger, p: SendNodeInfoParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'setNodeInfo', args: [p.name, p.addrs] })
  return sendTransaction(ledger, { account: p.hospital, to: ledger.contracts.registry, data, purpose: 'node-info', ref: p.hospital.address.toLowerCase(), abi: registryAbi, signal: p.signal })
}
