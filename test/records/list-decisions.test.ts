import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { seed } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'

interface Listed { total: number; records: { recordId: string; fileName: string; problem?: string }[] }

describe('a grantee\'s listing: one chain question per grant per block, records opened only on the page, a revoked grant refused on the next block (one node in process, real chain)', () => {
  let node: InProcessNode
  let api: InjectApi
  let a: Awaited<ReturnType<typeof seed>>
  let b: Awaited<ReturnType<typeof seed>>
  const count = 6
  const names = Array.from({ length: count }, (_, i) => `decided-${i}.bin`)

  before(async () => {
    // Dev methods, to move the chain's clock (expiry is the chain's to decide, never a sleep).
    node = await startInProcessNode({ env: { MEDLEDGER_CHAIN_DEV_METHODS: 'true' } })
    api = new InjectApi(node.app, node.url)
    a = await seed(api)
    b = await seed(api, { hospitalName: 'Other', tag: 'b' })
    for (const name of names) assert.equal((await api.upload(a.doctor.token, a.patient.email, name, randomBytes(700))).status, 201)
  })
  after(async () => {
    await node?.stop()
  })

  const list = async (token: string, query: string): Promise<Listed> => {
    const res = await api.json('GET', `/records?patient=${encodeURIComponent(a.patient.email)}&${query}`, undefined, token)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return res.body as Listed
  }
  const chain = async (method: string, params: unknown[]) => {
    await node.node.services.ledger.client.request({ method, params } as never)
  }
  const stats = () => node.node.services.decisionCache.stats()
  const blockNumber = () => node.node.services.ledger.client.getBlockNumber({ cacheTime: 0 })
  const grant = async (body: Record<string, unknown>): Promise<string> => {
    const req = await api.json('POST', '/access-requests', { patient: a.patient.email, purpose: 'care', days: 7, ...body }, b.doctor.token)
    assert.equal(req.status, 201, JSON.stringify(req.body))
    const ok = await api.json('POST', `/access-requests/${req.body.requestId}/approve`, {}, a.patient.token)
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    return req.body.requestId as string
  }

  it('lists every record under an all-records grant asking the chain once, and again at the same block not at all', async () => {
    const requestId = await grant({})
    const block = await blockNumber()
    const before = stats()
    const whole = await list(b.doctor.token, 'limit=100')
    assert.equal(whole.total, count)
    assert.deepEqual(whole.records.map((r) => r.fileName).sort(), names)
    assert.ok(whole.records.every((r) => r.problem === undefined))
    const first = stats()
    assert.equal(first.misses - before.misses, 1, 'one question for the grant, not one per record')
    assert.equal(first.hits - before.hits, count - 1)
    const again = await list(b.doctor.token, 'limit=100')
    assert.deepEqual(again, whole)
    assert.equal(await blockNumber(), block, 'no block was mined between the listings')
    assert.equal(stats().misses, first.misses, 'the same block: answered from memory')

    // Pages: the same records and total, the page alone opened.
    const pages = [await list(b.doctor.token, 'limit=4'), await list(b.doctor.token, 'limit=4&offset=4')]
    assert.deepEqual(pages.map((p) => p.total), [count, count])
    assert.deepEqual(pages.flatMap((p) => p.records), whole.records)

    // Expired by the chain's clock, the node's database still saying approved: the next block's
    // listing asks the chain again and lists nothing.
    await chain('evm_increaseTime', [8 * 86_400])
    await chain('evm_mine', [])
    assert.ok(await blockNumber() > block)
    const expired = await list(b.doctor.token, 'limit=100')
    assert.deepEqual([expired.total, expired.records], [0, []])
    assert.equal(stats().misses, first.misses + 1)
    assert.equal((await api.json('GET', `/records/${whole.records[0]!.recordId}`, undefined, b.doctor.token)).status, 404)
    void requestId
  })

  it('a revoked grant is refused by the next listing', async () => {
    const requestId = await grant({})
    assert.equal((await list(b.doctor.token, 'limit=100')).total, count)
    const rev = await api.json('POST', `/access-requests/${requestId}/revoke`, undefined, a.patient.token)
    assert.equal(rev.status, 200, JSON.stringify(rev.body))
    // The expired grant of the test before still names the patient to this doctor: listed, nothing in it.
    const listed = await list(b.doctor.token, 'limit=100')
    assert.deepEqual([listed.total, listed.records], [0, []])
  })

  it('a grant of some records lists those alone, decided the same way', async () => {
    const whole = await list(a.doctor.token, 'limit=100')
    const chosen = whole.records.slice(1, 3).map((r) => r.recordId)
    await grant({ recordIds: chosen })
    const listed = await list(b.doctor.token, 'limit=100')
    assert.equal(listed.total, 2)
    assert.deepEqual(listed.records.map((r) => r.recordId), chosen)
    assert.deepEqual(listed.records.map((r) => r.fileName), whole.records.slice(1, 3).map((r) => r.fileName))
  })
})
