import { zeroHash, type Address, type Hex } from 'viem'
import { registryAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

/** A hospital's application to join, as published from its own key. */
export interface MembershipApplication {
  /** Key-wrap scheme code of the emergency key. */
  keyScheme: number
  /** SHA-256 of the hospital's public emergency key. */
  emergencyKey: Hex
}

export interface ReadApplicationParams {
  hospital: Address
}

/**
 * The open application of `hospital`, or null when it has none.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function readApplication(ledger: Pick<Ledger, 'client' | 'contracts'>, { hospital }: ReadApplicationParams): Promise<MembershipApplication | null> {
  const [keyScheme, emergencyKey] = await readContract(ledger, { address: ledger.contracts.registry, abi: registryAbi, functionName: 'applicationOf', args: [hospital] })
  return emergencyKey === zeroHash ? null : { keyScheme, emergencyKey }
}
