import type { Address, Hex } from 'viem'
import { registryAbi } from './abis.ts'
import { readContract } from './read-contract.ts'
import type { Ledger } from './connect-ledger.ts'

/**
 * Reads the SHA-256 digests of public encryption keys registered on chain, for accounts and
 * for hospitals' emergency keys, so a node never wraps a data key for a key the ledger does
 * not name.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function readKeyDigests(ledger: Pick<Ledger, 'client' | 'contracts'>, { accounts = [], hospitals = [] }: { accounts?: Address[]; hospitals?: Address[] }): Promise<{ accounts: Hex[]; hospitals: Hex[] }> {
  const registry = ledger.contracts.registry
  const [a, h] = await Promise.all([
    Promise.all(accounts.map((address) => readContract(ledger, { address: registry, abi: registryAbi, functionName: 'encryptionKeyOf', args: [address] }))),
    Promise.all(hospitals.map((address) => readContract(ledger, { address: registry, abi: registryAbi, functionName: 'emergencyKeyOf', args: [address] }))),
  ])
  return { accounts: a, hospitals: h }
}
