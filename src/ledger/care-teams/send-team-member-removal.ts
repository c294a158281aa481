import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { careTeamsAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import { careTeamsAddress } from './care-teams-address.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `CareTeams.removeMember`: `doctor` leaves team `teamId`, whose key moves to the next epoch
 * (the new public key hashes to `keyDigest`).
 * @throws AppError LEDGER_REVERTED (`CareTeamsNotMember`, …) / LEDGER_UNAVAILABLE / TEAMS_UNAVAILABLE
 */
export async function sendTeamMemberRemoval(ledger: Ledger, p: { by: LocalAccount; teamId: Hex; doctor: Address; keyDigest: Hex; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: careTeamsAbi, functionName: 'removeMember', args: [p.teamId, p.doctor, p.keyDigest] })
  return sendTransaction(ledger, { account: p.by, to: await careTeamsAddress(ledger), data, purpose: 'team-remove', ref: p.teamId, abi: careTeamsAbi, signal: p.signal })
}
