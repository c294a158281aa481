import type { Address, Hex } from 'viem'
import { registryAbi } from './abis.ts'
import { toLedgerError } from './send-transaction.ts'
import type { Ledger } from './connect-ledger.ts'

/**
 * Reads the SHA-256 digests of public encryption keys registered on chain, for accounts and
 * for hospitals' emergency keys, so a node never wraps a data key for a key the ledger does
 * not name.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function readKeyDigests(ledger: Ledger, { accounts = [], hospitals = [] }: { accounts?: Address[]; hospitals?: Address[] }): Promise<{ accounts: Hex[]; hospitals: Hex[] }> {
  try {
    const registry = ledger.contracts.registry
    const [a, h] = await Promise.all([
      Promise.all(accounts.map((address) => ledger.client.readContract({ address: registry, abi: registryAbi, functionName: 'encryptionKeyOf', args: [address] }))),
      Promise.all(hospitals.map((address) => ledger.client.readContract({ address: registry, abi: registryAbi, functionName: 'emergencyKeyOf', args: [address] }))),
    ])
    return { accounts: a, hospitals: h }
  } catch (err) {
    throw toLedgerError(err, registryAbi)
  }
}
