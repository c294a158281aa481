import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, createTestClient, createWalletClient, http, type Address } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { startAnvil } from './anvil.ts'
import { logChunks } from './log-chunks.ts'

const CHUNK = 10

// Init code that emits one empty LOG0 from the new contract's address and deploys nothing:
// PUSH1 0, PUSH1 0, LOG0, STOP.
const emitter = '0x60006000a000'

test('logs across more blocks than one eth_getLogs window arrive window by window, none lost or repeated', async () => {
  const home = mkdtempSync(join(tmpdir(), 'ml-logs-'))
  const anvil = await startAnvil({ home, port: 0 })
  try {
    const client = createPublicClient({ transport: http(anvil.rpcUrl) })
    const testClient = createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) })
    const wallet = createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), transport: http(anvil.rpcUrl) })
    const emitters: Address[] = []
    const deploy = async () => {
      const hash = await wallet.deployContract({ chain: null, abi: [], bytecode: emitter, maxFeePerGas: 0n, maxPriorityFeePerGas: 0n })
      emitters.push((await client.waitForTransactionReceipt({ hash })).contractAddress!)
    }
    await deploy()
    await testClient.mine({ blocks: 25 })
    await deploy()
    await testClient.mine({ blocks: 25 })
    await deploy()
    const head = Number(await client.getBlockNumber({ cacheTime: 0 }))
    assert.ok(head > 4 * CHUNK)

    const windows: number[] = []
    const seen: string[] = []
    for await (const { to, logs } of logChunks(client, { address: emitters, from: 0, to: head, chunk: CHUNK })) {
      windows.push(to)
      for (const l of logs) {
        assert.ok(Number(l.blockNumber) <= to && Number(l.blockNumber) > to - CHUNK)
        seen.push(l.address.toLowerCase())
      }
    }
    assert.deepEqual(seen, emitters.map((a) => a.toLowerCase()))
    assert.equal(windows.length, Math.ceil((head + 1) / CHUNK))
    assert.equal(windows.at(-1), head)
    assert.deepEqual(windows.slice(0, -1), windows.slice(0, -1).map((_, i) => (i + 1) * CHUNK - 1))
  } finally {
    await anvil.stop()
    rmSync(home, { recursive: true, force: true })
  }
})
