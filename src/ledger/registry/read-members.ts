import type { Address } from 'viem'
import { registryAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

/** How a member hospital's node is reached. */
export interface NodeInfo {
  /** The hospital's public name. */
  name: string
  /** libp2p multiaddrs of its node. */
  addrs: string[]
}

export interface ConsortiumMember extends NodeInfo {
  address: Address
}

/**
 * The member hospitals with what each published about its node (empty when nothing yet).
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function readMembers(ledger: Pick<Ledger, 'client' | 'contracts'>): Promise<ConsortiumMember[]> {
  const registry = ledger.contracts.registry
  const addresses = await readContract(ledger, { address: registry, abi: registryAbi, functionName: 'members' })
  return Promise.all(addresses.map(async (address) => {
    const [name, addrs] = await readContract(ledger, { address: registry, abi: registryAbi, functionName: 'nodeInfoOf', args: [address] })
    return { address, name, addrs: [...addrs] }
  }))
}
