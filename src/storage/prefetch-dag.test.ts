import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, afterEach, test } from 'node:test'
import { addCiphertext } from './add-ciphertext.ts'
import { openIpfs, type Ipfs } from './open-ipfs.ts'
import { prefetchDag } from './prefetch-dag.ts'
import { verifyDag } from './read-verified.ts'

const MiB = 1_048_576
const dirs: string[] = []
const open: Ipfs[] = []

async function startNode(network: { peers?: string[]; fetchTimeoutMs?: number } = {}): Promise<Ipfs & { network: NonNullable<Ipfs['network']> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medledger-prefetch-'))
  dirs.push(dir)
  const ipfs = await openIpfs({ dir, network: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], fetchTimeoutMs: 5_000, ...network } })
  open.push(ipfs)
  return ipfs as Ipfs & { network: NonNullable<Ipfs['network']> }
}

afterEach(async () => { await Promise.all(open.splice(0).map(async (ipfs) => ipfs.stop())) })
after(async () => { await Promise.all(dirs.map(async (dir) => fs.rm(dir, { recursive: true, force: true }))) })

test('prefetchDag brings every block of a DAG held by a peer into the store; then it reads offline', async () => {
  const a = await startNode()
  const b = await startNode({ peers: a.network.addrs() })
  a.network.setMembers(b.network.addrs())
  for (let i = 0; i < 500 && !(b.network.peers().includes(a.network.peerId) && a.network.peers().includes(b.network.peerId)); i++) await new Promise((r) => setTimeout(r, 10))
  const record = randomBytes(5 * MiB + 7)
  const { cid } = await addCiphertext(a, [record])
  const { leaves } = await verifyDag(a.blockstore, cid)
  assert.ok(leaves.length > 1, 'a DAG of several leaves')
  for (const c of [cid, ...leaves]) assert.equal(await b.helia.blockstore.has(c), false)

  await prefetchDag(b.blockstore, cid)
  for (const c of [cid, ...leaves]) assert.equal(await b.helia.blockstore.has(c), true, `block ${c} on B`)
  const offline: Uint8Array[] = []
  for (const leaf of leaves) for await (const chunk of b.helia.blockstore.get(leaf, { offline: true })) offline.push(chunk)
  assert.ok(Buffer.concat(offline).equals(record))
})

test('prefetchDag asks nothing for a DAG held already, and ends quietly when no peer has it', async () => {
  const alone = await startNode({ fetchTimeoutMs: 300 })
  const { cid } = await addCiphertext(alone, [randomBytes(MiB)])
  await prefetchDag(alone.blockstore, cid) // held: no fetch, no error
  const other = await startNode({ fetchTimeoutMs: 300 })
  await prefetchDag(other.blockstore, cid) // nobody has it: the reader will meet RECORD_UNAVAILABLE, not the prefetch
  assert.equal(await other.helia.blockstore.has(cid), false)
})
