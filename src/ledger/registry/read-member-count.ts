import { registryAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * How many member hospitals the consortium has.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function readMemberCount(ledger: Pick<Ledger, 'client' | 'contracts'>): Promise<number> {
  return Number(await readContract(ledger, { address: ledger.contracts.registry, abi: registryAbi, functionName: 'memberCount' }))
}
