import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { unixfs } from '@helia/unixfs'
// The importer @helia/unixfs delegates to: its chunker and layout with small sizes give deep DAGs
// from a few KiB.
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { addFileDag, type FileDagNode } from './add-file-dag.ts'
import { LEAF_SIZE, MAX_LINKS } from './add-ciphertext.ts'
import { openIpfs, type Ipfs } from './open-ipfs.ts'
import { readLeaves, verifyDag } from './read-verified.ts'
import type { CID } from 'multiformats/cid'

let dir: string
let ipfs: Ipfs

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medledger-dag-'))
  ipfs = await openIpfs({ dir })
})

after(async () => {
  await ipfs?.stop()
  await fs.rm(dir, { recursive: true, force: true })
})

type Put = Pick<Ipfs['helia']['blockstore'], 'put'>

/** A view of the node's block store that records every put: when it started and when it ended. */
function recordingStore(): Put & { events: Array<{ type: 'start' | 'end'; cid: string }>; blocks: Map<string, Uint8Array>; inFlight: () => number } {
  const events: Array<{ type: 'start' | 'end'; cid: string }> = []
  const blocks = new Map<string, Uint8Array>()
  let inFlight = 0
  return {
    events,
    blocks,
    inFlight: () => inFlight,
    put: async (cid, bytes, options) => {
      events.push({ type: 'start', cid: cid.toString() })
      blocks.set(cid.toString(), Uint8Array.from(bytes as Uint8Array))
      inFlight++
      try {
        return await ipfs.helia.blockstore.put(cid, bytes, options)
      } finally {
        inFlight--
        events.push({ type: 'end', cid: cid.toString() })
      }
    },
  }
}

/** Splits `bytes` into pieces of random sizes up to `max`, as a network would deliver them. */
function* randomPieces(bytes: Uint8Array, max: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length;) {
    const n = 1 + Math.floor(Math.random() * max)
    yield bytes.subarray(at, at + n)
    at += n
  }
}

function allNodes(node: FileDagNode): FileDagNode[] {
  return [node, ...node.children.flatMap(allNodes)]
}

async function importerAdd(bytes: Uint8Array, layout?: { leafSize: number; maxLinks: number }): Promise<{ cid: CID; blocks: Map<string, Uint8Array> }> {
  const store = recordingStore()
  const cid = await unixfs({ blockstore: { ...ipfs.helia.blockstore, put: store.put } as never }).addByteStream([bytes], {
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: false,
    ...(layout === undefined ? {} : { chunker: fixedSize({ chunkSize: layout.leafSize }), layout: balanced({ maxChildrenPerNode: layout.maxLinks }) }),
  })
  return { cid, blocks: store.blocks }
}

