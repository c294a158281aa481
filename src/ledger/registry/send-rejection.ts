import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendRejectionParams {
  /** The admin or staff member, acting with its own key. */
  by: LocalAccount
  account: Address
  /** Keyed hash of the reason (the text stays off chain). */
  reasonHash: Hex
  signal?: AbortSignal
}

/**
 * `Registry.rejectAccount`: an admin or the account's hospital staff rejects a pending doctor.
 * @throws AppError LEDGER_REVERTED (`RegistryUnauthorized`, `RegistryNotPending`, `RegistryEmptyReason`, …) / LEDGER_UNAVAILABLE
 */
export async function sendRejection(ledger: Ledger, p: SendRejectionParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'rejectAccount', args: [p.account, p.reasonHash] })
  return sendTransaction(ledger, { account: p.by, to: ledger.contracts.registry, data, purpose: 'reject', ref: p.account.toLowerCase(), abi: registryAbi, signal: p.signal })
}
