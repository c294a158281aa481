import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { loadConfig } from '../src/config.ts'
import { startNode, type RunningNode } from '../src/node/start-node.ts'
import { buildApp } from '../src/api/build-app.ts'
import { serializeSignIn, signInKey } from '../src/accounts/lockout.ts'
import { sendTransaction } from '../src/ledger/send-transaction.ts'
import { cleanup, tempDir, testEnv } from './helpers/node-process.ts'

// Two whole nodes (own home, SQLite, embedded anvil, Helia) in ONE process, each with its API
// built by buildApp and called with inject(): what one node holds must never reach the other.
describe('two nodes in one process share nothing', async () => {
  const homes = [tempDir('ml-iso-a-'), tempDir('ml-iso-b-')]
  const nodes: RunningNode[] = []
  const apps: FastifyInstance[] = []
  const admin = { email: testEnv.MEDLEDGER_ADMIN_EMAIL, password: testEnv.MEDLEDGER_ADMIN_PASSWORD }

  before(async () => {
    for (const home of homes) {
      const node = await startNode({ config: loadConfig({ flags: { home }, env: testEnv }), env: testEnv })
      nodes.push(node)
      apps.push(await buildApp({ services: node.services }))
    }
  })
  after(async () => {
    for (const app of apps) await app.close()
    for (const node of nodes) await node.stop()
    cleanup(...homes)
  })

  const call = (i: number, method: 'GET' | 'POST', url: string, { token, body }: { token?: string; body?: object } = {}) =>
    apps[i].inject({ method, url: `/api/v1${url}`, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(body ? { payload: body } : {}) })

  it('each node\'s Services is built once and cannot be changed afterwards', () => {
    const [a, b] = nodes.map((n) => n.services)
    assert.ok(Object.isFrozen(a) && Object.isFrozen(b))
    assert.throws(() => { (a as { notify?: unknown }).notify = undefined }, TypeError)
    assert.ok(a.consortium && b.consortium && a.consortium !== b.consortium)
    assert.notEqual(a.signIn, b.signIn)
    assert.notEqual(a.ledger.senderQueues, b.ledger.senderQueues)
    assert.notEqual(a.blockCache, b.blockCache, 'each node caches the blocks it read itself')
  })

  it('a session opened on node A is unknown to node B, and its unlocked keys stay on A', async () => {
    const login = await call(0, 'POST', '/auth/login', { body: admin })
    assert.equal(login.statusCode, 200)
    const { token } = login.json() as { token: string }
    assert.equal((await call(0, 'GET', '/auth/me', { token })).statusCode, 200)
    const onB = await call(1, 'GET', '/auth/me', { token })
    assert.equal(onB.statusCode, 401)
    assert.equal(onB.json().code, 'SESSION_EXPIRED')
    assert.equal(nodes[0].services.signIn.unlocked.size, 1)
    assert.equal(nodes[1].services.signIn.unlocked.size, 0)
    assert.equal((await call(0, 'POST', '/auth/logout', { token })).statusCode, 204)
    assert.equal(nodes[0].services.signIn.unlocked.size, 0)
  })

  it('an attempt still running on node A does not hold up the same e-mail signing in on node B', async () => {
    // Hold A's sign-in queue for the admin's e-mail from inject()'s address, as a slow attempt would.
    let release!: () => void
    const held = serializeSignIn(nodes[0].services.signIn, signInKey(admin.email, '127.0.0.1'), () => new Promise<void>((r) => { release = r }))
    try {
      const onB = await Promise.race([
        call(1, 'POST', '/auth/login', { body: admin }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('node B waited for node A\'s sign-in queue')), 60_000).unref()),
      ])
      assert.equal(onB.statusCode, 200)
    } finally {
      release()
      await held
    }
  })

  it('locking an e-mail out on node A does not lock it on node B', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal((await call(0, 'POST', '/auth/login', { body: { ...admin, password: 'wrong-password-000' } })).statusCode, 401)
    }
    const locked = await call(0, 'POST', '/auth/login', { body: admin })
    assert.equal(locked.statusCode, 429)
    assert.equal(locked.json().code, 'ACCOUNT_LOCKED')
    assert.equal((await call(1, 'POST', '/auth/login', { body: admin })).statusCode, 200)
  })

  it('the same account sending on both nodes takes nonces from each node\'s own chain and journal', async () => {
    const account = privateKeyToAccount(generatePrivateKey())
    const send = (i: number) => sendTransaction(nodes[i].services.ledger, { account, to: account.address, data: '0x', purpose: 'test' })
    const receipts = await Promise.all([send(0), send(1), send(0)])
    assert.ok(receipts.every((r) => r.status === 'success'))
    const nonces = async (i: number) => (await nodes[i].services.db.all<{ nonce: number }>(
      'SELECT nonce FROM journal WHERE sender = ? ORDER BY nonce', account.address.toLowerCase())).map((r) => Number(r.nonce))
    assert.deepEqual(await nonces(0), [0, 1])
    assert.deepEqual(await nonces(1), [0])
    assert.equal(nodes[0].services.ledger.senderQueues.size, 0)
    assert.equal(nodes[1].services.ledger.senderQueues.size, 0)
  })
})
