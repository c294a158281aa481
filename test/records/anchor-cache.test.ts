import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { seed } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'

interface AnchorCacheStatus { entries: number; maxEntries: number; hits: number; misses: number }

describe('the anchor cache: a listing after the first does not ask the chain for anchors (one node in process, real chain)', () => {
  let node: InProcessNode
  let api: InjectApi
  let a: Awaited<ReturnType<typeof seed>>
  let other: Awaited<ReturnType<typeof seed>>['doctor']
  let batched = 0
  const count = 12 // a burst of 10 concurrent uploads: at least one arrives while an anchor is in flight, even on a busy machine

  before(async () => {
    node = await startInProcessNode()
    api = new InjectApi(node.app, node.url)
    a = await seed(api)
    other = (await seed(api, { hospitalName: 'South Hospital', tag: 'south' })).doctor
    // Two alone (nothing in flight: a lone anchor), then a burst (batched roots, checked by checkLeaf).
    for (let i = 0; i < 2; i++) assert.equal((await api.upload(a.doctor.token, a.patient.email, `alone-${i}.bin`, randomBytes(2000))).status, 201)
    const burst = await Promise.all(Array.from({ length: count - 2 }, (_, i) => api.upload(a.doctor.token, a.patient.email, `burst-${i}.bin`, randomBytes(2000))))
    assert.deepEqual(burst.map((r) => r.status), Array(count - 2).fill(201))
    batched = Number((await node.node.services.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM record_proofs'))!.n)
    assert.ok(batched >= 1 && batched <= count - 2, `some of the burst went in a batch (${batched})`)
  })
  after(async () => {
    await node?.stop()
  })

  const stats = async (): Promise<AnchorCacheStatus> => (await api.json('GET', '/status')).body.anchorCache as AnchorCacheStatus
  const list = async (token: string, patient?: string) => {
    const res = await api.json('GET', `/records?limit=100${patient ? `&patient=${encodeURIComponent(patient)}` : ''}`, undefined, token)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return res.body as { total: number; records: { recordId: string; problem?: string }[] }
  }
  const blockNumber = async (): Promise<number> => (await api.json('GET', '/status')).body.blockNumber as number

  it('asks the chain once per record; a second listing in the same block is answered from memory; after a block only the batched ones again', async () => {
    const start = await stats()
    assert.equal(start.maxEntries, 100_000)
    const first = await list(a.patient.token)
    assert.equal(first.total, count)
    const afterFirst = await stats()
    assert.equal(afterFirst.misses - start.misses, count, 'each record checked on chain once')

    const block = await blockNumber()
    const second = await list(a.patient.token)
    assert.deepEqual(second.records.map((r) => r.recordId), first.records.map((r) => r.recordId))
    const afterSecond = await stats()
    assert.equal(await blockNumber(), block, 'no block was mined between the listings')
    assert.equal(afterSecond.misses, afterFirst.misses, 'no anchor was asked of the chain again')
    assert.equal(afterSecond.hits - afterFirst.hits, count)

    // A new block (any transaction): a batched record's check read the author's and patient's
    // roles at the block before, so it is asked again; a lone anchor's holds for good.
    const req = await api.json('POST', '/access-requests', { patient: a.patient.address, purpose: 'anchor cache check', days: 7 }, other.token)
    assert.equal(req.status, 201, JSON.stringify(req.body))
    assert.ok(await blockNumber() > block)
    await list(a.patient.token)
    const afterBlock = await stats()
    assert.equal(afterBlock.misses - afterSecond.misses, batched, 'only the batched records were checked on chain again')
    assert.equal(afterBlock.hits - afterSecond.hits, count - batched)
  })

  it('a revoked grant is refused at once, though every anchor is cached', async () => {
    const req = await api.json('POST', '/access-requests', { patient: a.patient.address, purpose: 'second opinion', days: 7 }, other.token)
    assert.equal(req.status, 201, JSON.stringify(req.body))
    const ok = await api.json('POST', `/access-requests/${req.body.requestId}/approve`, {}, a.patient.token)
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal((await list(other.token, a.patient.address)).total, count)
    const before = await stats()
    assert.equal((await list(other.token, a.patient.address)).total, count)
    assert.equal((await stats()).misses, before.misses, 'the anchors came from memory')

    const rev = await api.json('POST', `/access-requests/${req.body.requestId}/revoke`, undefined, a.patient.token)
    assert.equal(rev.body.status, 'revoked')
    // The doctor of another hospital has nothing opened to them any more: the patient is unknown to them.
    const after = await api.json('GET', `/records?limit=100&patient=${encodeURIComponent(a.patient.address)}`, undefined, other.token)
    assert.equal(after.status, 404)
    assert.equal(after.body.code, 'UNKNOWN_PATIENT')
    const refused = await api.download(other.token, (await list(a.patient.token)).records[0]!.recordId)
    assert.equal(refused.status, 404)
  })

  it('never keeps a mismatch: a record that does not match its anchor is asked of the chain each time', async () => {
    const { db } = node.node.services
    const row = (await db.get<{ record_id: string; envelopes: string }>(`SELECT r.record_id, r.envelopes FROM records r
      WHERE NOT EXISTS (SELECT 1 FROM record_proofs p WHERE p.record_id = r.record_id) ORDER BY r.created_at LIMIT 1`))!
    await list(a.patient.token) // every match in memory for this block
    await db.run('UPDATE records SET envelopes = ? WHERE record_id = ?', `0x${'ab'.repeat(32)}`, row.record_id)
    try {
      for (let i = 0; i < 2; i++) {
        const before = await stats()
        const listed = await list(a.patient.token)
        assert.equal(listed.records.find((r) => r.recordId === row.record_id)?.problem, 'RECORD_INTEGRITY')
        assert.equal((await stats()).misses - before.misses, 1, 'the tampered record is checked on chain again')
      }
    } finally {
      await db.run('UPDATE records SET envelopes = ? WHERE record_id = ?', row.envelopes, row.record_id)
    }
    const listed = await list(a.patient.token)
    assert.equal(listed.records.find((r) => r.recordId === row.record_id)?.problem, undefined)
  })
})
