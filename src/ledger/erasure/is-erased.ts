import type { Hex } from 'viem'
import { recordLedgerAbi } from '../abis.ts'
import { toLedgerError } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `RecordLedger.isErased`: whether the chain holds record `recordId`'s tombstone.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function isErased(ledger: Pick<Ledger, 'client' | 'contracts'>, { recordId }: { recordId: Hex }): Promise<boolean> {
  try {
    return await ledger.client.readContract({ address: ledger.contracts.recordLedger, abi: recordLedgerAbi, functionName: 'isErased', args: [recordId] })
  } catch (err) {
    throw toLedgerError(err)
  }
}
