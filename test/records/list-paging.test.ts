import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { seed } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'

interface Listed { total: number; limit: number; offset: number; records: { recordId: string; fileName: string; problem?: string }[] }

describe('listing by pages: own records opened only on the page, the same records and totals as one listing (one node in process, real chain)', () => {
  let node: InProcessNode
  let api: InjectApi
  let a: Awaited<ReturnType<typeof seed>>
  const count = 5

  before(async () => {
    node = await startInProcessNode()
    api = new InjectApi(node.app, node.url)
    a = await seed(api)
    for (let i = 0; i < count; i++) assert.equal((await api.upload(a.doctor.token, a.patient.email, `page-${i}.bin`, randomBytes(1500))).status, 201)
  })
  after(async () => {
    await node?.stop()
  })

  const list = async (token: string, query: string): Promise<Listed> => {
    const res = await api.json('GET', `/records?${query}`, undefined, token)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return res.body as Listed
  }
  const pages = async (token: string, query: string, size: number): Promise<Listed[]> => {
    const out: Listed[] = []
    for (let offset = 0; offset < count + size; offset += size) out.push(await list(token, `${query}limit=${size}&offset=${offset}`))
    return out
  }

  for (const who of ['patient', 'doctor'] as const) {
    it(`the ${who}'s pages put together are the whole listing, each with its decrypted metadata and the same total`, async () => {
      const token = a[who].token
      const query = who === 'doctor' ? `patient=${encodeURIComponent(a.patient.email)}&` : ''
      const whole = await list(token, `${query}limit=100`)
      assert.equal(whole.total, count)
      assert.deepEqual(whole.records.map((r) => r.fileName).sort(), Array.from({ length: count }, (_, i) => `page-${i}.bin`))
      const parts = await pages(token, query, 2)
      assert.deepEqual(parts.map((p) => p.total), parts.map(() => count))
      assert.deepEqual(parts.map((p) => p.records.length), [2, 2, 1, 0])
      assert.deepEqual(parts.flatMap((p) => p.records), whole.records)
    })
  }

  it('a record that does not match its anchor still counts while off the page, and shows its problem on its page', async () => {
    const { db } = node.node.services
    const whole = await list(a.patient.token, 'limit=100')
    const last = whole.records[count - 1]!
    const row = (await db.get<{ envelopes: string }>('SELECT envelopes FROM records WHERE record_id = ?', last.recordId))!
    await db.run('UPDATE records SET envelopes = ? WHERE record_id = ?', `0x${'ab'.repeat(32)}`, last.recordId)
    try {
      const first = await list(a.patient.token, 'limit=2')
      assert.equal(first.total, count)
      assert.deepEqual(first.records, whole.records.slice(0, 2))
      const tail = await list(a.patient.token, `limit=2&offset=${count - 1}`)
      assert.equal(tail.total, count)
      assert.deepEqual(tail.records.map((r) => [r.recordId, r.fileName, r.problem]), [[last.recordId, '', 'RECORD_INTEGRITY']])
    } finally {
      await db.run('UPDATE records SET envelopes = ? WHERE record_id = ?', row.envelopes, last.recordId)
    }
    assert.deepEqual((await list(a.patient.token, 'limit=100')).records, whole.records)
  })
})
