import type { Address, Hex } from 'viem'
import { recordLedgerAbi } from '../abis.ts'
import { readContract } from '../read-contract.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * What the chain says about re-keying `recordId`: the record that superseded it (zero when none)
 * and whether `patient` has let its author re-key it.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function readRekeyState(ledger: Pick<Ledger, 'client' | 'contracts'>, { recordId, patient }: { recordId: Hex; patient: Address }): Promise<{ supersededBy: Hex; authorAllowed: boolean }> {
  const address = ledger.contracts.recordLedger
  const [supersededBy, authorAllowed] = await Promise.all([
    readContract(ledger, { address, abi: recordLedgerAbi, functionName: 'supersededBy', args: [recordId] }),
    readContract(ledger, { address, abi: recordLedgerAbi, functionName: 'rekeyAllowed', args: [recordId, patient] }),
  ])
  return { supersededBy, authorAllowed }
}
