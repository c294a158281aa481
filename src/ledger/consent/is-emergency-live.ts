import type { Address, Hex } from 'viem'
import { consentAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface IsEmergencyLiveParams {
  emergencyId: Hex
  doctor: Address
}

/**
 * Whether an emergency access is open for `doctor` (chain time).
 * @throws AppError LEDGER_UNAVAILABLE
 */
export function isEmergencyLive(ledger: Pick<Ledger, 'client' | 'contracts'>, p: IsEmergencyLiveParams): Promise<boolean> {
  return readContract(ledger, { address: ledger.contracts.consent, abi: consentAbi, functionName: 'isEmergencyLive', args: [p.emergencyId, p.doctor] })
}
