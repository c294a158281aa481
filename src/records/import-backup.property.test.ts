import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { swapRanges } from '../../test/helpers/swap-ranges.ts'
import { CarWriter } from '@ipld/car/writer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { isAppError } from '../errors.ts'
import { openDatabase, type Db } from '../db/open-database.ts'
import { importBackup } from './import-backup.ts'

/** Fixed seed and bounded runs: each run imports into a fresh store. */
const runs = { seed: 0x5eed_0004, numRuns: 60, timeout: 30_000 }

async function car(blocks: Uint8Array[]): Promise<Uint8Array> {
  const cids = await Promise.all(blocks.map(async (b) => CID.createV1(raw.code, await sha256.digest(b))))
  const { writer, out } = CarWriter.create(cids.slice(0, 1))
  const chunks: Uint8Array[] = []
  const collected = (async () => { for await (const c of out) chunks.push(c) })()
  for (let i = 0; i < blocks.length; i++) await writer.put({ cid: cids[i]!, bytes: blocks[i]! })
  await writer.close()
  await collected
  return new Uint8Array(Buffer.concat(chunks))
}

/** Every file under `dir`, recursively. */
const files = (dir: string): string[] => existsSync(dir)
  ? readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]))
  : []

describe('backup import under random and mutated CAR files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-car-fuzz-'))
  let db: Db
  let valid: Uint8Array
  let run = 0
  before(async () => {
    db = await openDatabase({ url: join(dir, 'medledger.db') })
    valid = await car([randomBytes(300), randomBytes(2000), randomBytes(64), new Uint8Array(0)].map((b) => new Uint8Array(b)))
  })
  after(async () => {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Imports `bytes` into a fresh store: a result, or BAD_REQUEST / RECORD_INTEGRITY with no block written. */
  async function importBytes(bytes: Uint8Array): Promise<'imported' | 'refused'> {
    const file = join(dir, `in-${run}.car`)
    const ipfsDir = join(dir, `ipfs-${run++}`)
    writeFileSync(file, bytes)
    try {
      const r = await importBackup({ db, ipfsDir, file, signal: AbortSignal.timeout(20_000) })
      assert.ok(r.blocks <= 4 + 8 && r.written <= r.blocks)
      return 'imported'
    } catch (err) {
      assert.ok(isAppError(err, 'BAD_REQUEST', 'RECORD_INTEGRITY'), `expected BAD_REQUEST or RECORD_INTEGRITY, got ${(err as Error)?.stack ?? String(err)}`)
      assert.deepEqual(files(join(ipfsDir, 'blocks')), [], 'a refused import writes no block')
      return 'refused'
    } finally {
      rmSync(file, { force: true })
      rmSync(ipfsDir, { recursive: true, force: true })
    }
  }

  it('random bytes are refused as not a CAR, writing nothing', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(fc.uint8Array({ maxLength: 500 }), fc.uint8Array({ maxLength: 200 }).map((b) => new Uint8Array([...valid.subarray(0, 60), ...b]))),
      async (bytes) => { await importBytes(bytes) },
    ), runs)
  })

  it('bit flips, truncations, huge length fields and reordered ranges of a valid CAR: imported or refused, never a crash', async () => {
    let refusedCount = 0
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
        fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
        // A varint of 2^35 or more where a section length (or the header's) is read.
        fc.record({ kind: fc.constant('length' as const), at: fc.nat(), bytes: fc.constantFrom([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], [0xff, 0xff, 0x03]) }),
        fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat(), length: fc.integer({ min: 1, max: 400 }) }),
      ),
      async (m) => {
        let b = new Uint8Array(valid)
        if (m.kind === 'flip') b[m.at % b.length]! ^= 1 << m.bit
        else if (m.kind === 'truncate') b = b.slice(0, m.at % b.length)
        else if (m.kind === 'length') {
          const at = m.at % b.length
          b = new Uint8Array([...b.subarray(0, at), ...m.bytes, ...b.subarray(at + m.bytes.length)])
        } else swapRanges(b, m.a, m.b, m.length)
        if ((await importBytes(b)) === 'refused') refusedCount++
      },
    ), runs)
    assert.ok(refusedCount > runs.numRuns / 2, `most mutations are refused (${refusedCount})`)
  })
})
