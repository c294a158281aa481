import { encodeFunctionData, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from '../abis.ts'
import { sendTransaction, type SendTransactionParams } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'
import type { SignedAccessEntry } from './sign-access-entry.ts'

export interface SendAccessLogBatchParams {
  /** The node's account: a member hospital's own key. */
  hospital: LocalAccount
  /** Entries signed by their readers, logged in this order. */
  entries: readonly SignedAccessEntry[]
  signal?: AbortSignal
  /** Writes the journal row's `mined` state with the caller's own record of it (`sendTransaction`). */
  settle?: SendTransactionParams['settle']
}

/**
 * `Consent.logAccessBatch`: a member hospital's node logs many reads in one transaction, each
 * entry signed by its reader. Journaled like every transaction (purpose `audit-batch`).
 * @throws AppError LEDGER_REVERTED (`ConsentBadSignature`, `ConsentEntryLogged`, `ConsentNoAccessPath`, …) / LEDGER_UNAVAILABLE
 */
export async function sendAccessLogBatch(ledger: Ledger, { hospital, entries, signal, settle }: SendAccessLogBatchParams): Promise<TransactionReceipt> {
  const args = entries.map((e) => ({
    entryId: e.entryId, recordId: e.recordId, patient: e.patient, purpose: e.purpose, ref: e.ref, readAt: e.readAt, reader: e.reader, signature: e.signature,
  }))
  const data = encodeFunctionData({ abi: consentAbi, functionName: 'logAccessBatch', args: [args] })
  return sendTransaction(ledger, { account: hospital, to: ledger.contracts.consent, data, purpose: 'audit-batch', ref: `${entries.length}`, abi: consentAbi, signal, settle })
}
