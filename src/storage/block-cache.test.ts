import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { addCiphertext } from './add-ciphertext.ts'
import { BlockCache } from './block-cache.ts'
import { findBlockOnDisk } from './block-path.ts'
import { openIpfs, type Ipfs } from './open-ipfs.ts'
import { readBlockVerified, readLeaves, verifyDag } from './read-verified.ts'
import { isAppError } from '../errors.ts'

const MiB = 1_048_576

async function block(size: number): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(size))
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Uint8Array[] = []
  for await (const piece of iterable) out.push(piece)
  return Buffer.concat(out)
}

describe('the LRU', () => {
  test('never holds more bytes than its bound: the oldest blocks go first', async () => {
    const cache = new BlockCache({ maxBytes: 3000 })
    const blocks = await Promise.all([1, 2, 3, 4, 5].map(async () => block(1000)))
    for (const b of blocks) {
      cache.put(b.cid, b.bytes)
      assert.ok(cache.stats().bytes <= 3000)
    }
    assert.deepEqual(blocks.map((b) => cache.has(b.cid)), [false, false, true, true, true])
    assert.equal(cache.stats().bytes, 3000)
  })

  test('a block read is the most recently used: the least recently used one is evicted', async () => {
    const cache = new BlockCache({ maxBytes: 3000 })
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(async () => block(1000)))
    cache.put(a.cid, a.bytes)
    cache.put(b.cid, b.bytes)
    cache.put(c.cid, c.bytes)
    assert.ok(Buffer.from(cache.get(a.cid)!).equals(a.bytes))
    cache.put(d.cid, d.bytes)
    assert.deepEqual([a, b, c, d].map((x) => cache.has(x.cid)), [true, false, true, true])
    assert.deepEqual(cache.stats(), { bytes: 3000, maxBytes: 3000, hits: 1, misses: 0 })
    assert.equal(cache.get(b.cid), undefined)
    assert.equal(cache.stats().misses, 1)
  })

  test('evicts as many blocks as a large one needs, and never keeps one larger than the bound', async () => {
    const cache = new BlockCache({ maxBytes: 3000 })
    const small = await Promise.all([1, 2, 3].map(async () => block(1000)))
    for (const b of small) cache.put(b.cid, b.bytes)
    const big = await block(2500)
    cache.put(big.cid, big.bytes)
    assert.deepEqual([...small, big].map((x) => cache.has(x.cid)), [false, false, false, true])
    const huge = await block(3001)
    cache.put(huge.cid, huge.bytes)
    assert.equal(cache.has(huge.cid), false)
    assert.equal(cache.has(big.cid), true)
    assert.equal(cache.stats().bytes, 2500)
  })

  test('keeps its own copy: changing the bytes handed in does not change what it serves', async () => {
    const cache = new BlockCache({ maxBytes: 3000 })
    const b = await block(1000)
    const original = Buffer.from(b.bytes)
    cache.put(b.cid, b.bytes)
    b.bytes.fill(0)
    assert.ok(Buffer.from(cache.get(b.cid)!).equals(original))
  })

  test('0 MiB is off: nothing is kept and nothing is counted', async () => {
    const cache = new BlockCache({ maxBytes: 0 })
    const b = await block(10)
    cache.put(b.cid, b.bytes)
    assert.equal(cache.get(b.cid), undefined)
    assert.deepEqual(cache.stats(), { bytes: 0, maxBytes: 0, hits: 0, misses: 0 })
  })

  test('refuses a bound that is not a whole number of bytes', () => {
    assert.throws(() => new BlockCache({ maxBytes: -1 }), RangeError)
    assert.throws(() => new BlockCache({ maxBytes: 1.5 }), RangeError)
  })
})

describe('reading through the cache (real Helia block store)', () => {
  let dir: string
  let ipfs: Ipfs

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medledger-cache-'))
    ipfs = await openIpfs({ dir })
  })

  after(async () => {
    await ipfs?.stop()
    await fs.rm(dir, { recursive: true, force: true })
  })

  test('a second read is served from the cache, byte-identical, without touching the store', async () => {
    const input = randomBytes(3 * MiB + 17)
    const added = await addCiphertext(ipfs, [input])
    const cache = new BlockCache({ maxBytes: 16 * MiB })

    const first = await verifyDag(ipfs.blockstore, added.cid, { cache })
    assert.ok((await collect(readLeaves(ipfs.blockstore, first.leaves, { cache }))).equals(input))
    const afterFirst = cache.stats()
    // The root and four leaves went to the store once each; readLeaves found the leaves cached.
    assert.equal(afterFirst.misses, 5)
    assert.equal(afterFirst.hits, 4)
    assert.ok(afterFirst.bytes >= input.byteLength)

    // Gone from disk: only the cache can answer now.
    for await (const _ of ipfs.helia.pins.rm(added.cid)) { /* unpinned, so that the store lets them go */ }
    for (const cid of [added.cid, ...first.leaves]) await ipfs.helia.blockstore.delete(cid)
    for (const cid of [added.cid, ...first.leaves]) assert.equal(await ipfs.helia.blockstore.has(cid), false)
    const second = await verifyDag(ipfs.blockstore, added.cid, { cache })
    assert.ok((await collect(readLeaves(ipfs.blockstore, second.leaves, { cache }))).equals(input))
    assert.equal(cache.stats().hits, afterFirst.hits + 9)
    assert.equal(cache.stats().misses, afterFirst.misses)
  })

  test('a block that fails verification never enters the cache', async () => {
    const added = await addCiphertext(ipfs, [randomBytes(3 * MiB)])
    const { leaves } = await verifyDag(ipfs.blockstore, added.cid)
    const block = await findBlockOnDisk(dir, leaves[1])
    assert.ok(block !== undefined)
    const handle = await fs.open(block.file, 'r+')
    const one = new Uint8Array(1)
    await handle.read(one, 0, 1, block.offset + 777)
    one[0] ^= 0x01
    await handle.write(one, 0, 1, block.offset + 777)
    await handle.close()

    const cache = new BlockCache({ maxBytes: 16 * MiB })
    await assert.rejects(readBlockVerified(ipfs.blockstore, leaves[1], { cache }), (err: unknown) => isAppError(err, 'RECORD_INTEGRITY'))
    assert.equal(cache.has(leaves[1]), false)
    await assert.rejects(verifyDag(ipfs.blockstore, added.cid, { cache }), (err: unknown) => isAppError(err, 'RECORD_INTEGRITY'))
    assert.equal(cache.has(leaves[1]), false)
    // Still refused on the next read: nothing bad was remembered as good.
    await assert.rejects(readBlockVerified(ipfs.blockstore, leaves[1], { cache }), (err: unknown) => isAppError(err, 'RECORD_INTEGRITY'))
  })

  test('a record larger than the cache still reads whole, and the cache stays within its bound', async () => {
    const input = randomBytes(5 * MiB)
    const added = await addCiphertext(ipfs, [input])
    const cache = new BlockCache({ maxBytes: 2 * MiB })
    for (let i = 0; i < 2; i++) {
      const { leaves } = await verifyDag(ipfs.blockstore, added.cid, { cache })
      assert.ok((await collect(readLeaves(ipfs.blockstore, leaves, { cache }))).equals(input))
      assert.ok(cache.stats().bytes <= 2 * MiB)
    }
  })
})
