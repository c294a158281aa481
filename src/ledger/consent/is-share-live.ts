import type { Hex } from 'viem'
import { consentAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface IsShareLiveParams {
  shareId: Hex
}

/**
 * Whether a share is unrevoked, unexpired (chain time) and, when single-use, unused.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export function isShareLive(ledger: Pick<Ledger, 'client' | 'contracts'>, p: IsShareLiveParams): Promise<boolean> {
  return readContract(ledger, { address: ledger.contracts.consent, abi: consentAbi, functionName: 'isShareLive', args: [p.shareId] })
}
