import { encodeFunctionData, type Address, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendConfirmationParams {
  /** The admin or staff member, acting with its own key. */
  by: LocalAccount
  account: Address
  signal?: AbortSignal
}

/**
 * `Registry.confirmAccount`: an admin or the account's hospital staff confirms a pending doctor.
 * @throws AppError LEDGER_REVERTED (`RegistryUnauthorized`, `RegistryNotPending`, …) / LEDGER_UNAVAILABLE
 */
export async function sendConfirmation(ledger: Ledger, p: SendConfirmationParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'confirmAccount', args: [p.account] })
  return sendTransaction(ledger, { account: p.by, to: ledger.contracts.registry, data, purpose: 'confirm', ref: p.account.toLowerCase(), abi: registryAbi, signal: p.signal })
}
