import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createPublicClient, createWalletClient, http, parseEther, RpcError, type PublicClient } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { startAnvil, type StartAnvilResult } from './anvil.ts'
import { ipcTransport } from './ipc-transport.ts'

describe('ipcTransport (the node\'s own client on anvil\'s IPC socket)', () => {
  let home: string
  let anvil: StartAnvilResult
  let client: PublicClient

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'ml-ipc-'))
    anvil = await startAnvil({ home, ipc: true, accounts: 1 })
    client = createPublicClient({ transport: ipcTransport(anvil.ipcPath!, { connections: 2 }) })
  })
  after(async () => {
    await anvil?.stop()
    await rm(home, { recursive: true, force: true })
  })

  test('answers as the chain does over HTTP, many calls at once over its few connections', async () => {
    assert.equal(await client.getChainId(), anvil.chainId)
    const rich = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
    const wallet = createWalletClient({ account: rich, transport: ipcTransport(anvil.ipcPath!) })
    const to = privateKeyToAccount(generatePrivateKey()).address
    // Transactions sent (one after the other: their nonces) while reads run: each answer is matched to its own call.
    const send = async () => {
      const out = []
      for (let i = 0; i < 5; i++) {
        const hash = await wallet.sendTransaction({ to, value: parseEther('1'), chain: null, maxFeePerGas: 0n, maxPriorityFeePerGas: 0n })
        out.push(await client.waitForTransactionReceipt({ hash, pollingInterval: 20 }))
      }
      return out
    }
    const [balances, receipts] = await Promise.all([
      Promise.all(Array.from({ length: 40 }, () => client.getBalance({ address: rich.address }))),
      send(),
    ])
    assert.equal(new Set(receipts.map((r) => r.transactionHash)).size, 5)
    for (const r of receipts) assert.equal(r.status, 'success')
    const viaHttp = createPublicClient({ transport: http(anvil.rpcUrl) })
    if (!anvil.isolated) assert.equal(await client.getBalance({ address: to }), await viaHttp.getBalance({ address: to }))
    assert.equal(await client.getBalance({ address: to }), parseEther('5'))
    assert.ok(balances.every((b) => typeof b === 'bigint'))
  })

  test('a JSON-RPC error comes back as the chain\'s error, not as a dropped connection', async () => {
    await assert.rejects(client.request({ method: 'no_suchMethod' as 'eth_chainId' }), (err: unknown) => err instanceof RpcError && [-32601, -32602].includes(err.code))
    // The connection is still good afterwards.
    assert.equal(await client.getChainId(), anvil.chainId)
  })

  test('a call fails, not hangs, once the chain is gone', async () => {
    const lone = createPublicClient({ transport: ipcTransport(anvil.ipcPath!, { connections: 1, retryCount: 0, timeoutMs: 20_000 }) })
    assert.equal(await lone.getChainId(), anvil.chainId)
    await anvil.stop()
    await assert.rejects(lone.getBlockNumber({ cacheTime: 0 }))
  })
})
