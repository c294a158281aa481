import assert from 'node:assert/strict'
import { startAnvil, type StartAnvilResult } from '../../src/ledger/anvil.ts'
import { Api, cleanup, seed, startNodeProcess, tempDir, testEnv, type NodeProcess } from './node-process.ts'

// A consortium of hospital nodes as separate processes (test/helpers/node-process.ts) on loopback,
// on one real anvil chain that outlives any of them, with real Helia peered over libp2p. Node `a`
// founds it on that chain (hospital "Hospital A", seeded with a doctor and a patient); nodes `b`,
// `c`, … join with `--registry` and are admitted one after the other: by A's admin while A is the
// only member, then by A's proposal and the further members' votes until a strict majority.
// test/consortium.test.ts does the same by hand, step by step, because that is what it tests.

/** What the tests read of `GET /status`. */
export interface NodeStatus {
  registry: string
  hospitalAddress: string
  admitted: boolean
  ipfsPeerId: string
  ipfsAddrs: string[]
  peers: string[]
  follow: { lastBlock: number; headBlock: number; lagBlocks: number }
  replication: { pending: number; pinned: number; failing: number; replicas: number }
}

export interface ConsortiumUser { id: string; address: string; email: string; password: string; token: string }

export interface Consortium {
  chain: StartAnvilResult
  /** The Registry's address. */
  registry: string
  /** The node keys, `a` first. */
  keys: string[]
  homes: Record<string, string>
  nodes: Record<string, NodeProcess>
  apis: Record<string, Api>
  /** Each node's admin session. */
  adminOf: Record<string, string>
  /** Hospital A with its admin, doctor and patient (`seed`). */
  founding: Awaited<ReturnType<typeof seed>>
  status(k: string): Promise<NodeStatus>
  /** (Re)starts node `k` on its home with its arguments (joining nodes peered with A) and signs its admin in. */
  start(k: string): Promise<void>
  /** A user of `role` made by node `k`'s admin in its own hospital (retried while `k` is not admitted yet), signed in. */
  makeUser(k: string, role: string, email: string, name?: string): Promise<ConsortiumUser>
  /** Stops every node still running and the chain, and removes their directories. */
  stop(): Promise<void>
}

export interface StartConsortiumOptions {
  /** Prefix of the temporary directories (`ml-` by default). */
  prefix?: string
  /** Further arguments of every node, e.g. `['--replicas', '2']`. */
  args?: string[]
  /** Also wait until every node is peered with every other. */
  peered?: boolean
}

/**
 * Starts `n` (≥ 1) node processes as a consortium: the chain, node `a` founding it, then each
 * further node joining and admitted.
 * @throws when a node does not start or a step is refused (with the node's answer)
 */
export async function startConsortium(n: number, { prefix = 'ml-', args = [], peered = false }: StartConsortiumOptions = {}): Promise<Consortium> {
  const keys = Array.from({ length: n }, (_, i) => String.fromCharCode(97 + i))
  const chainHome = tempDir(`${prefix}chain-`)
  const homes = Object.fromEntries(keys.map((k) => [k, tempDir(`${prefix}${k}-`)]))
  const c: Consortium = {
    chain: await startAnvil({ home: chainHome, port: 0 }),
    registry: '',
    keys,
    homes,
    nodes: {},
    apis: {},
    adminOf: {},
    founding: undefined as unknown as Consortium['founding'],
    status: async (k) => (await c.apis[k]!.json<NodeStatus>('GET', '/status')).body,
    async start(k) {
      const peer = k === 'a' ? [] : ['--registry', c.registry, '--hospital-name', hospitalName(k), '--ipfs-peer', (await c.status('a')).ipfsAddrs[0]!]
      c.nodes[k] = await startNodeProcess({ home: homes[k], args: ['--chain-rpc', c.chain.rpcUrl, '--ipfs-listen', '/ip4/127.0.0.1/tcp/0', ...args, ...peer] })
      c.apis[k] = new Api(c.nodes[k]!.url)
      c.adminOf[k] = await c.apis[k]!.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
    },
    async makeUser(k, role, email, name = `${role} ${k}`) {
      const password = `${role}-password-123`
      const r = await waitFor(`${role} ${email} on node ${k}`, async () => {
        const res = await c.apis[k]!.json('POST', '/users', { role, email, name, password }, c.adminOf[k])
        return res.status === 409 && res.body?.code === 'NOT_ADMITTED' ? undefined : res // the admin's staff registration is on its way
      })
      assert.equal(r.status, 201, JSON.stringify(r.body))
      return { id: r.body.account.id, address: r.body.account.address, email, password, token: await c.apis[k]!.login(email, password) }
    },
    async stop() {
      await Promise.all(Object.values(c.nodes).map((node) => node.stop()))
      await c.chain.stop()
      cleanup(chainHome, ...Object.values(homes))
    },
  }
  try {
    await c.start('a')
    c.founding = await seed(c.apis.a!, { hospitalName: 'Hospital A', tag: 'a' })
    const a = await waitFor('A published and admitted', async () => { const s = await c.status('a'); return s.ipfsAddrs.length > 0 && s.admitted ? s : undefined })
    c.registry = a.registry
    for (const [i, k] of keys.entries()) if (i > 0) await admit(c, k, i)
    if (peered) {
      const ids = await Promise.all(keys.map(async (k) => (await c.status(k)).ipfsPeerId))
      await waitFor('every node peered', async () => (await Promise.all(keys.map(c.status))).every((s, i) => ids.every((p, j) => i === j || s.peers.includes(p))))
    }
  } catch (err) {
    await c.stop()
    throw err
  }
  return c
}

const hospitalName = (k: string) => `Hospital ${k.toUpperCase()}`

/** Node `k` joins; A proposes it and the next `members` ones vote until a strict majority of the `members` members. */
async function admit(c: Consortium, k: string, members: number): Promise<void> {
  await c.start(k)
  const address = (await c.status(k)).hospitalAddress
  const proposed = await c.apis.a!.json('POST', '/hospitals/admit', { address, name: hospitalName(k) }, c.adminOf.a)
  assert.equal(proposed.status, 200, JSON.stringify(proposed.body))
  for (const voter of c.keys.slice(1, Math.floor(members / 2) + 1)) {
    // A voter's admin acts for its hospital once its staff registration is mined: retried until then.
    await waitFor(`${voter}'s vote for ${k}`, async () => {
      const r = await c.apis[voter]!.json('POST', `/hospitals/${address}/vote`, { approve: true }, c.adminOf[voter])
      if (r.status !== 200) throw new Error(`${r.status} ${JSON.stringify(r.body)}`)
      return true
    })
  }
  await waitFor(`${k} admitted`, async () => (await c.status(k)).admitted)
}

/** Polls `fn` until it answers something other than undefined or false. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (err) { last = err }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
}
