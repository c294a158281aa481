import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Registry.proposeRecovery`: staff of a patient's hospital, having verified the patient in person,
 * propose the new account that replaces the patient's lost one.
 * @throws AppError LEDGER_REVERTED (`RegistryUnauthorized`, `RegistryNotActivePatient`, …) / LEDGER_UNAVAILABLE
 */
export async function sendRecoveryProposal(ledger: Ledger, p: {
  staff: LocalAccount; recoveryId: Hex; oldAccount: Address; newAccount: Address; keyScheme: number; encryptionKey: Hex; verification: Hex; signal?: AbortSignal
}): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'proposeRecovery', args: [p.recoveryId, p.oldAccount, p.newAccount, p.keyScheme, p.encryptionKey, p.verification] })
  return sendTransaction(ledger, { account: p.staff, to: ledger.contracts.registry, data, purpose: 'propose-recovery', ref: p.recoveryId, abi: registryAbi, signal: p.signal })
}

/**
 * `Registry.approveRecovery`: a second staff member (or the admin) approves; `envelopes` is the
 * digest of the block re-wrapping the patient's records' data keys for the new key.
 * @throws AppError LEDGER_REVERTED (`RegistrySelfApproval`, `RegistryRecoveryDone`, …) / LEDGER_UNAVAILABLE
 */
export async function sendRecoveryApproval(ledger: Ledger, p: { approver: LocalAccount; recoveryId: Hex; envelopes: Hex; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'approveRecovery', args: [p.recoveryId, p.envelopes] })
  return sendTransaction(ledger, { account: p.approver, to: ledger.contracts.registry, data, purpose: 'approve-recovery', ref: p.recoveryId, abi: registryAbi, signal: p.signal })
}
