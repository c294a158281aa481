import { encodeFunctionData, zeroHash, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { recordLedgerAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { AnchorFields } from '../check-anchor.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendSupersedeParams {
  /** The record's patient, or its author with the patient's leave, acting with its own key. */
  by: LocalAccount
  /** The old record as anchored. */
  old: AnchorFields
  /** For an old record anchored in a batch: its root, inclusion proof and author signature. */
  batch?: { root: Hex; proof: Hex[]; signature: Hex }
  /** The new version: its id and digests (same patient, author and hospital). */
  newId: Hex
  digest: Hex
  envelopes: Hex
  signal?: AbortSignal
}

/**
 * `RecordLedger.supersede`: anchors a re-keyed record's new version as superseding the old one,
 * and waits until it is mined (journaled as `supersede`, ref the new id).
 * @throws AppError LEDGER_REVERTED (`RecordLedgerNotRekeyer`, `RecordLedgerAlreadySuperseded`, …) / LEDGER_UNAVAILABLE
 */
export async function sendSupersede(ledger: Ledger, p: SendSupersedeParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({
    abi: recordLedgerAbi, functionName: 'supersede',
    args: [p.old, p.batch?.root ?? zeroHash, p.batch?.proof ?? [], p.batch?.signature ?? '0x', p.newId, p.digest, p.envelopes],
  })
  return sendTransaction(ledger, { account: p.by, to: ledger.contracts.recordLedger, data, purpose: 'supersede', ref: p.newId, abi: recordLedgerAbi, signal: p.signal })
}
