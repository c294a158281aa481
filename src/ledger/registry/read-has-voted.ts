import type { Address } from 'viem'
import { registryAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface ReadHasVotedParams {
  /** The hospital the open proposal is about. */
  hospital: Address
  /** A member hospital. */
  voter: Address
}

/**
 * Whether member `voter` has voted on the open proposal about `hospital`.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export function readHasVoted(ledger: Pick<Ledger, 'client' | 'contracts'>, { hospital, voter }: ReadHasVotedParams): Promise<boolean> {
  return readContract(ledger, { address: ledger.contracts.registry, abi: registryAbi, functionName: 'hasVoted', args: [hospital, voter] })
}
