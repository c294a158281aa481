import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { addCiphertext, LEAF_SIZE } from './add-ciphertext.ts'
import { openIpfs } from './open-ipfs.ts'
import { verifyDag } from './read-verified.ts'
import type { Ipfs } from './open-ipfs.ts'

const MiB = 1_048_576

let dir: string
let ipfs: Ipfs

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medledger-add-'))
  ipfs = await openIpfs({ dir })
})

after(async () => {
  await ipfs?.stop()
  await fs.rm(dir, { recursive: true, force: true })
})

async function pinCount(): Promise<number> {
  let n = 0
  for await (const _ of ipfs.helia.pins.ls()) n++
  return n
}

describe('addCiphertext', () => {
  test('pins the root and every block under it', async () => {
    const { cid } = await addCiphertext(ipfs, [randomBytes(3 * MiB + 1)])
    const { leaves } = await verifyDag(ipfs.blockstore, cid)
    assert.equal(await ipfs.helia.pins.isPinned(cid), true)
    for (const leaf of leaves) assert.equal(await ipfs.helia.pins.isPinned(leaf), true)
    assert.equal((await ipfs.helia.pins.get(cid)).depth, Infinity)
  })

  test('with pin: \'later\' resolves with the blocks durable and `pinned` settling once the pin is', async () => {
    const { cid, pinned } = await addCiphertext(ipfs, [randomBytes(2 * MiB + 3)], { pin: 'later' })
    await verifyDag(ipfs.blockstore, cid)
    assert.ok(pinned instanceof Promise)
    await pinned
    const { leaves } = await verifyDag(ipfs.blockstore, cid)
    assert.equal(await ipfs.helia.pins.isPinned(cid), true)
    for (const leaf of leaves) assert.equal(await ipfs.helia.pins.isPinned(leaf), true)
  })

  test('with pin: false stores without pinning', async () => {
    const { cid } = await addCiphertext(ipfs, [randomBytes(1000)], { pin: false })
    assert.equal(await ipfs.helia.pins.isPinned(cid), false)
    await verifyDag(ipfs.blockstore, cid)
  })

  test('adding the same ciphertext twice is not an error', async () => {
    const bytes = randomBytes(MiB + 7)
    const a = await addCiphertext(ipfs, [bytes])
    const b = await addCiphertext(ipfs, [bytes])
    assert.ok(a.cid.equals(b.cid))
  })

  test('reports durable progress leaf by leaf, up to the full size', async () => {
    const size = 3 * MiB + 100
    const seen: number[] = []
    await addCiphertext(ipfs, [randomBytes(size)], { onProgress: ({ bytesStored }) => seen.push(bytesStored) })
    // One call per leaf, in the order leaves become durable (which need not be file order).
    assert.equal(seen.length, 4)
    assert.ok(seen.every((n, i) => i === 0 || n > seen[i - 1]), `not increasing: ${seen.join(', ')}`)
    assert.equal(seen.at(-1), size)
    assert.ok(seen[0] === LEAF_SIZE || seen[0] === size - 3 * LEAF_SIZE)
  })

  test('an abort mid-stream rejects with the abort reason and pins nothing', async () => {
    const before = await pinCount()
    const controller = new AbortController()
    async function * source (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 100; i++) {
        if (i === 3) controller.abort()
        yield randomBytes(MiB)
      }
    }
    await assert.rejects(addCiphertext(ipfs, source(), { signal: controller.signal }), { name: 'AbortError' })
    assert.equal(await pinCount(), before)
  })

  test('an error in the source is passed on', async () => {
    async function * source (): AsyncGenerator<Uint8Array> {
      yield randomBytes(10)
      throw new Error('upstream broke')
    }
    await assert.rejects(addCiphertext(ipfs, source()), /upstream broke/)
  })

  test('many leaves under one signal raise no MaxListenersExceededWarning', async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error): void => { warnings.push(warning.name) }
    process.on('warning', onWarning)
    try {
      const { size } = await addCiphertext(ipfs, Array.from({ length: 40 }, () => randomBytes(MiB / 2)), { signal: new AbortController().signal })
      assert.equal(size, 20 * MiB)
      await new Promise(resolve => setImmediate(resolve)) // warnings are emitted on a later tick
    } finally {
      process.off('warning', onWarning)
    }
    assert.deepEqual(warnings.filter(name => name === 'MaxListenersExceededWarning'), [])
  })

  test('a source that yields something other than bytes is refused', async () => {
    await assert.rejects(addCiphertext(ipfs, ['text' as unknown as Uint8Array]), TypeError)
  })
})
