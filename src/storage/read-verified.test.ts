import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { addCiphertext, LEAF_SIZE } from './add-ciphertext.ts'
import { findBlockOnDisk } from './block-path.ts'
import { openIpfs } from './open-ipfs.ts'
import { cidFromDigest, digestFromCid, readLeaves, verifyDag } from './read-verified.ts'
import { isAppError } from '../errors.ts'
import type { Ipfs } from './open-ipfs.ts'

const MiB = 1_048_576

let dir: string
let ipfs: Ipfs

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medledger-read-'))
  ipfs = await openIpfs({ dir })
})

after(async () => {
  await ipfs?.stop()
  await fs.rm(dir, { recursive: true, force: true })
})

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const piece of iterable) out.push(piece)
  return out
}

/** Yields `bytes` in pieces of `size`, as a network or cipher stream would. */
async function * pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) yield bytes.subarray(offset, offset + size)
}

/** Flips one bit of block `cid`'s byte `at` where it lies on disk (its file, or its range of a pack). */
async function flipByte(cid: CID, at: number): Promise<void> {
  const block = await findBlockOnDisk(dir, cid)
  assert.ok(block !== undefined && at < block.length)
  const handle = await fs.open(block.file, 'r+')
  try {
    const one = new Uint8Array(1)
    await handle.read(one, 0, 1, block.offset + at)
    one[0] ^= 0x01
    await handle.write(one, 0, 1, block.offset + at)
  } finally {
    await handle.close()
  }
}

function code(err: unknown): string | undefined {
  return isAppError(err) ? err.code : (err as Error)?.name
}

describe('round trip', () => {
  for (const size of [0, 1, MiB - 1, MiB, MiB + 1, 5 * MiB + 3]) {
    test(`${size} bytes come back identical from a dag-pb root named by the digest`, async () => {
      const input = randomBytes(size)
      const added = await addCiphertext(ipfs, pieces(input, 64 * 1024))

      assert.equal(added.size, size)
      assert.equal(added.cid.version, 1)
      assert.equal(added.cid.code, dagPb.code)
      assert.equal(added.cid.multihash.code, sha256.code)
      assert.equal(added.digest.byteLength, 32)
      assert.ok(cidFromDigest(added.digest, 'dag').equals(added.cid))

      const { leaves, size: verifiedSize } = await verifyDag(ipfs.blockstore, cidFromDigest(added.digest, 'dag'))
      assert.equal(verifiedSize, size)
      assert.equal(leaves.length, Math.ceil(size / LEAF_SIZE))
      assert.ok(leaves.every(leaf => leaf.code === raw.code && leaf.version === 1))

      const read = await collect(readLeaves(ipfs.blockstore, leaves))
      // One piece per leaf, each a full 1 MiB but the last: the fixed layout the digest names.
      assert.deepEqual(read.map(p => p.byteLength), leaves.map((_, i) => Math.min(LEAF_SIZE, size - i * LEAF_SIZE)))
      assert.ok(Buffer.concat(read).equals(input))
    })
  }

  test('the same bytes give the same root however the stream is cut', async () => {
    const input = randomBytes(2 * MiB + 5)
    const a = await addCiphertext(ipfs, [input])
    const b = await addCiphertext(ipfs, pieces(input, 1000))
    const c = await addCiphertext(ipfs, pieces(input, MiB))
    assert.ok(a.cid.equals(b.cid))
    assert.ok(a.cid.equals(c.cid))
  })
})

