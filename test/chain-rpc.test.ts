import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { Api, cleanup, startNodeProcess, type NodeProcess } from './helpers/node-process.ts'

type Reply = { id?: unknown; result?: any; error?: { code: number; message: string } }

async function rpc(url: string, body: unknown): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return res.json()
}
const call = (url: string, method: string, params: unknown[] = [], id: unknown = 1): Promise<Reply> => rpc(url, { jsonrpc: '2.0', id, method, params })

/** What a forger would want to change: the chain's height and the admin's transaction count. */
async function chainState(url: string, admin: string): Promise<{ block: string; adminNonce: string; time: string }> {
  const block = (await call(url, 'eth_blockNumber')).result
  const adminNonce = (await call(url, 'eth_getTransactionCount', [admin, 'latest'])).result
  const time = (await call(url, 'eth_getBlockByNumber', ['latest', false])).result.timestamp
  return { block, adminNonce, time }
}

/** A transaction signed by a key of our own: zero value to itself, no gas price (the embedded chain charges none). */
async function signedTransfer(url: string): Promise<`0x${string}`> {
  const key = privateKeyToAccount(generatePrivateKey())
  const chainId = Number((await call(url, 'eth_chainId')).result)
  return key.signTransaction({ chainId, to: key.address, value: 0n, gas: 21_000n, maxFeePerGas: 0n, maxPriorityFeePerGas: 0n, nonce: 0, type: 'eip1559' })
}

