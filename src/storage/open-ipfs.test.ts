import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, test } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { addCiphertext } from './add-ciphertext.ts'
import { openIpfs } from './open-ipfs.ts'
import { pinRecursively } from './pin-recursively.ts'
import { getRawBlockVerified, putRawBlock } from './raw-block.ts'
import { readLeaves, verifyDag } from './read-verified.ts'
import { isAppError } from '../errors.ts'

const MiB = 1_048_576

let dir: string

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medledger-ipfs-'))
})

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

async function filesUnder(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true })
  return entries.filter(e => e.isFile()).map(e => path.join(e.parentPath ?? e.path, e.name))
}

describe('openIpfs', () => {
  test('a reopened store still has the records, the raw blocks and their pins', async () => {
    const record = randomBytes(2 * MiB + 9)
    const envelope = randomBytes(300)
    const first = await openIpfs({ dir })
    const added = await addCiphertext(first, [record])
    const envelopeCid = await putRawBlock(first, envelope)
    const { leaves } = await verifyDag(first.blockstore, added.cid)
    await first.stop()

    const again = await openIpfs({ dir })
    try {
      const verified = await verifyDag(again.blockstore, added.cid)
      assert.equal(verified.size, record.byteLength)
      const read: Uint8Array[] = []
      for await (const piece of readLeaves(again.blockstore, verified.leaves)) read.push(piece)
      assert.ok(Buffer.concat(read).equals(record))
      assert.ok(Buffer.from(await getRawBlockVerified(again.blockstore, envelopeCid)).equals(envelope))

      for (const cid of [added.cid, ...leaves, envelopeCid]) assert.equal(await again.helia.pins.isPinned(cid), true)
      const pinned: string[] = []
      for await (const pin of again.helia.pins.ls()) pinned.push(pin.cid.toString())
      assert.deepEqual(pinned.sort(), [added.cid.toString(), envelopeCid.toString()].sort())
    } finally {
      await again.stop()
    }
  })

  test('nothing reaches for the network: no socket, no DNS, no HTTP', async () => {
    const seen: string[] = []
    const channels = ['net.client.socket', 'udp.socket', 'http.client.request.start', 'undici:request:create']
    const listeners = channels.map(name => {
      const listener = (): void => { seen.push(name) }
      diagnostics.subscribe(name, listener)
      return { name, listener }
    })
    try {
      const ipfs = await openIpfs({ dir })
      const { cid } = await addCiphertext(ipfs, [randomBytes(MiB + 1)])
      await verifyDag(ipfs.blockstore, cid)
      // A block this node does not have: with peering this would go to the network.
      const absent = CID.createV1(raw.code, await sha256.digest(randomBytes(8)))
      await assert.rejects(getRawBlockVerified(ipfs.blockstore, absent), (err: unknown) => isAppError(err, 'RECORD_UNAVAILABLE'))
      const handles = process.getActiveResourcesInfo().filter(r => /TCP|UDP|GetAddrInfo|QueryReqWrap/i.test(r))
      assert.deepEqual(handles, [])
      await ipfs.stop()
    } finally {
      for (const { name, listener } of listeners) diagnostics.unsubscribe(name, listener)
    }
    assert.deepEqual(seen, [])
  })

  test('writes leave no temp files behind, and blocks sit where blockFilePath says', async () => {
    const ipfs = await openIpfs({ dir })
    await Promise.all([
      addCiphertext(ipfs, [randomBytes(3 * MiB)]),
      addCiphertext(ipfs, [randomBytes(MiB / 2)]),
      putRawBlock(ipfs, randomBytes(40)),
    ])
    await ipfs.stop()
    const files = await filesUnder(dir)
    assert.deepEqual(files.filter(f => f.endsWith('.tmp')), [])
    assert.ok(files.some(f => f.startsWith(path.join(dir, 'blocks'))))
    assert.ok(files.some(f => f.startsWith(path.join(dir, 'datastore', 'pin'))))
  })

  test('concurrent puts of one block all succeed and leave it intact', async () => {
    const ipfs = await openIpfs({ dir })
    try {
      const bytes = randomBytes(MiB)
      const cid = CID.createV1(raw.code, await sha256.digest(bytes))
      await Promise.all(Array.from({ length: 8 }, async () => ipfs.helia.blockstore.put(cid, bytes)))
      assert.ok(Buffer.from(await getRawBlockVerified(ipfs.blockstore, cid)).equals(bytes))
    } finally {
      await ipfs.stop()
    }
  })

  test('an empty pin entry left by a crash mid-pin does not stop the DAG being pinned later', async () => {
    const ipfs = await openIpfs({ dir })
    try {
      const { cid } = await addCiphertext(ipfs, [randomBytes(2 * MiB)], { pin: false })
      const { leaves } = await verifyDag(ipfs.blockstore, cid)
      const entry = path.join(dir, 'datastore', 'pinned-block', `${base36.encode(leaves[0].multihash.bytes)}.data`)
      await fs.mkdir(path.dirname(entry), { recursive: true })
      await fs.writeFile(entry, new Uint8Array(0))

      await pinRecursively(ipfs.helia.pins, cid)
      for (const c of [cid, ...leaves]) assert.equal(await ipfs.helia.pins.isPinned(c), true)
      assert.ok((await fs.stat(entry)).size > 0)
    } finally {
      await ipfs.stop()
    }
  })

  test('pinning covers every block of a two-level DAG', async () => {
    const ipfs = await openIpfs({ dir })
    try {
      const put = async (cid: CID, bytes: Uint8Array): Promise<CID> => { await ipfs.helia.blockstore.put(cid, bytes); return cid }
      const leaf = async (bytes: Uint8Array): Promise<CID> => put(CID.createV1(raw.code, await sha256.digest(bytes)), bytes)
      const node = async (links: Array<{ cid: CID; size: number }>): Promise<CID> => {
        const bytes = dagPb.encode(dagPb.prepare({
          Data: new UnixFS({ type: 'file', blockSizes: links.map(l => BigInt(l.size)) }).marshal(),
          Links: links.map(l => ({ Hash: l.cid, Tsize: l.size, Name: '' })),
        }))
        return put(CID.createV1(dagPb.code, await sha256.digest(bytes)), bytes)
      }
      const leaves = await Promise.all([leaf(randomBytes(10)), leaf(randomBytes(20)), leaf(randomBytes(30))])
      const inner = [await node([{ cid: leaves[0], size: 10 }, { cid: leaves[1], size: 20 }]), await node([{ cid: leaves[2], size: 30 }])]
      const root = await node([{ cid: inner[0], size: 30 }, { cid: inner[1], size: 30 }])

      await pinRecursively(ipfs.helia.pins, root)
      for (const c of [root, ...inner, ...leaves]) assert.equal(await ipfs.helia.pins.isPinned(c), true)
    } finally {
      await ipfs.stop()
    }
  })

  test('pinning a DAG with a missing leaf fails with RECORD_UNAVAILABLE and records no pin', async () => {
    const ipfs = await openIpfs({ dir })
    try {
      const { cid } = await addCiphertext(ipfs, [randomBytes(2 * MiB)], { pin: false })
      const { leaves } = await verifyDag(ipfs.blockstore, cid)
      await ipfs.helia.blockstore.delete(leaves[1])
      await assert.rejects(pinRecursively(ipfs.helia.pins, cid), (err: unknown) => isAppError(err, 'RECORD_UNAVAILABLE'))
      for (const c of [cid, leaves[0]]) assert.equal(await ipfs.helia.pins.isPinned(c), false)
      await assert.rejects(ipfs.helia.pins.get(cid), { name: 'NotFoundError' })
    } finally {
      await ipfs.stop()
    }
  })

  test('stop can be called twice', async () => {
    const ipfs = await openIpfs({ dir })
    await ipfs.stop()
    await ipfs.stop()
    assert.equal(ipfs.helia.status, 'stopped')
  })

  test('an aborted signal stops openIpfs', async () => {
    await assert.rejects(openIpfs({ dir, signal: AbortSignal.abort() }), { name: 'AbortError' })
  })

  test('a folder that cannot be used is STORAGE_UNAVAILABLE', async () => {
    const file = path.join(dir, 'not-a-folder')
    await fs.writeFile(file, 'x')
    await assert.rejects(openIpfs({ dir: file }), (err: unknown) => isAppError(err, 'STORAGE_UNAVAILABLE'))
  })
})
