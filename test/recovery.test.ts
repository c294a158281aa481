import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Api, cleanup, seed, startNodeProcess, type NodeProcess } from './helpers/node-process.ts'

describe('password recovery with the recovery code', () => {
  let node: NodeProcess
  let api: Api
  let s: Awaited<ReturnType<typeof seed>>

  before(async () => {
    node = await startNodeProcess()
    api = new Api(node.url)
    s = await seed(api)
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home)
  })

  it('sets a new password, rotates the code, ends old sessions, and keeps the keys (records still open)', async () => {
    const signup = await api.json('POST', '/signup', { role: 'patient', hospital: s.hospital.id, email: 'forgetful@example.org', name: 'Forgetful', password: 'first-password-123' }, null)
    const code = signup.body.recoveryCode as string
    const old = await api.login('forgetful@example.org', 'first-password-123')
    const up = await api.upload(s.doctor.token, 'forgetful@example.org', 'note.txt', Buffer.from('kept across a reset'))
    assert.equal(up.status, 201)

    const wrong = await api.json('POST', '/auth/recover', { email: 'forgetful@example.org', recoveryCode: 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA', newPassword: 'second-password-123' }, null)
    assert.equal(wrong.status, 401)
    assert.equal(wrong.body.code, 'INVALID_CREDENTIALS')
    const weak = await api.json('POST', '/auth/recover', { email: 'forgetful@example.org', recoveryCode: code, newPassword: 'short' }, null)
    assert.equal(weak.body.code, 'WEAK_PASSWORD')
    assert.equal((await api.json('GET', '/auth/me', undefined, old)).status, 200, 'failed attempts change nothing')

    const ok = await api.json('POST', '/auth/recover', { email: 'forgetful@example.org', recoveryCode: code, newPassword: 'second-password-123' }, null)
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.notEqual(ok.body.recoveryCode, code)
    assert.equal((await api.json('GET', '/auth/me', undefined, old)).status, 401, 'old sessions ended')
    const oldPassword = await api.json('POST', '/auth/login', { email: 'forgetful@example.org', password: 'first-password-123' }, null)
    assert.equal(oldPassword.status, 401)
    const token = await api.login('forgetful@example.org', 'second-password-123')
    const got = await api.download(token, up.body.recordId)
    assert.equal(got.status, 200)
    assert.equal(got.bytes.toString(), 'kept across a reset')
    const reused = await api.json('POST', '/auth/recover', { email: 'forgetful@example.org', recoveryCode: code, newPassword: 'third-password-123' }, null)
    assert.equal(reused.status, 401, 'the old recovery code no longer works')
  })

  it('status reports the IPFS storage used', async () => {
    const st = await api.json('GET', '/status')
    assert.ok(st.body.ipfsBytes > 0)
  })
})
