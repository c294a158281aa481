import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { bytesToHex, hexToBytes } from 'viem'
import { getChunkedBlob, putChunkedBlob } from './chunked-blob.ts'
import { MAX_RAW_BLOCK_SIZE, getRawBlockVerified, putRawBlock } from './raw-block.ts'
import { cidFromDigest } from './read-verified.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { isAppError } from '../errors.ts'
import type { Ipfs } from './open-ipfs.ts'
import { openIpfs } from './open-ipfs.ts'

let dir: string
let ipfs: Ipfs

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medledger-chunked-'))
  ipfs = await openIpfs({ dir })
})

after(async () => {
  await ipfs?.stop()
  await fs.rm(dir, { recursive: true, force: true })
})

describe('chunked blobs (an export part in IPFS, real Helia on a temp dir)', () => {
  test('bytes over several raw blocks come back whole under the index block\'s SHA-256; empty bytes too', async () => {
    const bytes = randomBytes(2 * MAX_RAW_BLOCK_SIZE + 1234)
    const digest = await putChunkedBlob(ipfs, bytes)
    const index = await getRawBlockVerified(ipfs.blockstore, cidFromDigest(hexToBytes(digest), 'raw'))
    assert.equal(index.byteLength, 3 * 32, 'three chunks: two full, one short')
    assert.deepEqual(Buffer.from(await getChunkedBlob(ipfs.blockstore, digest)), bytes)
    const none = await putChunkedBlob(ipfs, new Uint8Array(0))
    assert.equal((await getChunkedBlob(ipfs.blockstore, none)).byteLength, 0)
  })

  test('a block that is no index, and an index naming a block nobody has, are refused', async () => {
    const notIndex = randomBytes(33)
    await putRawBlock(ipfs, notIndex)
    await assert.rejects(getChunkedBlob(ipfs.blockstore, bytesToHex(hashSha256(notIndex))), (err) => isAppError(err, 'RECORD_INTEGRITY'))
    const dangling = randomBytes(32)
    await putRawBlock(ipfs, dangling)
    await assert.rejects(getChunkedBlob(ipfs.blockstore, bytesToHex(hashSha256(dangling)), { signal: AbortSignal.timeout(2_000) }), (err) => isAppError(err))
  })
})
