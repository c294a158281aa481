import type { Address, Hex } from 'viem'
import { careTeamsAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import { careTeamsAddress } from './care-teams-address.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `CareTeams.isMember`: whether `account` is a member of the team now.
 * @throws AppError LEDGER_UNAVAILABLE / TEAMS_UNAVAILABLE
 */
export async function readTeamMember(ledger: Pick<Ledger, 'client' | 'contracts'>, { teamId, account }: { teamId: Hex; account: Address }): Promise<boolean> {
  return readContract(ledger, { address: await careTeamsAddress(ledger), abi: careTeamsAbi, functionName: 'isMember', args: [teamId, account] })
}
