import { encodeFunctionData, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { registryAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Registry.rotateEmergencyKey`: a member hospital, from its own key, replaces its emergency key's digest.
 * @throws AppError LEDGER_REVERTED (`RegistryUnknownHospital`, `RegistryInvalidKey`) / LEDGER_UNAVAILABLE
 */
export async function sendEmergencyKeyRotation(ledger: Ledger, p: { hospital: LocalAccount; emergencyKey: Hex; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: registryAbi, functionName: 'rotateEmergencyKey', args: [p.emergencyKey] })
  return sendTransaction(ledger, { account: p.hospital, to: ledger.contracts.registry, data, purpose: 'rotate-emergency-key', ref: p.hospital.address.toLowerCase(), abi: registryAbi, signal: p.signal })
}
