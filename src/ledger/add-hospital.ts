import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from './abis.ts'
import { sendTransaction } from './send-transaction.ts'
import type { Ledger } from './connect-ledger.ts'

export interface AddHospitalParams {
  /** The consortium admin, acting with its own key. */
  admin: LocalAccount
  hospital: Address
  keyScheme: number
  /** SHA-256 of the hospital's emergency public key. */
  emergencyKey: Hex
  signal?: AbortSignal
}

/**
 * Admits a hospital to the consortium's Registry.
 * @throws AppError LEDGER_REVERTED (`RegistryUnauthorized`, `RegistryHospitalExists`, …)
 */
export async function addHospital(ledger: Ledger, { admin, hospital, keyScheme, emergencyKey, signal }: AddHospitalParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'addHospital', args: [hospital, keyScheme, emergencyKey] })
  return sendTransaction(ledger, { account: admin, to: ledger.contracts.registry, data, purpose: 'add-hospital', ref: hospital, abi: registryAbi, signal })
}
