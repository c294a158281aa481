import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { seed } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'

interface Listed { total: number; records: { recordId: string; fileName: string; mediaType: string; size: number; sha256: string; problem?: string }[] }

describe('sealed manifest copies for listings: made by the reader\'s first listing, bound to reader and record, never a way in (one node in process, real chain)', () => {
  let node: InProcessNode
  let api: InjectApi
  let a: Awaited<ReturnType<typeof seed>>
  let b: Awaited<ReturnType<typeof seed>>
  const names = ['meta-0.txt', 'meta-1.txt', 'meta-2.txt']

  before(async () => {
    node = await startInProcessNode()
    api = new InjectApi(node.app, node.url)
    a = await seed(api)
    b = await seed(api, { hospitalName: 'Other', tag: 'b' })
    for (const name of names) assert.equal((await api.upload(a.doctor.token, a.patient.email, name, randomBytes(900))).status, 201)
  })
  after(async () => {
    await node?.stop()
  })

  const db = () => node.node.services.db
  const list = async (token: string, query = ''): Promise<Listed> => {
    const res = await api.json('GET', `/records?limit=100${query}`, undefined, token)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return res.body as Listed
  }
  const copies = async (accountId: string) => await db().all<{ record_id: string; sealed: string }>('SELECT record_id, sealed FROM record_list_meta WHERE account_id = ? ORDER BY record_id', accountId)

  it('the first listing keeps one sealed copy per record for its reader, nothing of the manifest in clear; the next listing shows the same', async () => {
    assert.deepEqual(await copies(a.patient.id), [])
    const first = await list(a.patient.token)
    assert.deepEqual(first.records.map((r) => r.fileName).sort(), names)
    const kept = await copies(a.patient.id)
    assert.deepEqual(kept.map((c) => c.record_id), first.records.map((r) => r.recordId).sort())
    for (const c of kept) {
      for (const r of first.records) {
        for (const clear of [r.fileName, r.sha256, Buffer.from(r.fileName).toString('base64url'), Buffer.from(r.sha256).toString('base64url').slice(0, 40)]) assert.ok(!c.sealed.includes(clear), clear)
      }
    }
    assert.deepEqual(await copies(a.doctor.id), [], 'only the reader who listed has copies')
    assert.deepEqual(await list(a.patient.token), first)
    assert.deepEqual(await copies(a.patient.id), kept, 'opened, not written again')
  })

  it('a copy moved to another record or another reader does not open there: each listing still shows each record\'s own manifest', async () => {
    const whole = await list(a.patient.token)
    assert.deepEqual(await list(a.doctor.token, `&patient=${encodeURIComponent(a.patient.email)}`), whole)
    const [x, y] = await copies(a.patient.id)
    // Swapped between two records of the same reader.
    await db().run('UPDATE record_list_meta SET sealed = ? WHERE record_id = ? AND account_id = ?', y!.sealed, x!.record_id, a.patient.id)
    await db().run('UPDATE record_list_meta SET sealed = ? WHERE record_id = ? AND account_id = ?', x!.sealed, y!.record_id, a.patient.id)
    // The patient's copy given to the author (another reader's key).
    await db().run('UPDATE record_list_meta SET sealed = ? WHERE record_id = ? AND account_id = ?', x!.sealed, x!.record_id, a.doctor.id)
    // And damaged.
    await db().run('UPDATE record_list_meta SET sealed = ? WHERE record_id = ? AND account_id = ?', 'AAAA.AAAA', y!.record_id, a.doctor.id)
    assert.deepEqual(await list(a.patient.token), whole)
    assert.deepEqual(await list(a.doctor.token, `&patient=${encodeURIComponent(a.patient.email)}`), whole)
    // Each was opened through the record's envelopes again and its copy sealed anew.
    const now = new Map((await copies(a.patient.id)).map((c) => [c.record_id, c.sealed]))
    assert.notEqual(now.get(x!.record_id), y!.sealed)
    assert.notEqual(now.get(y!.record_id), x!.sealed)
  })

  it('a record whose row no longer matches its anchor shows its problem although its reader holds a copy', async () => {
    const whole = await list(a.patient.token)
    const target = whole.records[0]!
    const row = (await db().get<{ envelopes: string }>('SELECT envelopes FROM records WHERE record_id = ?', target.recordId))!
    await db().run('UPDATE records SET envelopes = ? WHERE record_id = ?', `0x${'cd'.repeat(32)}`, target.recordId)
    try {
      const listed = await list(a.patient.token)
      assert.equal(listed.total, names.length)
      assert.deepEqual(listed.records.filter((r) => r.problem !== undefined).map((r) => [r.recordId, r.fileName, r.problem]), [[target.recordId, '', 'RECORD_INTEGRITY']])
    } finally {
      await db().run('UPDATE records SET envelopes = ? WHERE record_id = ?', row.envelopes, target.recordId)
    }
    assert.deepEqual(await list(a.patient.token), whole)
  })

  it('a grantee\'s copies decide nothing: once the patient revokes the grant, the next block\'s listing shows nothing although the copies are still there', async () => {
    const req = await api.json('POST', '/access-requests', { patient: a.patient.email, purpose: 'care', days: 7 }, b.doctor.token)
    assert.equal(req.status, 201, JSON.stringify(req.body))
    assert.equal((await api.json('POST', `/access-requests/${req.body.requestId}/approve`, {}, a.patient.token)).status, 200)
    const query = `&patient=${encodeURIComponent(a.patient.email)}`
    const granted = await list(b.doctor.token, query)
    assert.deepEqual(granted.records.map((r) => r.fileName).sort(), names)
    assert.equal((await copies(b.doctor.id)).length, names.length)
    assert.deepEqual(await list(b.doctor.token, query), granted, 'the second listing, from the copies, is the same')
    const block = await node.node.services.ledger.client.getBlockNumber({ cacheTime: 0 })
    assert.equal((await api.json('POST', `/access-requests/${req.body.requestId}/revoke`, undefined, a.patient.token)).status, 200)
    assert.ok(await node.node.services.ledger.client.getBlockNumber({ cacheTime: 0 }) > block)
    assert.equal((await api.json('GET', `/records?limit=100${query}`, undefined, b.doctor.token)).status, 404)
    // The database made to say approved again (as a node that has not yet seen the revocation):
    // the chain's answer at the listing's block refuses it, copies or not.
    const status = (await db().get<{ status: string }>('SELECT status FROM access_requests WHERE request_id = ?', req.body.requestId))!.status
    await db().run(`UPDATE access_requests SET status = 'approved' WHERE request_id = ?`, req.body.requestId)
    try {
      const refused = await list(b.doctor.token, query)
      assert.deepEqual([refused.total, refused.records], [0, []])
    } finally {
      await db().run('UPDATE access_requests SET status = ? WHERE request_id = ?', status, req.body.requestId)
    }
    assert.equal((await copies(b.doctor.id)).length, names.length, 'the copies are still held; access is the chain\'s answer')
  })

  it('a record re-keyed away takes every reader\'s copy of it along', async () => {
    const old = (await list(a.patient.token)).records.at(-1)!.recordId
    assert.ok((await copies(a.patient.id)).some((c) => c.record_id === old))
    const r = await api.json('POST', `/records/${old}/rekey`, undefined, a.patient.token)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.equal((await db().all('SELECT 1 AS x FROM record_list_meta WHERE record_id = ?', old)).length, 0)
    const listed = await list(a.patient.token)
    assert.deepEqual(listed.records.map((x) => x.fileName).sort(), names)
    assert.ok((await copies(a.patient.id)).some((c) => c.record_id === r.body.recordId))
  })
})
