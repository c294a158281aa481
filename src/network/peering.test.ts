import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, afterEach, describe, test } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { PEER_KEY_FILE } from './peer-key.ts'
import { isAppError } from '../errors.ts'
import { addCiphertext } from '../storage/add-ciphertext.ts'
import { blocksDir, findBlockOnDisk } from '../storage/block-path.ts'
import { openIpfs, type Ipfs, type IpfsNetworkOptions } from '../storage/open-ipfs.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { readLeaves, verifyDag } from '../storage/read-verified.ts'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import type { Libp2p } from '@libp2p/interface'

const MiB = 1_048_576
const LOOPBACK = '/ip4/127.0.0.1/tcp/0'

const dirs: string[] = []
const open: Ipfs[] = []

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medledger-net-'))
  dirs.push(dir)
  return dir
}

async function startNode({ dir, ...network }: { dir?: string } & Partial<IpfsNetworkOptions> = {}): Promise<Ipfs & { network: NonNullable<Ipfs['network']> }> {
  const ipfs = await openIpfs({ dir: dir ?? await tempDir(), network: { listen: [LOOPBACK], peers: [], fetchTimeoutMs: 5_000, ...network } })
  open.push(ipfs)
  assert.ok(ipfs.network !== undefined)
  return ipfs as Ipfs & { network: NonNullable<Ipfs['network']> }
}

/** The node's libp2p: Helia started with `network` carries one (HeliaWithLibp2p). */
function libp2pOf(ipfs: Ipfs): Libp2p {
  return (ipfs.helia as HeliaWithLibp2p).libp2p
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<number> {
  const start = performance.now()
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  return performance.now() - start
}

async function readFile(ipfs: Ipfs, cid: CID): Promise<Buffer> {
  const { leaves } = await verifyDag(ipfs.blockstore, cid)
  const parts: Uint8Array[] = []
  for await (const part of readLeaves(ipfs.blockstore, leaves)) parts.push(part)
  return Buffer.concat(parts)
}

/** Block `cid`'s bytes as they lie on disk (its own file, or its range of a pack). */
async function onDisk(dir: string, cid: CID): Promise<Buffer> {
  const block = await findBlockOnDisk(dir, cid)
  assert.ok(block !== undefined, `block ${cid} on disk`)
  const bytes = Buffer.alloc(block.length)
  const handle = await fs.open(block.file, 'r')
  try {
    await handle.read(bytes, 0, block.length, block.offset)
  } finally {
    await handle.close()
  }
  return bytes
}

/** Overwrites block `cid`'s bytes where they lie on disk with `bytes` (as long). */
async function overwriteOnDisk(dir: string, cid: CID, bytes: Uint8Array): Promise<void> {
  const block = await findBlockOnDisk(dir, cid)
  assert.ok(block !== undefined && block.length === bytes.byteLength)
  const handle = await fs.open(block.file, 'r+')
  try {
    await handle.write(bytes, 0, bytes.byteLength, block.offset)
  } finally {
    await handle.close()
  }
}

async function filesUnder(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true })
  return entries.filter(e => e.isFile()).map(e => path.join(e.parentPath ?? e.path, e.name))
}

afterEach(async () => {
  await Promise.all(open.splice(0).map(async ipfs => ipfs.stop()))
})

after(async () => {
  await Promise.all(dirs.map(async dir => fs.rm(dir, { recursive: true, force: true })))
})

