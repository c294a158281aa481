import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendMembershipApplicationParams {
  /** The joining hospital, acting with its own key. */
  hospital: LocalAccount
  keyScheme: number
  /** SHA-256 of the hospital's public emergency key. */
  emergencyKey: Hex
  signal?: AbortSignal
}

/**
 * `Registry.applyForMembership`: a hospital that wants to join publishes its emergency key from its own key.
 * @throws AppError LEDGER_REVERTED (`RegistryHospitalExists`, `RegistryAlreadyRegistered`, `RegistryProposalOpen`, …) / LEDGER_UNAVAILABLE
 */
export async function sendMembershipApplication(ledger: Ledger, p: SendMembershipApplicationParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'applyForMembership', args: [p.keyScheme, p.emergencyKey] })
  return sendTransaction(ledger, { account: p.hospital, to: ledger.contracts.registry, data, purpose: 'apply-membership', ref: p.hospital.address.toLowerCase(), abi: registryAbi, signal: p.signal })
}
