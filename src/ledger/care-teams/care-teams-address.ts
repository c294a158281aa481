import { zeroAddress, type Address } from 'viem'
import { AppError } from '../../errors.ts'
import { registryAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * The CareTeams contract the Registry links (`Registry.careTeams`), asked of the chain once and
 * then kept in `ledger.contracts`, so a joining node finds it as it finds the others.
 * @throws AppError TEAMS_UNAVAILABLE when the Registry links none (deployed before care teams); LEDGER_UNAVAILABLE
 */
export async function careTeamsAddress(ledger: Pick<Ledger, 'client' | 'contracts'>): Promise<Address> {
  if (ledger.contracts.careTeams) return ledger.contracts.careTeams
  const address = await readContract(ledger, { address: ledger.contracts.registry, abi: registryAbi, functionName: 'careTeams' })
    .catch((err: unknown) => { throw new AppError('TEAMS_UNAVAILABLE', { cause: err }) })
  if (address === zeroAddress) throw new AppError('TEAMS_UNAVAILABLE')
  ledger.contracts.careTeams = address
  return address
}
