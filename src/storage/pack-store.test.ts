import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { blockSharding } from './block-path.ts'
import { DurableFsBlockstore } from './durable-fs.ts'
import { findInPacks, PACK_HEADER_BYTES, PackStore } from './pack-store.ts'

const KiB = 1024

let dir: string
beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medledger-packs-')) })
afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }) })

async function block(size: number): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(size))
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

async function read(store: DurableFsBlockstore, cid: CID): Promise<Buffer> {
  const pieces: Uint8Array[] = []
  for await (const piece of store.get(cid)) pieces.push(piece)
  return Buffer.concat(pieces)
}

/** The packs' folder copied as it is on disk now, with the store still open (what a crash leaves). */
async function copyAsCrashed(from: string): Promise<string> {
  const to = path.join(dir, `crashed-${randomBytes(4).toString('hex')}`)
  await fs.cp(from, to, { recursive: true })
  return to
}

describe('PackStore', () => {
  test('blocks come back after a reopen; a deleted block stays deleted and its bytes are zeroed on disk', async () => {
    const packs = path.join(dir, 'packs')
    const store = new PackStore(packs)
    await store.open()
    const blocks = await Promise.all(Array.from({ length: 12 }, async () => block(300 * KiB)))
    await Promise.all(blocks.map(async b => store.put(b.cid, b.bytes)))
    const gone = blocks[5]
    const place = await findInPacks(packs, gone.cid.multihash.bytes)
    assert.ok(place !== undefined)
    assert.equal(await store.delete(gone.cid), true)
    assert.equal(await store.has(gone.cid), false)
    assert.equal(await store.get(gone.cid), undefined)
    await store.close()

    const onDisk = await fs.readFile(place.file)
    assert.ok(onDisk.subarray(place.offset, place.offset + place.length).every(b => b === 0), 'the deleted block\'s bytes are zeros')

    const again = new PackStore(packs)
    await again.open()
    for (const b of blocks) {
      if (b === gone) assert.equal(await again.has(b.cid), false)
      else assert.ok(Buffer.from((await again.get(b.cid))!).equals(b.bytes))
    }
    // A block put again after its delete is live again.
    await again.put(gone.cid, gone.bytes)
    assert.ok(Buffer.from((await again.get(gone.cid))!).equals(gone.bytes))
    await again.close()
  })

  test('a pack left unsealed by a crash keeps every acknowledged block and is cut at a torn tail', async () => {
    const packs = path.join(dir, 'packs')
    const store = new PackStore(packs)
    await store.open()
    const blocks = await Promise.all(Array.from({ length: 6 }, async () => block(260 * KiB)))
    for (const b of blocks) await store.put(b.cid, b.bytes)

    // A crash in the middle of the next put: its header is on disk, its bytes only half.
    const crashed = await copyAsCrashed(packs)
    const [pack] = await fs.readdir(crashed)
    const torn = await block(260 * KiB)
    const header = (await fs.readFile(path.join(packs, pack))).subarray(0, PACK_HEADER_BYTES)
    const tornHeader = Buffer.from(header)
    tornHeader.set(torn.cid.multihash.bytes, 12)
    await fs.appendFile(path.join(crashed, pack), Buffer.concat([tornHeader, torn.bytes.subarray(0, 1000)]))
    // And a second copy where the last block's bytes are garbage although its length is whole.
    const garbled = await copyAsCrashed(packs)
    const lastPlace = (await findInPacks(garbled, blocks[5].cid.multihash.bytes))!
    const handle = await fs.open(path.join(garbled, pack), 'r+')
    await handle.write(new Uint8Array(100).fill(7), 0, 100, lastPlace.offset + 50)
    await handle.close()
    await store.close()

    const recovered = new PackStore(crashed)
    await recovered.open()
    for (const b of blocks) assert.ok(Buffer.from((await recovered.get(b.cid))!).equals(b.bytes))
    assert.equal(await recovered.has(torn.cid), false)
    // Cut and sealed: the next open reads it as it is, and new puts go to a new pack.
    const next = await block(300 * KiB)
    await recovered.put(next.cid, next.bytes)
    await recovered.close()
    assert.deepEqual((await fs.readdir(crashed)).sort(), ['000001.pack', '000002.pack'])
    const reopened = new PackStore(crashed)
    await reopened.open()
    for (const b of [...blocks, next]) assert.ok(Buffer.from((await reopened.get(b.cid))!).equals(b.bytes))
    await reopened.close()

    const fromGarbled = new PackStore(garbled)
    await fromGarbled.open()
    for (const b of blocks.slice(0, 5)) assert.ok(Buffer.from((await fromGarbled.get(b.cid))!).equals(b.bytes))
    assert.equal(await fromGarbled.has(blocks[5].cid), false, 'a block that does not hash to its name is cut, not served')
    await fromGarbled.close()
  })

  test('read-only (a store several processes share): an unsealed pack is served as it is and left unchanged; nothing is appended', async () => {
    const packs = path.join(dir, 'packs')
    const writer = new PackStore(packs)
    await writer.open()
    const blocks = await Promise.all(Array.from({ length: 3 }, async () => block(300 * KiB)))
    for (const b of blocks) await writer.put(b.cid, b.bytes)
    // Another process opens the folder while the writer's pack is still open (unsealed).
    const [pack] = await fs.readdir(packs)
    const before = await fs.readFile(path.join(packs, pack))
    const reader = new PackStore(packs, { readOnly: true })
    await reader.open()
    for (const b of blocks) assert.ok(Buffer.from((await reader.get(b.cid))!).equals(b.bytes))
    await assert.rejects(reader.put(blocks[0].cid, blocks[0].bytes), /read-only/)
    await reader.close()
    assert.ok((await fs.readFile(path.join(packs, pack))).equals(before), 'the open pack was not cut, sealed or appended to')
    assert.deepEqual(await fs.readdir(packs), [pack])
    await writer.close()
  })

  test('a full pack is sealed and the next one started; every block reads from either', async () => {
    const packs = path.join(dir, 'packs')
    const store = new PackStore(packs, { maxPackBytes: 1024 * KiB })
    await store.open()
    const blocks = await Promise.all(Array.from({ length: 10 }, async () => block(300 * KiB)))
    await Promise.all(blocks.map(async b => store.put(b.cid, b.bytes)))
    await store.close()
    const names = (await fs.readdir(packs)).sort()
    assert.ok(names.length >= 3, `${names.length} packs`)
    const again = new PackStore(packs, { maxPackBytes: 1024 * KiB })
    await again.open()
    for (const b of blocks) assert.ok(Buffer.from((await again.get(b.cid))!).equals(b.bytes))
    await again.close()
  })
})

