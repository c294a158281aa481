import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { careTeamsAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import { careTeamsAddress } from './care-teams-address.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendTeamCreationParams {
  /** The hospital's staff member (or the consortium admin), acting with its own key. */
  by: LocalAccount
  teamId: Hex
  hospital: Address
  /** SHA-256 of the team's first public key. */
  keyDigest: Hex
  signal?: AbortSignal
}

/**
 * `CareTeams.createTeam`: a new team of `hospital`, its key at epoch 1.
 * @throws AppError LEDGER_REVERTED (`CareTeamsUnauthorized`, `CareTeamsTeamExists`, …) / LEDGER_UNAVAILABLE / TEAMS_UNAVAILABLE
 */
export async function sendTeamCreation(ledger: Ledger, p: SendTeamCreationParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: careTeamsAbi, functionName: 'createTeam', args: [p.teamId, p.hospital, p.keyDigest] })
  return sendTransaction(ledger, { account: p.by, to: await careTeamsAddress(ledger), data, purpose: 'team-create', ref: p.teamId, abi: careTeamsAbi, signal: p.signal })
}