describe('tampering', () => {
  test('a flipped byte in a leaf file fails verifyDag with RECORD_INTEGRITY', async () => {
    const added = await addCiphertext(ipfs, [randomBytes(3 * MiB)])
    const { leaves } = await verifyDag(ipfs.blockstore, added.cid)
    await flipByte(leaves[1], 12345)

    await assert.rejects(verifyDag(ipfs.blockstore, added.cid), (err: unknown) => {
      assert.equal(code(err), 'RECORD_INTEGRITY')
      assert.match((err as { details: string }).details, new RegExp(leaves[1].toString()))
      return true
    })
  })

  test('a flipped byte in the root file fails verifyDag with RECORD_INTEGRITY', async () => {
    const added = await addCiphertext(ipfs, [randomBytes(2 * MiB)])
    await flipByte(added.cid, 3)
    await assert.rejects(verifyDag(ipfs.blockstore, added.cid), (err: unknown) => code(err) === 'RECORD_INTEGRITY')
  })

  test('a deleted leaf fails verifyDag with RECORD_UNAVAILABLE', async () => {
    const added = await addCiphertext(ipfs, [randomBytes(2 * MiB)])
    const { leaves } = await verifyDag(ipfs.blockstore, added.cid)
    // A 1 MiB leaf lies in a pack: deleted through the store (its bytes zeroed on disk).
    assert.equal((await findBlockOnDisk(dir, leaves[0]))?.packed, true)
    for await (const _ of ipfs.helia.pins.rm(added.cid)) { /* unpinned, so that the store lets it go */ }
    await ipfs.helia.blockstore.delete(leaves[0])
    assert.equal(await findBlockOnDisk(dir, leaves[0]), undefined)
    await assert.rejects(verifyDag(ipfs.blockstore, added.cid), (err: unknown) => code(err) === 'RECORD_UNAVAILABLE')
  })

  test('a truncated leaf (its pack cut short) fails with RECORD_INTEGRITY', async () => {
    const added = await addCiphertext(ipfs, [randomBytes(MiB + 10)])
    const { leaves } = await verifyDag(ipfs.blockstore, added.cid)
    const block = await findBlockOnDisk(dir, leaves[0])
    assert.ok(block?.packed === true)
    await fs.truncate(block.file, block.offset + 100)
    await assert.rejects(verifyDag(ipfs.blockstore, added.cid), (err: unknown) => code(err) === 'RECORD_INTEGRITY')
  })

  test('a leaf changed after verifyDag is caught by readLeaves before it is yielded', async () => {
    const input = randomBytes(3 * MiB)
    const added = await addCiphertext(ipfs, [input])
    const { leaves } = await verifyDag(ipfs.blockstore, added.cid)
    await flipByte(leaves[2], 0)

    const yielded: Uint8Array[] = []
    await assert.rejects(async () => {
      for await (const piece of readLeaves(ipfs.blockstore, leaves)) yielded.push(piece)
    }, (err: unknown) => code(err) === 'RECORD_INTEGRITY')
    assert.equal(yielded.length, 2)
    assert.ok(Buffer.concat(yielded).equals(input.subarray(0, 2 * MiB)))
  })

  test('a leaf whose bytes were swapped with another valid block fails', async () => {
    const added = await addCiphertext(ipfs, [randomBytes(2 * MiB)])
    const { leaves } = await verifyDag(ipfs.blockstore, added.cid)
    const [from, to] = await Promise.all([findBlockOnDisk(dir, leaves[1]), findBlockOnDisk(dir, leaves[0])])
    assert.ok(from !== undefined && to !== undefined && from.length === to.length)
    const bytes = new Uint8Array(from.length)
    const handle = await fs.open(from.file, 'r+')
    await handle.read(bytes, 0, from.length, from.offset)
    await handle.write(bytes, 0, to.length, to.offset)
    await handle.close()
    await assert.rejects(verifyDag(ipfs.blockstore, added.cid), (err: unknown) => code(err) === 'RECORD_INTEGRITY')
  })
})

