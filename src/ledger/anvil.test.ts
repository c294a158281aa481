import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  http,
  keccak256,
  toHex,
  type Address,
  type Hash,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { isAppError } from '../errors.ts'
import { registryAbi } from './abis.ts'
import { checkAnvilState, resolveAnvilBinary, startAnvil, type AnvilLogEntry, type StartAnvilResult } from './anvil.ts'
import { loadArtifacts } from './artifacts.ts'
import { serveChainRpc } from './serve-chain-rpc.ts'

const noFees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const
const admin = privateKeyToAccount(generatePrivateKey())
const hospital = privateKeyToAccount(generatePrivateKey()).address
const emergencyKey = keccak256(toHex('emergency key'))

function clients(node: StartAnvilResult) {
  const chain = defineChain({
    id: node.chainId, name: 'anvil-test', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [node.rpcUrl] } },
  })
  return {
    client: createPublicClient({ chain, transport: http() }),
    wallet: createWalletClient({ account: admin, chain, transport: http() }),
  }
}

/** Deploys a Registry and adds a hospital: code and storage to look for after a restart. */
async function deployAndWrite(node: StartAnvilResult): Promise<{ registry: Address; deployHash: Hash; writeHash: Hash }> {
  const { client, wallet } = clients(node)
  const { Registry } = loadArtifacts().contracts
  const deployHash = await wallet.deployContract({ abi: Registry!.abi, bytecode: Registry!.bytecode, args: [admin.address], ...noFees })
  const registry = getAddress((await client.waitForTransactionReceipt({ hash: deployHash })).contractAddress!)
  const writeHash = await wallet.writeContract({
    address: registry, abi: registryAbi, functionName: 'addHospital', args: [hospital, 1, emergencyKey], ...noFees,
  })
  assert.equal((await client.waitForTransactionReceipt({ hash: writeHash })).status, 'success')
  return { registry, deployHash, writeHash }
}

async function assertChainHas(node: StartAnvilResult, registry: Address): Promise<void> {
  const { client } = clients(node)
  assert.equal(await client.getCode({ address: registry }), loadArtifacts().contracts.Registry!.deployedBytecode)
  assert.deepEqual(
    await client.readContract({ address: registry, abi: registryAbi, functionName: 'hospitalOf', args: [hospital] }),
    { member: true, keyScheme: 1 },
  )
  assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'emergencyKeyOf', args: [hospital] }), emergencyKey)
}

