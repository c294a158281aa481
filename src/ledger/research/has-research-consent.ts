import type { Address, Hex } from 'viem'
import { researchAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import { researchAddress } from './research-address.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * Whether `patient` consents to study `studyId` now, as the chain says (and the study is approved).
 * @throws AppError RESEARCH_UNAVAILABLE, LEDGER_UNAVAILABLE
 */
export function hasResearchConsent(ledger: Pick<Ledger, 'client' | 'contracts'>, p: { studyId: Hex; patient: Address }): Promise<boolean> {
  return readContract(ledger, { address: researchAddress(ledger), abi: researchAbi, functionName: 'hasConsent', args: [p.studyId, p.patient] })
}
