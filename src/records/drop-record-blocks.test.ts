import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { bytesToHex } from 'viem'
import { addCiphertext } from '../storage/add-ciphertext.ts'
import { BlockCache } from '../storage/block-cache.ts'
import { openIpfs, type Ipfs } from '../storage/open-ipfs.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid, verifyDag } from '../storage/read-verified.ts'
import { dropRecordBlocks } from './drop-record-blocks.ts'

let dir: string
let ipfs: Ipfs

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medledger-drop-'))
  ipfs = await openIpfs({ dir })
})

after(async () => {
  await ipfs?.stop()
  await fs.rm(dir, { recursive: true, force: true })
})

test('dropRecordBlocks unpins and deletes every block of one record, cached copies too, and leaves another record alone', async () => {
  const add = async () => {
    const { cid } = await addCiphertext(ipfs, [randomBytes(2 * 1_048_576 + 5)])
    const env = await putRawBlock(ipfs, randomBytes(300))
    return { cid, env, digest: bytesToHex(digestFromCid(cid)), envelopes: bytesToHex(digestFromCid(env)) }
  }
  const gone = await add()
  const kept = await add()
  const blockCache = new BlockCache({ maxBytes: 8 * 1_048_576 })
  const { leaves } = await verifyDag(ipfs.blockstore, gone.cid, { cache: blockCache })
  assert.ok(blockCache.has(gone.cid))
  const s = { ipfs, blockCache, log: () => {} }

  const { deleted } = await dropRecordBlocks(s, { digest: gone.digest, envelopes: gone.envelopes })
  assert.equal(deleted, leaves.length + 2) // the leaves, the root and the envelopes block
  for (const cid of [gone.cid, gone.env, ...leaves]) {
    assert.equal(await ipfs.helia.blockstore.has(cid), false)
    assert.equal(await ipfs.helia.pins.isPinned(cid), false)
    assert.equal(blockCache.has(cid), false)
  }
  assert.equal(blockCache.stats().bytes, 0)
  await verifyDag(ipfs.blockstore, kept.cid)
  assert.equal(await ipfs.helia.pins.isPinned(kept.cid), true)
  assert.equal(await ipfs.helia.pins.isPinned(kept.env), true)

  // Again, or on a node that never held it: nothing to do.
  assert.deepEqual(await dropRecordBlocks(s, { digest: gone.digest, envelopes: gone.envelopes }), { deleted: 0, cids: [] })
})
