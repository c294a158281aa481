import type { Hex } from 'viem'
import { consentAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * Whether batched entry `entryId` is logged on chain (`Consent.isAccessLogged`).
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function isAccessLogged(ledger: Pick<Ledger, 'client' | 'contracts'>, { entryId }: { entryId: Hex }): Promise<boolean> {
  return readContract(ledger, { address: ledger.contracts.consent, abi: consentAbi, functionName: 'isAccessLogged', args: [entryId] })
}