describe('startAnvil', () => {
  let home: string
  let entries: AnvilLogEntry[]
  const log = (entry: AnvilLogEntry) => entries.push(entry)
  const running: StartAnvilResult[] = []
  const start = async (params: Partial<Parameters<typeof startAnvil>[0]> = {}) => {
    const node = await startAnvil({ home, log, ...params })
    running.push(node)
    return node
  }
  const chainFile = (name: string) => join(home, 'chain', name)

  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'medledger-anvil-'))
    entries = []
  })

  afterEach(async () => {
    await Promise.all(running.splice(0).map((node) => node.stop()))
    await rm(home, { recursive: true, force: true })
  })

  test('with ipc, answers on a 0600 socket in the chain folder and, where the system allows, on no host port', async () => {
    const node = await start({ ipc: true })
    assert.equal(node.ipcPath, chainFile('anvil.ipc'))
    const socket = await stat(node.ipcPath!)
    assert.ok(socket.isSocket())
    assert.equal(socket.mode & 0o777, 0o600)
    const proxy = await serveChainRpc({ upstream: { ipcPath: node.ipcPath! } })
    try {
      await deployAndWrite({ ...node, rpcUrl: proxy.url })
    } finally {
      await proxy.close()
    }
    if (process.platform === 'linux' && node.isolated) {
      // anvil's own HTTP port lives in a network namespace of its own: nothing answers it here.
      await assert.rejects(fetch(`http://127.0.0.1:${node.port}`, { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}', signal: AbortSignal.timeout(5000) }))
    }
  })

  test('starts a zero-gas chain on a free port', async () => {
    const node = await start()
    assert.match(node.rpcUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.ok(node.port > 0)
    assert.equal(node.state, 'new')
    assert.deepEqual(entries.map((e) => e.event), ['state-new'])
    const { client } = clients(node)
    assert.equal(await client.getChainId(), 31337)
    assert.equal(await client.getGasPrice(), 0n)
    // no unlocked dev accounts by default
    assert.deepEqual(await createWalletClient({ chain: client.chain, transport: http() }).getAddresses(), [])
    // an account with no balance transacts
    assert.equal(await client.getBalance({ address: admin.address }), 0n)
    await deployAndWrite(node)
  })

  test('the chain survives stop and start: code, storage, receipts and logs', async () => {
    let node = await start()
    const { registry, deployHash, writeHash } = await deployAndWrite(node)
    await node.stop()
    await node.stop() // a second stop is a no-op
    assert.notEqual(node.process.exitCode ?? node.process.signalCode, null)
    assert.equal(entries.at(-1)?.event, 'state-saved')
    assert.deepEqual(await checkAnvilState(chainFile('state.json')), { ok: true })
    assert.equal(await readFile(chainFile('state.good.json'), 'utf8'), await readFile(chainFile('state.json'), 'utf8'))

    node = await start()
    assert.equal(node.state, 'loaded')
    await assertChainHas(node, registry)
    const { client } = clients(node)
    // anvil 1.7's --state keeps mined transactions, receipts and logs
    assert.equal((await client.getTransactionReceipt({ hash: deployHash })).contractAddress?.toLowerCase(), registry.toLowerCase())
    const logs = await client.getLogs({ address: registry, fromBlock: 0n, toBlock: 'latest' })
    assert.ok(logs.some((l) => l.transactionHash === writeHash))
  })

  test('a truncated state file is set aside and the last good copy restored', async () => {
    let node = await start()
    const { registry } = await deployAndWrite(node)
    await node.stop()
    const good = await readFile(chainFile('state.json'), 'utf8')
    // what a crash in the middle of anvil's in-place rewrite leaves behind
    await truncate(chainFile('state.json'), Math.floor(good.length / 2))
    assert.equal((await checkAnvilState(chainFile('state.json'))).ok, false)

    entries = []
    node = await start()
    assert.equal(node.state, 'restored')
    const restored = entries.find((e) => e.event === 'state-restored')
    assert.ok(restored, JSON.stringify(entries))
    assert.equal(restored.level, 'warn')
    const bad = (await readdir(join(home, 'chain'))).filter((f) => /^state\.bad-.+\.json$/.test(f))
    assert.equal(bad.length, 1)
    assert.equal((await readFile(chainFile(bad[0]!), 'utf8')).length, Math.floor(good.length / 2))
    assert.deepEqual(restored.files, [chainFile(bad[0]!), chainFile('state.good.json')])
    await assertChainHas(node, registry)
  })

  test('a bad state file without a good copy gives a fresh chain, the bad file kept aside', async () => {
    await start().then((n) => n.stop())
    await writeFile(chainFile('state.json'), '{"accounts": {"0x12": 5}}')
    await rm(chainFile('state.good.json'), { force: true })
    entries = []
    const node = await start()
    assert.equal(node.state, 'reset')
    assert.deepEqual(entries.map((e) => [e.level, e.event]), [['error', 'state-reset']])
    assert.equal(await clients(node).client.getBlockNumber({ cacheTime: 0 }), 0n)
    assert.equal((await readdir(join(home, 'chain'))).filter((f) => f.startsWith('state.bad-')).length, 1)
  })

  test('a missing state file is restored from the good copy', async () => {
    let node = await start()
    const { registry } = await deployAndWrite(node)
    await node.stop()
    await unlink(chainFile('state.json'))
    node = await start()
    assert.equal(node.state, 'restored')
    await assertChainHas(node, registry)
  })

  test('a SIGKILL loses what came after the last state write; re-sending the signed transaction restores it', async () => {
    let node = await start({ stateIntervalSeconds: 3600 })
    const { registry } = await deployAndWrite(node)
    await node.stop()

    node = await start({ stateIntervalSeconds: 3600 })
    const { client, wallet } = clients(node)
    const before = await client.getBlockNumber({ cacheTime: 0 })
    const request = await wallet.prepareTransactionRequest({ to: hospital, value: 0n, ...noFees })
    const signed = await wallet.signTransaction(request)
    const hash = await client.sendRawTransaction({ serializedTransaction: signed })
    await client.waitForTransactionReceipt({ hash })
    node.process.kill('SIGKILL')
    await node.exited

    node = await start({ stateIntervalSeconds: 3600 })
    const after = clients(node).client
    assert.equal(node.state, 'loaded')
    assert.equal(await after.getBlockNumber({ cacheTime: 0 }), before)
    await assert.rejects(after.getTransactionReceipt({ hash }), { name: 'TransactionReceiptNotFoundError' })
    await assertChainHas(node, registry)
    // what the node's journal replay does
    assert.equal(await after.sendRawTransaction({ serializedTransaction: signed }), hash)
    assert.equal((await after.waitForTransactionReceipt({ hash })).status, 'success')
  })

  test('a port in use is reported as LEDGER_UNAVAILABLE with anvil\'s message', async () => {
    const first = await start()
    const other = await mkdtemp(join(tmpdir(), 'medledger-anvil-'))
    try {
      await assert.rejects(startAnvil({ home: other, port: first.port }), (err: unknown) => {
        assert.ok(isAppError(err, 'LEDGER_UNAVAILABLE'))
        assert.match(err.details ?? '', /exited before listening/)
        return true
      })
    } finally {
      await rm(other, { recursive: true, force: true })
    }
  })

  test('an aborted signal stops the start', async () => {
    const controller = new AbortController()
    controller.abort(new Error('shutting down'))
    await assert.rejects(startAnvil({ home, signal: controller.signal }), /shutting down/)
    const aborting = new AbortController()
    const pending = startAnvil({ home, signal: aborting.signal })
    aborting.abort(new Error('shutting down'))
    await assert.rejects(pending, /shutting down/)
  })

  test('a missing binary is reported', async () => {
    assert.ok(existsSync(resolveAnvilBinary()))
    await assert.rejects(startAnvil({ home, binary: join(home, 'no-anvil') }), (err: unknown) => isAppError(err, 'LEDGER_UNAVAILABLE'))
  })

  test('anvil does not outlive a parent killed with SIGKILL (Linux, setpriv)', { skip: process.platform !== 'linux' || !existsSync('/usr/bin/setpriv') }, async () => {
    const script = `
      import { startAnvil } from ${JSON.stringify(fileURLToPath(new URL('./anvil.ts', import.meta.url)))}
      const node = await startAnvil({ home: ${JSON.stringify(home)} })
      console.log(node.process.pid)
      setInterval(() => {}, 1000)
    `
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    const pid = await new Promise<number>((resolve, reject) => {
      parent.stdout.setEncoding('utf8').once('data', (line: string) => resolve(Number(line.trim())))
      parent.once('exit', (code) => reject(new Error(`parent exited with ${code}`)))
    })
    const alive = (p: number) => {
      try {
        process.kill(p, 0)
        return true
      } catch {
        return false
      }
    }
    assert.ok(alive(pid))
    parent.kill('SIGKILL')
    const deadline = Date.now() + 10_000
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    assert.equal(alive(pid), false, 'anvil still running')
    // it got SIGTERM, so it wrote its state on the way out
    assert.deepEqual(await checkAnvilState(chainFile('state.json')), { ok: true })
  })
})

describe('checkAnvilState', () => {
  test('accepts what anvil writes and refuses anything else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medledger-state-'))
    try {
      const file = join(dir, 'state.json')
      const valid = {
        block: { number: '0x0' }, best_block_number: 0, blocks: [], transactions: [], historical_states: null,
        accounts: { '0x0000000000000000000000000000000000000001': { nonce: 0, balance: '0x0', code: '0x', storage: {} } },
      }
      await writeFile(file, JSON.stringify(valid))
      assert.deepEqual(await checkAnvilState(file), { ok: true })
      for (const bad of ['', '{"accounts": {', '[]', '{}', JSON.stringify({ ...valid, blocks: {} }), JSON.stringify({ ...valid, accounts: { x: {} } })]) {
        await writeFile(file, bad)
        assert.equal((await checkAnvilState(file)).ok, false, bad)
      }
      assert.equal((await checkAnvilState(join(dir, 'missing.json'))).ok, false)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
