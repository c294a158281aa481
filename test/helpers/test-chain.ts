import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  http,
  parseEventLogs,
  type Abi,
  type Account,
  type Address,
  type Chain,
  type Hash,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { startAnvil, type StartAnvilResult } from '../../src/ledger/anvil.ts'
import { loadArtifacts } from '../../src/ledger/artifacts.ts'

// The embedded chain charges no gas, but anvil suggests a 1 gwei tip (eth_maxPriorityFeePerGas,
// eth_fillTransaction): zero-balance accounts must send zero fees explicitly.
export const noFees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const

export type Wallet = WalletClient<Transport, Chain, Account>

/** Asserts `promise` reverts with exactly the custom error `errorName(...args)`. */
export async function expectRevert(promise: Promise<unknown>, errorName: string, args: readonly unknown[] = []): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof BaseError, `not a viem error: ${String(err)}`)
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError)
    assert.ok(revert instanceof ContractFunctionRevertedError, `not a contract revert: ${err.shortMessage}`)
    assert.equal(revert.data?.errorName, errorName, revert.shortMessage)
    assert.deepEqual(revert.data?.args ?? [], args)
    return true
  })
}

export interface TestChain {
  anvil: StartAnvilResult
  chain: Chain
  client: PublicClient<Transport, Chain>
  /** A fresh key with no balance (the chain charges no gas). */
  newWallet(): Wallet
  /** Deploys a compiled contract from `by`; returns its address and the deployment's gas. */
  deploy(by: Wallet, name: string, args: readonly unknown[]): Promise<{ address: Address; gasUsed: bigint }>
  /** Waits for `hash`, asserts success and that every log comes from `emitter`; returns the decoded events. */
  eventsOf(hash: Hash, abi: Abi, emitter: Address): Promise<{ gasUsed: bigint; events: { eventName: string; args: unknown }[] }>
  /** Moves the chain's clock forward by `seconds` and mines a block; returns the new block's time. */
  advance(seconds: number): Promise<bigint>
  /** The latest block's timestamp. */
  now(): Promise<bigint>
  stop(): Promise<void>
}

/** Starts a real anvil on a temporary home, with the helpers the contract tests share. */
export async function startTestChain(): Promise<TestChain> {
  const home = await mkdtemp(join(tmpdir(), 'medledger-chain-'))
  const anvil = await startAnvil({ home })
  const chain = defineChain({
    id: anvil.chainId, name: 'medledger-test', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [anvil.rpcUrl] } },
  })
  const client = createPublicClient({ chain, transport: http(), pollingInterval: 50 })
  const { contracts } = loadArtifacts()
  const rpc = (method: string, params: unknown[]) => client.request({ method, params } as never)
  const now = async () => (await client.getBlock({ blockTag: 'latest' })).timestamp

  return {
    anvil,
    chain,
    client,
    newWallet: () => createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http() }),
    async deploy(by, name, args) {
      const artifact = contracts[name]
      assert.ok(artifact, `no artifact for ${name}`)
      const hash = await by.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args, ...noFees })
      const receipt = await client.waitForTransactionReceipt({ hash })
      assert.equal(receipt.status, 'success')
      return { address: getAddress(receipt.contractAddress!), gasUsed: receipt.gasUsed }
    },
    async eventsOf(hash, abi, emitter) {
      const receipt = await client.waitForTransactionReceipt({ hash })
      assert.equal(receipt.status, 'success')
      for (const log of receipt.logs) assert.equal(log.address.toLowerCase(), emitter.toLowerCase())
      const events = parseEventLogs({ abi, logs: receipt.logs }).map(({ eventName, args }) => ({ eventName, args }))
      return { gasUsed: receipt.gasUsed, events }
    },
    async advance(seconds) {
      await rpc('evm_increaseTime', [seconds])
      await rpc('evm_mine', [])
      return now()
    },
    now,
    async stop() {
      await anvil.stop()
      await rm(home, { recursive: true, force: true })
    },
  }
}
