import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, createWalletClient, defineChain, http, keccak256, toHex, type Address, type Chain, type Hex, type TransactionReceipt } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { registryAbi } from '../src/ledger/abis.ts'
import { startAnvil } from '../src/ledger/anvil.ts'
import { loadArtifacts } from '../src/ledger/artifacts.ts'

export const noFees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const

function newWallet(chain: Chain) {
  return createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http() })
}
export type BenchWallet = ReturnType<typeof newWallet>

/** A fresh anvil with the compiled Registry and RecordLedger, one hospital and its registered accounts. */
export interface LedgerGasChain {
  chainId: number
  client: ReturnType<typeof createPublicClient>
  admin: BenchWallet
  hospital: BenchWallet
  /** The accounts asked for, by name, each registered with its role at the hospital. */
  accounts: Record<string, BenchWallet>
  registry: Address
  ledger: Address
  /** Waits for a transaction and throws when it reverted. */
  mined: (hash: Promise<Hex>) => Promise<TransactionReceipt>
}

/**
 * Runs `measure` on a fresh anvil (its own temporary home) with the Registry and RecordLedger
 * deployed, a hospital added and `roles` (name → Registry role: 1 staff, 2 doctor, 3 patient)
 * registered there; the chain is stopped and its home removed afterwards.
 * @throws Error when a set-up transaction fails, or what `measure` throws.
 */
export async function withLedgerGasChain<T>(tag: string, roles: Record<string, number>, measure: (c: LedgerGasChain) => Promise<T>): Promise<T> {
  const home = await mkdtemp(join(tmpdir(), `medledger-bench-${tag}-`))
  const anvil = await startAnvil({ home })
  try {
    const chain = defineChain({ id: anvil.chainId, name: 'bench', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [anvil.rpcUrl] } } })
    const client = createPublicClient({ chain, transport: http(), pollingInterval: 50 })
    const mined = async (hash: Promise<Hex>) => {
      const receipt = await client.waitForTransactionReceipt({ hash: await hash })
      if (receipt.status !== 'success') throw new Error(`transaction ${receipt.transactionHash} reverted`)
      return receipt
    }
    const admin = newWallet(chain)
    const hospital = newWallet(chain)
    const { contracts } = loadArtifacts()
    const deploy = async (name: 'Registry' | 'RecordLedger', args: readonly unknown[]): Promise<Address> =>
      (await mined(admin.deployContract({ abi: contracts[name]!.abi, bytecode: contracts[name]!.bytecode, args, ...noFees }))).contractAddress!
    const registry = await deploy('Registry', [admin.account.address])
    const ledger = await deploy('RecordLedger', [registry])
    const key = keccak256(toHex('bench key'))
    await mined(admin.writeContract({ address: registry, abi: registryAbi, functionName: 'addHospital', args: [hospital.account.address, 1, key], ...noFees }))
    const accounts: Record<string, BenchWallet> = {}
    for (const [name, role] of Object.entries(roles)) {
      accounts[name] = newWallet(chain)
      await mined(admin.writeContract({ address: registry, abi: registryAbi, functionName: 'registerAccount', args: [accounts[name]!.account.address, role, hospital.account.address, 1, key], ...noFees }))
    }
    return await measure({ chainId: anvil.chainId, client, admin, hospital, accounts, registry, ledger, mined })
  } finally {
    await anvil.stop()
    await rm(home, { recursive: true, force: true })
  }
}
