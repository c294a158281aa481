import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { careTeamsAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import { careTeamsAddress } from './care-teams-address.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `CareTeams.addMember`: `doctor` joins team `teamId` (the team key is unchanged).
 * @throws AppError LEDGER_REVERTED (`CareTeamsNotHospitalDoctor`, `CareTeamsAlreadyMember`, …) / LEDGER_UNAVAILABLE / TEAMS_UNAVAILABLE
 */
export async function sendTeamMemberAddition(ledger: Ledger, p: { by: LocalAccount; teamId: Hex; doctor: Address; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: careTeamsAbi, functionName: 'addMember', args: [p.teamId, p.doctor] })
  return sendTransaction(ledger, { account: p.by, to: await careTeamsAddress(ledger), data, purpose: 'team-add', ref: p.teamId, abi: careTeamsAbi, signal: p.signal })
}
