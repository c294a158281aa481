import type { Hex } from 'viem'
import { careTeamsAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import { careTeamsAddress } from './care-teams-address.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `CareTeams.teamOf`: the team's hospital, key epoch, member count and current key digest
 * (all zero when there is no such team).
 * @throws AppError LEDGER_UNAVAILABLE / TEAMS_UNAVAILABLE
 */
export async function readTeam(ledger: Pick<Ledger, 'client' | 'contracts'>, { teamId }: { teamId: Hex }) {
  return readContract(ledger, { address: await careTeamsAddress(ledger), abi: careTeamsAbi, functionName: 'teamOf', args: [teamId] })
}