describe('addFileDag', () => {
  test('makes the same blocks and root as @helia/unixfs with our settings (1 MiB leaves, 1024 links)', async () => {
    for (const size of [0, 1, 17, LEAF_SIZE - 1, LEAF_SIZE, LEAF_SIZE + 1, 3 * LEAF_SIZE + 17]) {
      const bytes = randomBytes(size)
      const expected = await importerAdd(bytes)
      const store = recordingStore()
      const { root, size: stored } = await addFileDag(randomPieces(bytes, 100_000), {
        blockstore: store, leafSize: LEAF_SIZE, maxLinks: MAX_LINKS, concurrency: 4, hasher: ipfs.hasher,
      })
      assert.equal(root.cid.toString(), expected.cid.toString(), `root of ${size} bytes`)
      assert.equal(root.cid.code, dagPb.code)
      assert.equal(stored, size)
      assert.deepEqual([...store.blocks.keys()].sort(), [...expected.blocks.keys()].sort(), `blocks of ${size} bytes`)
    }
  })

  test('a size hint (right, too small, too large, absurd) changes no block: only the first leaf\'s buffer', async () => {
    for (const size of [0, 100, 65_536 + 40, 300_000, LEAF_SIZE - 1, LEAF_SIZE + 5, 2 * LEAF_SIZE + 3]) {
      const bytes = randomBytes(size)
      const expected = await importerAdd(bytes)
      for (const sizeHint of [size, Math.floor(size / 3), size + 70_000, 0, -5, Number.NaN]) {
        const store = recordingStore()
        const { root, size: stored } = await addFileDag(randomPieces(bytes, 50_000), {
          blockstore: store, leafSize: LEAF_SIZE, maxLinks: MAX_LINKS, concurrency: 4, hasher: ipfs.hasher, sizeHint,
        })
        assert.equal(root.cid.toString(), expected.cid.toString(), `root of ${size} bytes, hint ${sizeHint}`)
        assert.equal(stored, size)
        assert.deepEqual([...store.blocks.keys()].sort(), [...expected.blocks.keys()].sort(), `blocks of ${size} bytes, hint ${sizeHint}`)
        for (const [cid, block] of store.blocks) if (expected.blocks.has(cid)) assert.ok(Buffer.from(block).equals(Buffer.from(expected.blocks.get(cid)!)), `block ${cid}`)
      }
    }
  })

  test('makes the same deep DAGs as the importer\'s balanced layout', async () => {
    const leafSize = 1024
    const maxLinks = 4
    for (const leaves of [1, 3, 4, 5, 15, 16, 17, 64, 65, 70]) {
      for (const extra of [0, 1]) {
        const bytes = randomBytes(leaves * leafSize + extra)
        const expected = await importerAdd(bytes, { leafSize, maxLinks })
        const { root } = await addFileDag(randomPieces(bytes, 3000), { blockstore: recordingStore(), leafSize, maxLinks, concurrency: 3 })
        assert.equal(root.cid.toString(), expected.cid.toString(), `${leaves} leaves + ${extra}`)
        assert.deepEqual(allNodes(root).map(n => n.cid.toString()).sort(), [...expected.blocks.keys()].sort())
      }
    }
  })

  test('stores bytes that read back intact, whatever pieces they came in', async () => {
    const bytes = randomBytes(5 * LEAF_SIZE + 12345)
    const { root } = await addFileDag(randomPieces(bytes, 70_000), {
      blockstore: ipfs.helia.blockstore, leafSize: LEAF_SIZE, maxLinks: MAX_LINKS, concurrency: 3, hasher: ipfs.hasher,
    })
    const { leaves, size } = await verifyDag(ipfs.blockstore, root.cid)
    assert.equal(size, bytes.length)
    const read: Uint8Array[] = []
    for await (const piece of readLeaves(ipfs.blockstore, leaves)) read.push(piece)
    assert.ok(Buffer.concat(read).equals(bytes))
  })

  test('writes a node only once every block under it is stored, and the root last', async () => {
    const store = recordingStore()
    const { root } = await addFileDag(randomPieces(randomBytes(40 * 1024 + 9), 5000), { blockstore: store, leafSize: 1024, maxLinks: 4, concurrency: 8 })
    const at = (type: 'start' | 'end', cid: CID): number => store.events.findIndex(e => e.type === type && e.cid === cid.toString())
    const check = (node: FileDagNode): void => {
      for (const child of node.children) {
        assert.ok(at('end', child.cid) < at('start', node.cid), `${child.cid} stored before its parent ${node.cid} is written`)
        check(child)
      }
    }
    check(root)
    assert.equal(store.events.at(-2)?.cid, root.cid.toString())
    assert.equal(store.events.at(-1)?.cid, root.cid.toString())
  })

  test('keeps at most `concurrency` leaves in flight', async () => {
    let most = 0
    const store = recordingStore()
    const put: Put['put'] = async (cid, bytes, options) => {
      most = Math.max(most, store.inFlight() + 1)
      return store.put(cid, bytes, options)
    }
    await addFileDag([randomBytes(20 * 4096)], { blockstore: { put }, leafSize: 4096, maxLinks: 1024, concurrency: 3 })
    assert.ok(most <= 3, `${most} puts at once`)
  })

  test('a failing write rejects with its error and leaves no write running', async () => {
    const store = recordingStore()
    let puts = 0
    const put: Put['put'] = async (cid, bytes, options) => {
      if (++puts === 5) throw new Error('disk on fire')
      return store.put(cid, bytes, options)
    }
    async function * source (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 200; i++) yield randomBytes(4096)
    }
    await assert.rejects(addFileDag(source(), { blockstore: { put }, leafSize: 4096, maxLinks: 1024, concurrency: 4 }), /disk on fire/)
    assert.equal(store.inFlight(), 0)
    assert.ok(puts < 200, `the source was not read to the end after the failure (${puts} puts)`)
  })

  test('an abort rejects with its reason, stops reading the source and leaves no write running', async () => {
    const controller = new AbortController()
    const store = recordingStore()
    let read = 0
    async function * source (): AsyncGenerator<Uint8Array> {
      for (; read < 1000; read++) {
        if (read === 10) controller.abort(new Error('user gave up'))
        yield randomBytes(4096)
      }
    }
    await assert.rejects(addFileDag(source(), { blockstore: store, leafSize: 4096, maxLinks: 1024, concurrency: 4, signal: controller.signal }), /user gave up/)
    assert.ok(read < 20)
    assert.equal(store.inFlight(), 0)
  })

  test('an error in the source is passed on once the writes under way have ended', async () => {
    const store = recordingStore()
    async function * source (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 6; i++) yield randomBytes(4096)
      throw new Error('upstream broke')
    }
    await assert.rejects(addFileDag(source(), { blockstore: store, leafSize: 4096, maxLinks: 1024, concurrency: 4, hasher: ipfs.hasher }), /upstream broke/)
    assert.equal(store.inFlight(), 0)
  })
})
