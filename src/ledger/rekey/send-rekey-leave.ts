import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { recordLedgerAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `RecordLedger.allowRekey`: the patient lets the author of `recordId` re-key it once.
 * @throws AppError LEDGER_REVERTED / LEDGER_UNAVAILABLE
 */
export async function sendRekeyLeave(ledger: Ledger, { patient, recordId, signal }: { patient: LocalAccount; recordId: Hex; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: recordLedgerAbi, functionName: 'allowRekey', args: [recordId] })
  return sendTransaction(ledger, { account: patient, to: ledger.contracts.recordLedger, data, purpose: 'rekey-leave', ref: recordId, abi: recordLedgerAbi, signal })
}