describe('openIpfs with network', () => {
  test('keeps its PeerId in <dir>/peer-key (0600) across restarts', async () => {
    const dir = await tempDir()
    const first = await startNode({ dir })
    const peerId = first.network.peerId
    await first.stop()
    const again = await startNode({ dir })
    assert.equal(again.network.peerId, peerId)
    assert.equal((await fs.stat(path.join(dir, PEER_KEY_FILE))).mode & 0o777, 0o600)
    for (const addr of again.network.addrs()) {
      assert.match(addr, new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${peerId}$`))
    }
  })

  test('a wildcard listen address is announced as the interface addresses', async () => {
    const node = await startNode({ listen: ['/ip4/0.0.0.0/tcp/0'] })
    const addrs = node.network.addrs()
    assert.ok(addrs.length > 0)
    assert.ok(addrs.every(a => !a.includes('/0.0.0.0/') && a.endsWith(`/p2p/${node.network.peerId}`)), addrs.join(' '))
    assert.ok(addrs.some(a => a.startsWith('/ip4/127.0.0.1/')))
  })

  test('two peers connect, and a DAG added on A is read on B byte-identical and kept there durably', async (t) => {
    const a = await startNode()
    const dialStart = performance.now()
    const b = await startNode({ peers: a.network.addrs() })
    a.network.setMembers(b.network.addrs())
    await waitFor('A and B connected', () => b.network.peers().includes(a.network.peerId) && a.network.peers().includes(b.network.peerId))
    t.diagnostic(`start B + connect: ${(performance.now() - dialStart).toFixed(0)} ms`)

    for (const size of [MiB, 5 * MiB]) {
      const record = randomBytes(size + 7)
      const { cid } = await addCiphertext(a, [record])
      const start = performance.now()
      const read = await readFile(b, cid)
      t.diagnostic(`fetch ${(size / MiB).toFixed(0)} MiB over loopback: ${(performance.now() - start).toFixed(0)} ms`)
      assert.ok(read.equals(record))

      // B now holds every block: it reads the DAG offline, from the files on its disk.
      const { leaves } = await verifyDag(b.blockstore, cid)
      for (const c of [cid, ...leaves]) {
        assert.equal(await b.helia.blockstore.has(c), true)
        assert.ok(await findBlockOnDisk(b.dir, c), `block ${c} on B's disk`)
      }
      const offline: Uint8Array[] = []
      for (const leaf of leaves) for await (const chunk of b.helia.blockstore.get(leaf, { offline: true })) offline.push(chunk)
      assert.ok(Buffer.concat(offline).equals(record))
    }
  })

  test('deny by default: a peer not allowed cannot connect to B nor fetch from it', async () => {
    const b = await startNode()
    const { cid } = await addCiphertext(b, [randomBytes(MiB)])
    const seenByB: string[] = []
    libp2pOf(b).addEventListener('peer:connect', evt => { seenByB.push(evt.detail.toString()) })
    const stranger = await startNode({ peers: b.network.addrs(), fetchTimeoutMs: 500 })

    // Noise tells B who dials only in the handshake's last message, so the dialler may see its
    // side upgraded for a moment before B closes it: refused or closed, never usable.
    const conn = await libp2pOf(stranger).dial(libp2pOf(b).getMultiaddrs()[0]).catch(() => undefined)
    if (conn !== undefined) await waitFor('B to close the connection', () => conn.status !== 'open')
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.deepEqual(seenByB, [])
    assert.deepEqual(b.network.peers(), [])
    assert.deepEqual(stranger.network.peers(), [])
    await assert.rejects(readFile(stranger, cid), (err: unknown) => isAppError(err, 'RECORD_UNAVAILABLE'))
    assert.equal(await stranger.helia.blockstore.has(cid), false)

    // Once B admits it, it connects and can fetch; removed again, it is disconnected.
    b.network.setMembers(stranger.network.addrs())
    await waitFor('stranger admitted', () => b.network.peers().includes(stranger.network.peerId))
    assert.deepEqual(seenByB, [stranger.network.peerId])
    assert.equal((await readFile(stranger, cid)).byteLength, MiB)
    b.network.setMembers([])
    await waitFor('stranger disconnected', () => !b.network.peers().includes(stranger.network.peerId) && stranger.network.peers().length === 0)
  })

  test('a peer that restarts is reconnected without anything being called', async (t) => {
    const dirA = await tempDir()
    let a = await startNode({ dir: dirA })
    const addrA = a.network.addrs()[0]
    const b = await startNode({ peers: [addrA], minBackoffMs: 100, maxBackoffMs: 400 })
    a.network.setMembers(b.network.addrs())
    await waitFor('first connection', () => b.network.peers().includes(a.network.peerId))

    await a.stop()
    await waitFor('B sees A gone', () => !b.network.peers().includes(a.network.peerId))
    await new Promise(resolve => setTimeout(resolve, 500))
    const port = addrA.split('/')[4]
    a = await startNode({ dir: dirA, listen: [`/ip4/127.0.0.1/tcp/${port}`], peers: b.network.addrs() })
    assert.equal(a.network.addrs()[0], addrA)
    const took = await waitFor('B reconnects to A', () => b.network.peers().includes(a.network.peerId))
    t.diagnostic(`reconnected ${took.toFixed(0)} ms after A restarted`)
  })

  test('a tampered block from one peer is rejected, the good one from another is used, the bad bytes are never stored', async () => {
    const record = randomBytes(3 * MiB)
    const a = await startNode()
    const c = await startNode()
    const b = await startNode({ fetchTimeoutMs: 10_000 })
    const { cid } = await addCiphertext(a, [record])
    assert.ok((await addCiphertext(c, [record])).cid.equals(cid))
    const { leaves } = await verifyDag(a.blockstore, cid)
    const good = await onDisk(c.dir, leaves[1])
    const bad = Buffer.from(good)
    bad[12345] ^= 0xff
    await overwriteOnDisk(c.dir, leaves[1], bad)

    a.network.setMembers(b.network.addrs())
    c.network.setMembers(b.network.addrs())
    // B knows only C at first: C answers every want, one of them with the tampered bytes.
    b.network.setMembers(c.network.addrs())
    await waitFor('B connected to C', () => b.network.peers().includes(c.network.peerId))
    let done = false
    const reading = readFile(b, cid).finally(() => { done = true })
    await waitFor('C sent the good blocks', () => false, 800).catch(() => {})
    assert.equal(done, false, 'the read must still wait: C sent no valid copy of the tampered leaf')
    assert.equal(await b.helia.blockstore.has(leaves[0]), true)
    assert.equal(await b.helia.blockstore.has(leaves[1]), false)

    b.network.setMembers([...c.network.addrs(), ...a.network.addrs()])
    assert.ok((await reading).equals(record))
    assert.ok((await onDisk(b.dir, leaves[1])).equals(good))
    const badCid = CID.createV1(raw.code, await sha256.digest(bad))
    assert.equal(await b.helia.blockstore.has(badCid), false)
    for (const file of await filesUnder(blocksDir(b.dir))) {
      assert.ok(!(await fs.readFile(file)).includes(bad), `${file} holds the tampered bytes`)
    }
  })

  test('a peer forging a block bitswap accepts is quarantined and the block fetched from another peer', async () => {
    const good = randomBytes(4096)
    const a = await startNode()
    const forger = await startNode()
    const b = await startNode({ fetchTimeoutMs: 10_000 })
    const cid = (await a.helia.blockstore.put(CID.createV1(raw.code, await sha256.digest(good)), good))
    a.network.setMembers(b.network.addrs())
    forger.network.setMembers(b.network.addrs())
    b.network.setMembers(forger.network.addrs())
    await waitFor('B connected to the forger', () => b.network.peers().includes(forger.network.peerId))

    // Bitswap names a received block by hashing it with the hash its prefix names, then matches
    // wants by digest alone: an identity-hash "block" whose bytes are the wanted sha2-256 digest
    // matches, and Helia's own hash check then fails the whole fetch.
    const forge = async (): Promise<void> => {
      await new Promise(resolve => setTimeout(resolve, 150))
      const digest = cid.multihash.digest
      const block = Buffer.concat([Buffer.from([0x0a, 4, 0x01, 0x55, 0x00, 0x20, 0x12, digest.byteLength]), digest])
      const message = Buffer.concat([Buffer.from([0x1a, block.byteLength]), block])
      const stream = await libp2pOf(forger).dialProtocol(libp2pOf(b).peerId, '/ipfs/bitswap/1.2.0')
      stream.send(Buffer.concat([Buffer.from([message.byteLength]), message]))
      await stream.close()
    }
    const [helia] = await Promise.allSettled([
      (async () => { for await (const _ of b.helia.blockstore.get(cid, { signal: AbortSignal.timeout(3_000) })) { /* fails */ } })(),
      forge(),
    ])
    assert.equal(helia.status, 'rejected')
    assert.equal((helia.reason as Error).name, 'LoadBlockFailedError')
    assert.equal(await b.helia.blockstore.has(cid), false)

    // Through Ipfs.blockstore: the forger is dropped and the fetch goes on; A, admitted later,
    // answers it.
    const reading = getRawBlockVerified(b.blockstore, cid)
    await forge()
    await waitFor('the forger quarantined', () => !b.network.peers().includes(forger.network.peerId))
    b.network.setMembers([...forger.network.addrs(), ...a.network.addrs()])
    assert.ok(Buffer.from(await reading).equals(good))
    assert.ok((await onDisk(b.dir, cid)).equals(good))
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(b.network.peers().includes(forger.network.peerId), false, 'still quarantined')
  })

  test('a block no peer has fails with RECORD_UNAVAILABLE once the fetch timeout passes', async () => {
    const a = await startNode()
    const b = await startNode({ peers: a.network.addrs(), fetchTimeoutMs: 400 })
    a.network.setMembers(b.network.addrs())
    await waitFor('connected', () => b.network.peers().includes(a.network.peerId))
    const absent = CID.createV1(raw.code, await sha256.digest(randomBytes(8)))
    const start = performance.now()
    await assert.rejects(getRawBlockVerified(b.blockstore, absent), (err: unknown) => {
      assert.ok(isAppError(err, 'RECORD_UNAVAILABLE'))
      const cause = err.cause
      assert.ok(isAppError(cause, 'RECORD_UNAVAILABLE'))
      assert.match(cause.details ?? '', /no peer sent block .* within 400 ms \(1 connected/)
      return true
    })
    const took = performance.now() - start
    assert.ok(took >= 390 && took < 2_000, `took ${took} ms`)
  })

  test('a configured peer that is not a multiaddr with /p2p/ is refused at start', async () => {
    await assert.rejects(openIpfs({ dir: await tempDir(), network: { listen: [LOOPBACK], peers: ['/ip4/127.0.0.1/tcp/1'] } }),
      (err: unknown) => isAppError(err, 'STORAGE_UNAVAILABLE'))
  })
})