describe('structure', () => {
  async function putNode(node: dagPb.PBNode): Promise<CID> {
    const bytes = dagPb.encode(dagPb.prepare(node))
    const cid = CID.createV1(dagPb.code, await sha256.digest(bytes))
    await ipfs.helia.blockstore.put(cid, bytes)
    return cid
  }

  test('a well-hashed DAG that is not a UnixFS file is RECORD_INTEGRITY', async () => {
    const root = await putNode({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [] })
    await assert.rejects(verifyDag(ipfs.blockstore, root), (err: unknown) => code(err) === 'RECORD_INTEGRITY')
  })

  test('a root carrying inline data (which readLeaves would not return) is RECORD_INTEGRITY', async () => {
    const root = await putNode({ Data: new UnixFS({ type: 'file', data: Uint8Array.of(1, 2, 3) }).marshal(), Links: [] })
    await assert.rejects(verifyDag(ipfs.blockstore, root), (err: unknown) => code(err) === 'RECORD_INTEGRITY')
  })

  test('a root whose block sizes disagree with its leaves is RECORD_INTEGRITY', async () => {
    const added = await addCiphertext(ipfs, [randomBytes(100)])
    const { leaves } = await verifyDag(ipfs.blockstore, added.cid)
    const file = new UnixFS({ type: 'file', blockSizes: [99n] })
    const root = await putNode({ Data: file.marshal(), Links: [{ Hash: leaves[0], Tsize: 100, Name: '' }] })
    await assert.rejects(verifyDag(ipfs.blockstore, root), (err: unknown) => code(err) === 'RECORD_INTEGRITY')
  })

  async function putLeaf(bytes: Uint8Array): Promise<CID> {
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await ipfs.helia.blockstore.put(cid, bytes)
    return cid
  }

  async function putFileNode(children: Array<{ cid: CID; size: number }>): Promise<CID> {
    const file = new UnixFS({ type: 'file', blockSizes: children.map(c => BigInt(c.size)) })
    return putNode({ Data: file.marshal(), Links: children.map(c => ({ Hash: c.cid, Tsize: c.size, Name: '' })) })
  }

  test('a two-level DAG (what a record over 1 GiB becomes) is walked in file order', async () => {
    const parts = [randomBytes(1000), randomBytes(2000), randomBytes(3000), randomBytes(10)]
    const leaves = await Promise.all(parts.map(putLeaf))
    const left = await putFileNode([{ cid: leaves[0], size: 1000 }, { cid: leaves[1], size: 2000 }])
    const right = await putFileNode([{ cid: leaves[2], size: 3000 }, { cid: leaves[3], size: 10 }])
    const root = await putFileNode([{ cid: left, size: 3000 }, { cid: right, size: 3010 }])

    const verified = await verifyDag(ipfs.blockstore, root)
    assert.equal(verified.size, 6010)
    assert.deepEqual(verified.leaves.map(String), leaves.map(String))
    const read = await collect(readLeaves(ipfs.blockstore, verified.leaves))
    assert.ok(Buffer.concat(read).equals(Buffer.concat(parts)))
  })

  test('an inner node whose size disagrees with its parent is RECORD_INTEGRITY', async () => {
    const leaf = await putLeaf(randomBytes(500))
    const inner = await putFileNode([{ cid: leaf, size: 500 }])
    const root = await putFileNode([{ cid: inner, size: 501 }])
    await assert.rejects(verifyDag(ipfs.blockstore, root), (err: unknown) => code(err) === 'RECORD_INTEGRITY')
  })

  test('verifyDag refuses a root that is not CIDv1 dag-pb sha2-256', async () => {
    const added = await addCiphertext(ipfs, [randomBytes(10)])
    const asRaw = CID.createV1(raw.code, added.cid.multihash)
    await assert.rejects(verifyDag(ipfs.blockstore, asRaw), (err: unknown) => code(err) === 'INVALID_CID')
    await assert.rejects(verifyDag(ipfs.blockstore, added.cid.toV0()), (err: unknown) => code(err) === 'INVALID_CID')
  })
})

describe('digests and CIDs', () => {
  test('cidFromDigest and digestFromCid are inverse for both kinds', () => {
    const digest = randomBytes(32)
    for (const kind of ['dag', 'raw'] as const) {
      const cid = cidFromDigest(digest, kind)
      assert.equal(cid.version, 1)
      assert.equal(cid.code, kind === 'dag' ? dagPb.code : raw.code)
      assert.ok(Buffer.from(digestFromCid(cid)).equals(digest))
      assert.ok(CID.parse(cid.toString()).equals(cid))
    }
  })

  test('a digest that is not 32 bytes is INVALID_CID', () => {
    assert.throws(() => cidFromDigest(new Uint8Array(31), 'dag'), (err: unknown) => code(err) === 'INVALID_CID')
    assert.throws(() => cidFromDigest(new Uint8Array(33), 'raw'), (err: unknown) => code(err) === 'INVALID_CID')
  })

  test('digestFromCid refuses CIDv0 and other hashes', () => {
    const v0 = CID.parse('QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH')
    assert.throws(() => digestFromCid(v0), (err: unknown) => code(err) === 'INVALID_CID')
    const identity = CID.parse('bafkqaaa')
    assert.throws(() => digestFromCid(identity), (err: unknown) => code(err) === 'INVALID_CID')
  })

  test('the digest returned is a copy', () => {
    const cid = cidFromDigest(new Uint8Array(32), 'raw')
    digestFromCid(cid)[0] = 1
    assert.equal(cid.multihash.digest[0], 0)
  })
})

describe('abort', () => {
  test('verifyDag and readLeaves stop on an aborted signal', async () => {
    const added = await addCiphertext(ipfs, [randomBytes(2 * MiB)])
    const { leaves } = await verifyDag(ipfs.blockstore, added.cid)
    const signal = AbortSignal.abort()
    await assert.rejects(verifyDag(ipfs.blockstore, added.cid, { signal }), { name: 'AbortError' })
    await assert.rejects(collect(readLeaves(ipfs.blockstore, leaves, { signal })), { name: 'AbortError' })
  })
})
