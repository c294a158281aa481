import type { Address, Hex } from 'viem'
import { consentAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * Whether `patient`'s grant to care team `teamId` lives now (chain time, not revoked) and
 * `reader` is a member of the team now: asked of the chain on every read.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export function isTeamGrantLive(ledger: Pick<Ledger, 'client' | 'contracts'>, p: { teamId: Hex; patient: Address; reader: Address }): Promise<boolean> {
  return readContract(ledger, { address: ledger.contracts.consent, abi: consentAbi, functionName: 'isTeamGrantLive', args: [p.teamId, p.patient, p.reader] })
}
