import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import * as raw from 'multiformats/codecs/raw'
import { addCiphertext } from './add-ciphertext.ts'
import { blockFilePath } from './block-path.ts'
import { openIpfs } from './open-ipfs.ts'
import { getRawBlockVerified, MAX_RAW_BLOCK_SIZE, putRawBlock } from './raw-block.ts'
import { cidFromDigest, digestFromCid } from './read-verified.ts'
import { isAppError } from '../errors.ts'
import type { Ipfs } from './open-ipfs.ts'

let dir: string
let ipfs: Ipfs

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medledger-raw-'))
  ipfs = await openIpfs({ dir })
})

after(async () => {
  await ipfs?.stop()
  await fs.rm(dir, { recursive: true, force: true })
})

function code(err: unknown): string | undefined {
  return isAppError(err) ? err.code : (err as Error)?.name
}

describe('raw blocks', () => {
  test('an envelope round-trips through a CIDv1 raw block named by its digest', async () => {
    const envelope = randomBytes(412)
    const cid = await putRawBlock(ipfs, envelope)
    assert.equal(cid.version, 1)
    assert.equal(cid.code, raw.code)
    assert.ok(cidFromDigest(digestFromCid(cid), 'raw').equals(cid))

    const back = await getRawBlockVerified(ipfs.blockstore, cid)
    assert.ok(Buffer.from(back).equals(envelope))
    assert.equal(await ipfs.helia.pins.isPinned(cid), true)
  })

  test('putting the same bytes twice gives the same CID and keeps one pin', async () => {
    const key = randomBytes(32)
    const a = await putRawBlock(ipfs, key)
    const b = await putRawBlock(ipfs, key)
    assert.ok(a.equals(b))
    const pins = []
    for await (const pin of ipfs.helia.pins.ls()) if (pin.cid.equals(a)) pins.push(pin)
    assert.equal(pins.length, 1)
  })

  test('an empty object is a valid raw block', async () => {
    const cid = await putRawBlock(ipfs, new Uint8Array(0))
    assert.equal((await getRawBlockVerified(ipfs.blockstore, cid)).byteLength, 0)
  })

  test('a flipped byte on disk is RECORD_INTEGRITY', async () => {
    const cid = await putRawBlock(ipfs, randomBytes(200))
    const file = blockFilePath(dir, cid)
    const bytes = await fs.readFile(file)
    bytes[150] ^= 0x80
    await fs.writeFile(file, bytes)
    await assert.rejects(getRawBlockVerified(ipfs.blockstore, cid), (err: unknown) => code(err) === 'RECORD_INTEGRITY')
  })

  test('re-putting bytes whose stored copy is corrupt does not acknowledge the bad copy', async () => {
    const bytes = randomBytes(64)
    const cid = await putRawBlock(ipfs, bytes)
    await fs.writeFile(blockFilePath(dir, cid), randomBytes(64))
    await assert.rejects(putRawBlock(ipfs, bytes), (err: unknown) => code(err) === 'RECORD_INTEGRITY')
  })

  test('a block that is not stored is RECORD_UNAVAILABLE', async () => {
    const cid = cidFromDigest(randomBytes(32), 'raw')
    await assert.rejects(getRawBlockVerified(ipfs.blockstore, cid), (err: unknown) => code(err) === 'RECORD_UNAVAILABLE')
  })

  test('a record root is not a raw block', async () => {
    const { cid } = await addCiphertext(ipfs, [randomBytes(10)])
    await assert.rejects(getRawBlockVerified(ipfs.blockstore, cid), (err: unknown) => code(err) === 'INVALID_CID')
  })

  test('an object larger than MAX_RAW_BLOCK_SIZE is refused', async () => {
    await assert.rejects(putRawBlock(ipfs, new Uint8Array(MAX_RAW_BLOCK_SIZE + 1)), (err: unknown) => code(err) === 'BAD_REQUEST')
  })

  test('an aborted signal stops putRawBlock before anything is stored', async () => {
    const bytes = randomBytes(50)
    await assert.rejects(putRawBlock(ipfs, bytes, { signal: AbortSignal.abort() }), { name: 'AbortError' })
    const cid = cidFromDigest(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), 'raw')
    assert.equal(await ipfs.blockstore.has(cid), false)
  })
})
