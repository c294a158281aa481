import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import { chainRoles } from '../register-account.ts'
import type { Ledger } from '../connect-ledger.ts'

export interface SendRegistrationRequestParams {
  /** The signing-up account itself. */
  account: LocalAccount
  role: 'doctor' | 'patient' | 'researcher'
  hospital: Address
  keyScheme: number
  /** SHA-256 of the account's public encryption key. */
  encryptionKey: Hex
  signal?: AbortSignal
}

/**
 * `Registry.requestRegistration`: a doctor, patient or researcher signs up with its own key (a doctor or researcher then waits for confirmation).
 * @throws AppError LEDGER_REVERTED (`RegistryAlreadyRegistered`, `RegistryUnknownHospital`, `RegistryInvalidKey`, …) / LEDGER_UNAVAILABLE
 */
export async function sendRegistrationRequest(ledger: Ledger, p: SendRegistrationRequestParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'requestRegistration', args: [chainRoles[p.role], p.hospital, p.keyScheme, p.encryptionKey] })
  return sendTransaction(ledger, { account: p.account, to: ledger.contracts.registry, data, purpose: 'register', ref: p.account.address.toLowerCase(), abi: registryAbi, signal: p.signal })
}
