import type { Hex } from 'viem'
import { consentAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface ReadShareParams {
  shareId: Hex
}

export interface ReadShareResult {
  revoked: boolean
  /** A single-use share whose token was used. */
  used: boolean
}

/**
 * Share `shareId` as the chain holds it now: whether it was revoked, and (single-use) used.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function readShare(ledger: Pick<Ledger, 'client' | 'contracts'>, { shareId }: ReadShareParams): Promise<ReadShareResult> {
  const share = await readContract(ledger, { address: ledger.contracts.consent, abi: consentAbi, functionName: 'shareOf', args: [shareId] })
  return { revoked: share.revoked, used: share.used }
}