describe('DurableFsBlockstore with packs', () => {
  test('large blocks go to packs, small ones to files; a store written without packs reads as before', async () => {
    const location = path.join(dir, 'blocks')
    const old = new DurableFsBlockstore(location, { sharding: blockSharding, packMinBytes: Infinity })
    await old.open()
    const oldLarge = await block(1024 * KiB)
    await old.put(oldLarge.cid, oldLarge.bytes)
    await old.close()
    assert.equal(await findInPacks(path.join(location, 'packs'), oldLarge.cid.multihash.bytes), undefined)

    const store = new DurableFsBlockstore(location, { sharding: blockSharding })
    await store.open()
    const large = await block(1024 * KiB)
    const small = await block(10 * KiB)
    await store.put(large.cid, large.bytes)
    await store.put(small.cid, small.bytes)
    assert.ok(await findInPacks(path.join(location, 'packs'), large.cid.multihash.bytes))
    await fs.access(path.join(location, blockSharding.encode(small.cid).dir, blockSharding.encode(small.cid).file))
    for (const b of [oldLarge, large, small]) {
      assert.equal(await store.has(b.cid), true)
      assert.ok((await read(store, b.cid)).equals(b.bytes))
    }
    const listed = new Set<string>()
    for await (const { cid } of store.getAll()) listed.add(Buffer.from(cid.multihash.bytes).toString('hex'))
    for (const b of [oldLarge, large, small]) assert.ok(listed.has(Buffer.from(b.cid.multihash.bytes).toString('hex')))

    // A store without packs (openIpfs's `packs: false`) puts a large block in a file of its own,
    // and still reads the packed ones.
    const unpacked = new DurableFsBlockstore(location, { sharding: blockSharding, packMinBytes: Infinity })
    await unpacked.open()
    const alone = await block(1024 * KiB)
    await unpacked.put(alone.cid, alone.bytes)
    await fs.access(path.join(location, blockSharding.encode(alone.cid).dir, blockSharding.encode(alone.cid).file))
    assert.ok((await read(unpacked, large.cid)).equals(large.bytes))
    await unpacked.close()

    for (const b of [oldLarge, large, small]) await store.delete(b.cid)
    for (const b of [oldLarge, large, small]) assert.equal(await store.has(b.cid), false)
    await assert.rejects(read(store, large.cid), { name: 'NotFoundError' })
    await store.close()
  })
})
