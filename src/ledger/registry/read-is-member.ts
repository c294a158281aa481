import type { Address } from 'viem'
import { registryAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface ReadIsMemberParams {
  hospital: Address
}

/**
 * Whether `hospital` is a member of the consortium now.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function readIsMember(ledger: Pick<Ledger, 'client' | 'contracts'>, { hospital }: ReadIsMemberParams): Promise<boolean> {
  const h = await readContract(ledger, { address: ledger.contracts.registry, abi: registryAbi, functionName: 'hospitalOf', args: [hospital] })
  return h.member
}
