import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createTermWorker, type TermWorker } from './term-worker.ts'
import { extractContentTerms } from './extract-terms.ts'
import { openTerms, recordTokens } from './search-key.ts'
import { randomBytes } from 'node:crypto'
import type { ContentTermStream } from '../../services.ts'

const fixtures = '/work/shared/fixtures'
const files = ['fhir', 'ccda', 'hl7v2', 'dicom'].flatMap((d) => readdirSync(join(fixtures, d)).map((f) => join(fixtures, d, f)))

/** Streams `bytes` in pieces (64 KiB) through one buffer reused for each piece, as an encryptor's would be. */
async function stream(x: ContentTermStream, bytes: Uint8Array, size = 65536): Promise<string[]> {
  const reused = new Uint8Array(size)
  for (let at = 0; at < bytes.byteLength; at += size) {
    const piece = bytes.subarray(at, at + size)
    reused.set(piece)
    x.push(reused.subarray(0, piece.byteLength))
    assert.equal(reused.byteLength, size, 'the caller\'s buffer is not transferred away')
    reused.fill(0x20)
  }
  return [...await x.end()].sort()
}

/** Resolves the thread's id once one other than `not` is up. */
async function online(w: TermWorker, not?: number): Promise<number> {
  while (w.threadId === undefined || w.threadId === not) await sleep(5)
  return w.threadId
}

describe('the term worker (a real worker thread)', () => {
  const logs: string[] = []
  let w: TermWorker
  before(async () => {
    w = createTermWorker({ log: (level, msg) => logs.push(`${level} ${msg}`) })
    w.start()
    await online(w)
  })
  after(async () => {
    await w.close()
  })

  it('every fixture\'s content terms from the thread are those extracted on the calling thread, from chunks the caller reuses', async () => {
    for (const f of files) {
      const bytes = readFileSync(f)
      assert.deepEqual(await stream(w.begin({ recordId: 'r' }), bytes), [...extractContentTerms(bytes)].sort(), f)
    }
    assert.deepEqual(logs, [])
  })

  it('uploads at once each get their own terms', async () => {
    const picked = files.filter((_, i) => i % 2 === 0)
    const got = await Promise.all(picked.map((f) => stream(w.begin({ recordId: f }), readFileSync(f))))
    assert.deepEqual(got, picked.map((f) => [...extractContentTerms(readFileSync(f))].sort()))
  })

  it('makes a record\'s index entry on the thread: the tokens made here, a term list that opens with the key; the caller\'s key left as it was', async () => {
    const f = files.find((x) => x.includes('/fhir/Bibi'))!
    const terms = [...extractContentTerms(readFileSync(f))].sort()
    const key = randomBytes(32)
    const kept = Buffer.from(key)
    const made = await w.indexEntry({ key, recordId: '0xabc', terms })
    assert.ok(made)
    assert.deepEqual(made.tokens.map((t) => t.toString('hex')), recordTokens(key, terms).map((t) => t.toString('hex')))
    assert.deepEqual(openTerms(key, '0xabc', made.sealed), terms)
    assert.throws(() => openTerms(key, '0xabd', made.sealed), (err: Error & { code?: string }) => err.code === 'RECORD_INTEGRITY', 'bound to its record')
    assert.deepEqual(key, kept)
    assert.deepEqual(logs, [])
  })

  it('keeps the cap: past it a bundle gives no content terms, a DICOM file those of its head', async () => {
    const bundle = readFileSync(files.find((f) => f.includes('/fhir/Bibi'))!)
    assert.deepEqual(await stream(w.begin({ recordId: 'r', cap: bundle.byteLength - 1 }), bundle), [])
    assert.ok((await stream(w.begin({ recordId: 'r', cap: bundle.byteLength }), bundle)).includes('condition'))
    const dcm = readFileSync(files.find((f) => f.endsWith('CT_small.dcm'))!)
    // Pieces of 4 KiB, a cap of 20,000 bytes: the first four pieces are kept.
    const head = [...extractContentTerms(dcm.subarray(0, 4 * 4096))].sort()
    assert.ok(dcm.byteLength > 20_000 && head.includes('ct'))
    assert.deepEqual(await stream(w.begin({ recordId: 'r', cap: 20_000 }), dcm, 4096), head)
    assert.deepEqual(logs, [])
  })

  it('a thread that does not answer in time is replaced: that upload and the others it held get no content terms (logged by record id and reason), the next ones are the new thread\'s', async () => {
    const before = await online(w)
    // ~9 MB of FHIR: its parse alone takes far longer than 1 ms.
    const bundle = JSON.parse(readFileSync(files.find((f) => f.includes('/fhir/Denisha'))!, 'utf8'))
    bundle.entry = Array.from({ length: 20 }, () => bundle.entry).flat()
    const big = Buffer.from(JSON.stringify(bundle))
    const held = w.begin({ recordId: 'held' })
    held.push(readFileSync(files[0]!))
    const slow = await stream(w.begin({ recordId: 'slow', timeoutMs: 1 }), big)
    assert.deepEqual([slow, [...await held.end()]], [[], []])
    assert.deepEqual(logs.splice(0), [
      'warn search: the term worker stopped (no answer within 1 ms: terminated); started again',
      'warn record slow: content terms not extracted (no answer within 1 ms); indexed by file name and tags only',
      'warn record held: content terms not extracted (the term worker stopped); indexed by file name and tags only',
    ])
    assert.notEqual(await online(w, before), before)
    const f = files.find((x) => x.endsWith('.xml'))!
    assert.deepEqual(await stream(w.begin({ recordId: 'next' }), readFileSync(f)), [...extractContentTerms(readFileSync(f))].sort())
    assert.deepEqual(logs, [])
  })

  it('closed (the thread gone), uploads extract on the calling thread with a warning; started again, on the thread', async () => {
    await w.close()
    assert.equal(w.threadId, undefined)
    const f = files.find((x) => x.endsWith('.dcm'))!
    assert.deepEqual(await stream(w.begin({ recordId: 'local' }), readFileSync(f)), [...extractContentTerms(readFileSync(f))].sort())
    assert.deepEqual(logs.splice(0), ['warn record local: the term worker is not running; terms extracted on the calling thread'])
    assert.equal(await w.indexEntry({ key: randomBytes(32), recordId: '0x1', terms: ['ct'] }), undefined, 'made by the caller instead')
    w.start()
    await online(w)
    assert.deepEqual(await stream(w.begin({ recordId: 'again' }), readFileSync(f)), [...extractContentTerms(readFileSync(f))].sort())
    assert.deepEqual(logs, [])
  })
})
