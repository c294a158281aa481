import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Api, cleanup, startNodeProcess, testEnv, type NodeProcess } from './helpers/node-process.ts'

describe('admitting hospitals: the admin while there is one member, a strict majority of members after', () => {
  let node: NodeProcess
  let api: Api
  let admin = ''
  const staff: Record<string, string> = {}

  before(async () => {
    node = await startNodeProcess()
    api = new Api(node.url)
    admin = await api.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home)
  })

  const addStaff = async (hospitalId: string, tag: string) => {
    const r = await api.json('POST', '/users', { role: 'staff', hospital: hospitalId, email: `staff-${tag}@example.org`, name: `Staff ${tag}`, password: 'staff-password-123' }, admin)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    staff[tag] = await api.login(`staff-${tag}@example.org`, 'staff-password-123')
  }
  const vote = (tag: string, id: string, approve: boolean) => api.json('POST', `/hospitals/${id}/vote`, { approve }, staff[tag])

  it('admits the first two directly, then needs votes: one of three is not enough, two are', async () => {
    const first = await api.json('POST', '/hospitals', { name: 'One' }, admin)
    assert.equal(first.body.status, 'active')
    const second = await api.json('POST', '/hospitals', { name: 'Two' }, admin)
    assert.equal(second.body.status, 'active', 'with one member the admin admits')
    await addStaff(first.body.id, 'one')
    await addStaff(second.body.id, 'two')

    const third = await api.json('POST', '/hospitals', { name: 'Three' }, admin)
    assert.equal(third.body.status, 'proposed', 'with two members, a vote')
    let r = await vote('one', third.body.id, true)
    assert.equal(r.body.status, 'proposed', '1 of 2 is not a strict majority')
    r = await vote('two', third.body.id, true)
    assert.equal(r.body.status, 'active')
    await addStaff(third.body.id, 'three')

    const fourth = await api.json('POST', '/hospitals', { name: 'Four' }, admin)
    assert.equal(fourth.body.status, 'proposed')
    r = await vote('three', fourth.body.id, true)
    assert.equal(r.body.status, 'proposed', 'one vote of three members is not enough')
    const twice = await vote('three', fourth.body.id, true)
    assert.equal(twice.status, 502)
    assert.equal(twice.body.code, 'LEDGER_REVERTED', 'a member votes once')
    r = await vote('one', fourth.body.id, true)
    assert.equal(r.body.status, 'active', 'two of three admit')
  })

  it('refuses a vote from anyone but a member hospital\'s staff', async () => {
    const fifth = await api.json('POST', '/hospitals', { name: 'Five' }, admin)
    const byAdmin = await api.json('POST', `/hospitals/${fifth.body.id}/vote`, { approve: true }, admin)
    assert.equal(byAdmin.status, 403)
    assert.equal(byAdmin.body.code, 'FORBIDDEN')
    const anonymous = await api.json('POST', `/hospitals/${fifth.body.id}/vote`, { approve: true }, null)
    assert.equal(anonymous.status, 401)
  })
})
