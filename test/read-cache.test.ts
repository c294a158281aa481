import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Api, cleanup, seed, startNodeProcess, type NodeProcess } from './helpers/node-process.ts'
import { loadConfig } from '../src/config.ts'
import { isAppError } from '../src/errors.ts'

interface CacheStatus { bytes: number; maxBytes: number; hits: number; misses: number }

describe('the read cache of verified ciphertext blocks (real node, real chain)', () => {
  let node: NodeProcess
  let api: Api
  let a: Awaited<ReturnType<typeof seed>>
  let b: Awaited<ReturnType<typeof seed>>
  const bytes = randomBytes(3 * 1_048_576 + 4321) // four 1 MiB leaves and a root
  let recordId = ''

  before(async () => {
    node = await startNodeProcess()
    api = new Api(node.url)
    a = await seed(api, { hospitalName: 'North Hospital', tag: 'north' })
    b = await seed(api, { hospitalName: 'South Hospital', tag: 'south' })
    const up = await api.upload(a.doctor.token, a.patient.email, 'scan.bin', bytes)
    assert.equal(up.status, 201, JSON.stringify(up.body))
    recordId = up.body.recordId
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home)
  })

  const cache = async (): Promise<CacheStatus> => (await api.json('GET', '/status')).body.cache as CacheStatus

  it('GET /status shows the cache: 256 MiB by default', async () => {
    const c = await cache()
    assert.equal(c.maxBytes, 256 * 1_048_576)
    for (const k of ['bytes', 'hits', 'misses'] as const) assert.equal(typeof c[k], 'number')
  })

  it('a second read is served with the blocks from the cache, byte-identical to the upload', async () => {
    const first = await api.download(a.patient.token, recordId)
    assert.equal(first.status, 200)
    assert.ok(first.bytes.equals(bytes))
    const afterFirst = await cache()
    assert.ok(afterFirst.bytes >= bytes.byteLength, 'the record\'s ciphertext is held')

    const second = await api.download(a.patient.token, recordId)
    assert.equal(second.status, 200)
    assert.ok(second.bytes.equals(bytes))
    const afterSecond = await cache()
    // The root and 4 leaves, each looked up while verifying and each leaf again while decrypting,
    // and the envelopes block.
    assert.ok(afterSecond.hits >= afterFirst.hits + 10, `hits ${afterFirst.hits} → ${afterSecond.hits}`)
    assert.equal(afterSecond.misses, afterFirst.misses, 'no block of the record went to the store')
  })

  it('a revoked grant is refused on the next block, though the blocks are cached', async () => {
    const req = await api.json('POST', '/access-requests', { patient: a.patient.address, purpose: 'cache check', days: 7 }, b.doctor.token)
    assert.equal(req.status, 201, JSON.stringify(req.body))
    const ok = await api.json('POST', `/access-requests/${req.body.requestId}/approve`, {}, a.patient.token)
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    for (let i = 0; i < 2; i++) {
      const got = await api.download(b.doctor.token, recordId)
      assert.equal(got.status, 200)
      assert.ok(got.bytes.equals(bytes))
    }
    const hitsBefore = (await cache()).hits

    const rev = await api.json('POST', `/access-requests/${req.body.requestId}/revoke`, undefined, a.patient.token)
    assert.equal(rev.body.status, 'revoked')
    const refused = await api.download(b.doctor.token, recordId)
    assert.equal(refused.status, 404)
    assert.equal(refused.json?.code, 'RECORD_NOT_FOUND')
    assert.equal((await cache()).hits, hitsBefore, 'refused before any block was looked up')
    // The patient still reads it, from the cache.
    const own = await api.download(a.patient.token, recordId)
    assert.ok(own.bytes.equals(bytes))
  })
})

describe('MEDLEDGER_CACHE_MB', () => {
  it('is 256 by default, 0 turns the cache off, anything but a whole number is refused', () => {
    const home = '/nonexistent-medledger-home'
    assert.equal(loadConfig({ flags: { home }, env: {} }).cacheMb, 256)
    assert.equal(loadConfig({ flags: { home }, env: { MEDLEDGER_CACHE_MB: '0' } }).cacheMb, 0)
    assert.equal(loadConfig({ flags: { home }, env: { MEDLEDGER_CACHE_MB: '1024' } }).cacheMb, 1024)
    for (const bad of ['-1', '1.5', 'lots']) {
      assert.throws(() => loadConfig({ flags: { home }, env: { MEDLEDGER_CACHE_MB: bad } }), (err: unknown) => isAppError(err, 'VALIDATION_FAILED') && /cacheMb/.test((err as Error).message))
    }
  })

  it('with 0 a node reads from the block store every time and keeps nothing', async () => {
    const node = await startNodeProcess({ env: { MEDLEDGER_CACHE_MB: '0' } })
    try {
      const api = new Api(node.url)
      const a = await seed(api, { tag: 'off' })
      const bytes = randomBytes(200_000)
      const up = await api.upload(a.doctor.token, a.patient.email, 'scan.bin', bytes)
      assert.equal(up.status, 201, JSON.stringify(up.body))
      for (let i = 0; i < 2; i++) assert.ok((await api.download(a.patient.token, up.body.recordId)).bytes.equals(bytes))
      assert.deepEqual((await api.json('GET', '/status')).body.cache, { bytes: 0, maxBytes: 0, hits: 0, misses: 0 })
    } finally {
      await node.stop()
      cleanup(node.home)
    }
  })
})
