import assert from 'node:assert/strict'
import { Api, startNodeProcess, type NodeProcess } from './node-process.ts'

/** A JSON-RPC call to the node's chain (its filtering proxy; dev methods on for these tests). */
export async function chain(url: string, method: string, params: unknown[] = []): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  const body = await res.json() as { result?: unknown; error?: { message: string } }
  if (body.error) throw new Error(`${method}: ${body.error.message}`)
  return body.result
}

/** How many of `sender`'s transactions wait in the chain's pool, not mined. */
export async function pooledCount(rpc: string, sender: string): Promise<number> {
  return Number(BigInt(await chain(rpc, 'eth_getTransactionCount', [sender, 'pending'])) - BigInt(await chain(rpc, 'eth_getTransactionCount', [sender, 'latest'])))
}

/** What a crash test's node is started with: chain dev methods, and a chain that never saves its state on its own (a kill loses its tail). */
export const crashEnv = { MEDLEDGER_CHAIN_DEV_METHODS: 'true', MEDLEDGER_ANVIL_STATE_INTERVAL: '3600' }

/**
 * Stops the chain's mining, runs `act` (a request whose flow sends one transaction from `sender`)
 * until that transaction is in the chain's pool and unanswered, then kills node and chain -9 (the
 * chain loses the transaction) and starts the node again on its home: its journal re-sends it.
 * Returns the restarted node.
 */
export async function crashAfterSend(node: NodeProcess, sender: string, act: () => Promise<unknown>): Promise<NodeProcess> {
  const rpc = (await new Api(node.url).json('GET', '/status')).body.chainRpc as string
  const pooled = () => pooledCount(rpc, sender)
  await chain(rpc, 'evm_setAutomine', [false])
  let answered: unknown
  const request = act().then((r) => { answered = r }, () => { /* the node went away mid-request */ })
  for (let i = 0; i < 1200 && (await pooled()) < 1 && answered === undefined; i++) await new Promise((r) => setTimeout(r, 50))
  assert.equal(answered, undefined, 'not answered: not mined')
  assert.equal(await pooled(), 1, 'the transaction is in the chain\'s pool')
  await node.crash()
  await request
  const again = await startNodeProcess({ home: node.home, env: crashEnv })
  if (!/re-sent from the journal/.test(again.output())) {
    await again.stop()
    assert.fail(`the chain had lost the transaction and the journal re-sent it:\n${again.output()}`)
  }
  return again
}

/** Polls `get` every 50 ms (20 s at most) until `done` holds of its answer; returns the last answer. */
export async function waitFor<T>(get: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  let v = await get()
  for (let i = 0; i < 400 && !done(v); i++) {
    await new Promise((r) => setTimeout(r, 50))
    v = await get()
  }
  return v
}
