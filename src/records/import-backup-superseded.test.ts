import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CarWriter } from '@ipld/car/writer'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { bytesToHex } from 'viem'
import { openDatabase } from '../db/open-database.ts'
import { openIpfs } from '../storage/open-ipfs.ts'
import { importBackup } from './import-backup.ts'

// A backup made before a re-key holds the old version's blocks: importing it does not bring them
// back (superseded_records, issue 13 item 2), while the rest of the backup is stored.
test('a backup import skips the blocks of a re-keyed record\'s old version and stores the others', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-import-superseded-'))
  const db = await openDatabase({ url: join(dir, 'medledger.db') })
  try {
    const block = async (bytes: Uint8Array, code: number) => ({ cid: CID.createV1(code, await sha256.digest(bytes)), bytes })
    const leaf = await block(randomBytes(5000), raw.code)
    const root = await block(dagPb.encode(dagPb.prepare({ Links: [{ Hash: leaf.cid, Tsize: 5000 }] })), dagPb.code)
    const envelopes = await block(randomBytes(300), raw.code)
    const other = await block(randomBytes(700), raw.code)
    const { writer, out } = CarWriter.create([root.cid, other.cid])
    const chunks: Uint8Array[] = []
    const collected = (async () => { for await (const c of out) chunks.push(c) })()
    for (const b of [root, leaf, envelopes, other]) await writer.put(b)
    await writer.close()
    await collected
    const file = join(dir, 'backup.car')
    writeFileSync(file, Buffer.concat(chunks))
    await db.run(`INSERT INTO superseded_records (record_id, superseded_by, patient_id, author_id, hospital_id, digest, envelopes, tx_hash, superseded_at)
      VALUES (?, ?, 'p', 'a', 'h', ?, ?, NULL, 0)`, `0x${'11'.repeat(32)}`, `0x${'22'.repeat(32)}`, bytesToHex(root.cid.multihash.digest), bytesToHex(envelopes.cid.multihash.digest))

    const r = await importBackup({ db, ipfsDir: join(dir, 'ipfs'), file })
    assert.equal(r.blocks, 4)
    assert.equal(r.erasedBlocks, 3)
    assert.equal(r.written, 1)
    const ipfs = await openIpfs({ dir: join(dir, 'ipfs') })
    try {
      for (const b of [root, leaf, envelopes]) assert.equal(await ipfs.helia.blockstore.has(b.cid), false, `${b.cid} came back`)
      assert.equal(await ipfs.helia.blockstore.has(other.cid), true)
    } finally {
      await ipfs.stop()
    }
  } finally {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