describe('the embedded chain\'s RPC (chainRpc, --chain-listen) serves only reads and signed transactions', () => {
  let node: NodeProcess
  let url = ''
  let admin = ''

  before(async () => {
    node = await startNodeProcess()
    url = (await new Api(node.url).json('GET', '/status')).body.chainRpc
    admin = JSON.parse(readFileSync(join(node.home, 'deployment.json'), 'utf8')).admin
  })
  after(async () => {
    await node?.stop()
    if (node) cleanup(node.home)
  })

  it('refuses anvil_impersonateAccount and an unsigned transaction from the admin: nothing changes', async () => {
    const before = await chainState(url, admin)
    const impersonate = await call(url, 'anvil_impersonateAccount', [admin])
    assert.equal(impersonate.error?.code, -32601)
    assert.match(impersonate.error!.message, /anvil_impersonateAccount is not served.*--chain-dev-methods/)
    const registry = JSON.parse(readFileSync(join(node.home, 'deployment.json'), 'utf8')).registry
    const send = await call(url, 'eth_sendTransaction', [{ from: admin, to: registry, data: '0x12345678', gasPrice: '0x0' }])
    assert.equal(send.error?.code, -32601)
    assert.equal(send.result, undefined)
    assert.deepEqual(await chainState(url, admin), before)
  })

  it('refuses the clock, mining, state and key methods with a JSON-RPC error', async () => {
    const before = await chainState(url, admin)
    for (const [method, params] of [
      ['evm_increaseTime', [86_400]], ['evm_mine', []], ['evm_setNextBlockTimestamp', [4_000_000_000]], ['evm_snapshot', []], ['evm_revert', ['0x1']],
      ['anvil_mine', ['0x10']], ['anvil_setBalance', [admin, '0xffff']], ['anvil_setCode', [admin, '0x00']], ['anvil_setStorageAt', [admin, '0x0', `0x${'11'.repeat(32)}`]],
      ['anvil_setNonce', [admin, '0x99']], ['anvil_autoImpersonateAccount', [true]], ['anvil_dumpState', []], ['anvil_reset', []],
      ['hardhat_impersonateAccount', [admin]], ['hardhat_setBalance', [admin, '0x1']],
      ['eth_accounts', []], ['eth_sign', [admin, '0x00']], ['personal_sign', ['0x00', admin]], ['personal_listAccounts', []], ['eth_signTransaction', [{ from: admin }]],
      ['debug_traceTransaction', [`0x${'00'.repeat(32)}`]], ['ots_getApiLevel', []],
    ] as const) {
      const reply = await call(url, method, [...params])
      assert.equal(reply.error?.code, -32601, `${method}: ${JSON.stringify(reply)}`)
      assert.equal(reply.id, 1)
      assert.equal(reply.result, undefined, method)
    }
    assert.deepEqual(await chainState(url, admin), before)
  })

  it('filters a batch call by call: reads are answered, the dev method in it is refused and not run', async () => {
    const before = await chainState(url, admin)
    const replies: Reply[] = await rpc(url, [
      { jsonrpc: '2.0', id: 'a', method: 'eth_chainId', params: [] },
      { jsonrpc: '2.0', id: 'b', method: 'evm_increaseTime', params: [86_400] },
      { jsonrpc: '2.0', id: 'c', method: 'anvil_mine', params: ['0x5'] },
      { jsonrpc: '2.0', id: 'd', method: 'eth_blockNumber', params: [] },
    ])
    assert.deepEqual(replies.map((r) => r.id), ['a', 'b', 'c', 'd'])
    assert.equal(replies[0]!.result, '0x7a69')
    assert.equal(replies[1]!.error?.code, -32601)
    assert.equal(replies[2]!.error?.code, -32601)
    assert.equal(replies[3]!.result, before.block)
    assert.deepEqual(await chainState(url, admin), before)
    // A batch of refused calls only, and malformed bodies: errors, nothing forwarded.
    const refused: Reply[] = await rpc(url, [{ jsonrpc: '2.0', id: 7, method: 'anvil_setNonce', params: [admin, '0x5'] }])
    assert.equal(refused[0]!.error?.code, -32601)
    assert.equal((await rpc(url, [])).error.code, -32600)
    assert.equal((await rpc(url, { jsonrpc: '2.0', id: 1 })).error.code, -32600)
    const notJson = await fetch(url, { method: 'POST', body: '{"jsonrpc":' })
    assert.equal((await notJson.json() as Reply).error?.code, -32700)
    assert.deepEqual(await chainState(url, admin), before)
  })

  it('serves reads and a signed raw transaction', async () => {
    const before = await chainState(url, admin)
    const hash = (await call(url, 'eth_sendRawTransaction', [await signedTransfer(url)])).result as string
    assert.match(hash, /^0x[0-9a-f]{64}$/)
    // anvil answers a raw transaction once it is in the pool and mines it just after (automine):
    // on a busy machine the receipt may be a moment behind the hash.
    let receipt = (await call(url, 'eth_getTransactionReceipt', [hash])).result
    for (let i = 0; receipt === null && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50))
      receipt = (await call(url, 'eth_getTransactionReceipt', [hash])).result
    }
    assert.equal(receipt?.status, '0x1')
    assert.equal(BigInt((await call(url, 'eth_blockNumber')).result), BigInt(before.block) + 1n)
    assert.equal((await call(url, 'eth_getBalance', [admin, 'latest'])).error, undefined)
  })

  it('keeps anvil itself on an IPC socket only the node\'s user can open', () => {
    const socket = statSync(join(node.home, 'chain', 'anvil.ipc'))
    assert.ok(socket.isSocket())
    assert.equal(socket.mode & 0o777, 0o600)
  })
})

describe('medledger start --chain-dev-methods', () => {
  let node: NodeProcess
  after(async () => {
    await node?.stop()
    if (node) cleanup(node.home)
  })

  it('serves the dev methods again: the chain\'s clock moves and blocks are mined on request', async () => {
    node = await startNodeProcess({ args: ['--chain-dev-methods'] })
    const url = (await new Api(node.url).json('GET', '/status')).body.chainRpc
    const block = BigInt((await call(url, 'eth_blockNumber')).result)
    const time = BigInt((await call(url, 'eth_getBlockByNumber', ['latest', false])).result.timestamp)
    assert.equal((await call(url, 'evm_increaseTime', [86_400])).error, undefined)
    assert.equal((await call(url, 'evm_mine', [])).error, undefined)
    const latest = (await call(url, 'eth_getBlockByNumber', ['latest', false])).result
    assert.equal(BigInt(latest.number), block + 1n)
    assert.ok(BigInt(latest.timestamp) >= time + 86_400n)
    assert.equal((await call(url, 'anvil_mine', ['0x2'])).error, undefined)
    assert.equal(BigInt((await call(url, 'eth_blockNumber')).result), block + 3n)
  })
})
