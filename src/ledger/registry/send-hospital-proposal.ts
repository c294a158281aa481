import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendHospitalProposalParams {
  /** The admin or a member hospital, acting with its own key. */
  by: LocalAccount
  hospital: Address
  keyScheme: number
  /** SHA-256 of the hospital's public emergency key. */
  emergencyKey: Hex
  signal?: AbortSignal
}

/**
 * `Registry.proposeHospital`: the admin or a member hospital opens a vote to admit `hospital`.
 * @throws AppError LEDGER_REVERTED (`RegistryUnauthorized`, `RegistryHospitalExists`, `RegistryProposalOpen`, …) / LEDGER_UNAVAILABLE
 */
export async function sendHospitalProposal(ledger: Ledger, p: SendHospitalProposalParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'proposeHospital', args: [p.hospital, p.keyScheme, p.emergencyKey] })
  return sendTransaction(ledger, { account: p.by, to: ledger.contracts.registry, data, purpose: 'propose-hospital', ref: p.hospital.toLowerCase(), abi: registryAbi, signal: p.signal })
}
