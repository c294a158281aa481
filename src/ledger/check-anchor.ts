import type { Address, Hex } from 'viem'
import { recordLedgerAbi } from './abis.ts'
import { readContract } from './read-contract.ts'
import type { Ledger } from './connect-ledger.ts'

export interface AnchorFields {
  recordId: Hex
  patient: Address
  author: Address
  hospital: Address
  digest: Hex
  envelopes: Hex
}

/**
 * Asks the chain whether these fields are exactly what was anchored for the record.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export function checkAnchor(ledger: Pick<Ledger, 'client' | 'contracts'>, a: AnchorFields): Promise<boolean> {
  return readContract(ledger, {
    address: ledger.contracts.recordLedger,
    abi: recordLedgerAbi,
    functionName: 'checkAnchor',
    args: [a.recordId, a.patient, a.author, a.hospital, a.digest, a.envelopes],
  })
}
