import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from './abis.ts'
import { sendTransaction } from './send-transaction.ts'
import type { Ledger } from './connect-ledger.ts'

/** On-chain role codes of the Registry contract. */
export const chainRoles = { staff: 1, doctor: 2, patient: 3, researcher: 4 } as const

export interface RegisterAccountParams {
  /** The admin or a staff account of `hospital`, acting with its own key. */
  registrar: LocalAccount
  account: Address
  role: keyof typeof chainRoles
  hospital: Address
  keyScheme: number
  /** SHA-256 of the account's public encryption key. */
  encryptionKey: Hex
  signal?: AbortSignal
}

/**
 * Registers an account, its role, hospital and encryption-key digest in the Registry.
 * @throws AppError LEDGER_REVERTED (`RegistryUnauthorized`, `RegistryAlreadyRegistered`, …)
 */
export async function registerAccount(ledger: Ledger, p: RegisterAccountParams): Promise<TransactionReceipt> {
  const data = encodeFunctionData({
    abi: registryAbi,
    functionName: 'registerAccount',
    args: [p.account, chainRoles[p.role], p.hospital, p.keyScheme, p.encryptionKey],
  })
  return sendTransaction(ledger, { account: p.registrar, to: ledger.contracts.registry, data, purpose: 'register', ref: p.account, abi: registryAbi, signal: p.signal })
}
