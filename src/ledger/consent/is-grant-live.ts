import type { Address, Hex } from 'viem'
import { consentAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface IsGrantLiveParams {
  requestId: Hex
  grantee: Address
}

/**
 * Whether a grant is approved, unrevoked, unexpired (chain time) and held by `grantee`.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export function isGrantLive(ledger: Pick<Ledger, 'client' | 'contracts'>, p: IsGrantLiveParams): Promise<boolean> {
  return readContract(ledger, { address: ledger.contracts.consent, abi: consentAbi, functionName: 'isGrantLive', args: [p.requestId, p.grantee] })
}
