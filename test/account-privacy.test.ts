import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createPublicClient, http, type Address } from 'viem'
import { registryAbi } from '../src/ledger/abis.ts'
import { Api, cleanup, seed, startNodeProcess, type NodeProcess } from './helpers/node-process.ts'

// Issue 9, items 2 and 11: who may see which account, and no answer that tells who has one.

const keys = (o: object) => Object.keys(o).sort()

describe('account privacy: who sees which account, and nobody learns who has one', () => {
  let node: NodeProcess
  let api: Api
  let a: Awaited<ReturnType<typeof seed>>
  let b: Awaited<ReturnType<typeof seed>>
  let bystander: { id: string; email: string }

  before(async () => {
    node = await startNodeProcess()
    api = new Api(node.url)
    a = await seed(api, { hospitalName: 'Alpha', tag: 'alpha' })
    b = await seed(api, { hospitalName: 'Beta', tag: 'beta' })
    const r = await api.json('POST', '/users', { role: 'patient', hospital: a.hospital.id, email: 'bystander@example.org', name: 'Bystander', password: 'bystander-password-123' }, a.admin)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    bystander = r.body.account
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home)
  })

  const allIds = async () => (await api.json('GET', '/users', undefined, a.admin)).body.users.map((u: { id: string }) => u.id) as string[]
  const mail = async (token: string) => (await api.json('GET', '/mail', undefined, token)).body.mail as { kind: string; subject: string; body: string }[]

  it('sign-up with a taken address answers like a fresh one, stores and registers nothing, and mails the owner', async () => {
    const fresh = await api.json('POST', '/signup', { role: 'patient', hospital: a.hospital.id, email: 'fresh@example.org', name: 'Fresh Person', password: 'fresh-password-123' }, null)
    assert.equal(fresh.status, 201, JSON.stringify(fresh.body))
    const before = await allIds()
    const mailBefore = (await mail(a.patient.token)).length

    const taken = await api.json('POST', '/signup', { role: 'patient', hospital: a.hospital.id, email: ` ${a.patient.email.toUpperCase()} `, name: 'Intruder Name', password: 'intruder-password-123' }, null)
    assert.equal(taken.status, fresh.status)
    assert.deepEqual(keys(taken.body), keys(fresh.body))
    assert.deepEqual(keys(taken.body.account), keys(fresh.body.account))
    assert.equal(taken.body.account.status, fresh.body.account.status)
    assert.equal(taken.body.account.email, a.patient.email)
    assert.equal(taken.body.account.name, 'Intruder Name')
    assert.equal(typeof taken.body.recoveryCode, 'string')
    assert.equal(taken.body.recoveryCode.length, fresh.body.recoveryCode.length)
    assert.notEqual(taken.body.account.id, a.patient.id)
    assert.notEqual(taken.body.account.address, a.patient.address)

    // The same for a doctor's sign-up with a doctor's address: pending, like a fresh doctor.
    const freshDoctor = await api.json('POST', '/signup', { role: 'doctor', hospital: a.hospital.id, email: 'fresh-doctor@example.org', name: 'Dr Fresh', password: 'fresh-password-123', licence: 'LIC-1234' }, null)
    const takenDoctor = await api.json('POST', '/signup', { role: 'doctor', hospital: a.hospital.id, email: a.doctor.email, name: 'Dr Intruder', password: 'intruder-password-123', licence: 'LIC-5678' }, null)
    assert.equal(takenDoctor.status, freshDoctor.status)
    assert.deepEqual(keys(takenDoctor.body.account), keys(freshDoctor.body.account))
    assert.equal(takenDoctor.body.account.status, 'pending')

    // Nothing stored: the admin sees the same accounts (plus the fresh doctor), none with the answers' ids.
    const after = await allIds()
    assert.deepEqual(after, [...before, freshDoctor.body.account.id])
    assert.ok(!after.includes(taken.body.account.id) && !after.includes(takenDoctor.body.account.id))
    // Nothing registered on chain: the Registry knows no key for the answers' addresses.
    const st = (await api.json('GET', '/status')).body
    const chain = createPublicClient({ transport: http(st.chainRpc) })
    const keyOf = (address: string) => chain.readContract({ address: st.contracts.registry, abi: registryAbi, functionName: 'encryptionKeyOf', args: [address as Address] })
    assert.notEqual(await keyOf(fresh.body.account.address), `0x${'0'.repeat(64)}`)
    assert.equal(await keyOf(taken.body.account.address), `0x${'0'.repeat(64)}`)
    assert.equal(await keyOf(takenDoctor.body.account.address), `0x${'0'.repeat(64)}`)

    // The second password does not sign in, the answer's recovery code recovers nothing; the owner's password still works.
    const wrong = await api.json('POST', '/auth/login', { email: a.patient.email, password: 'intruder-password-123' }, null)
    assert.equal(wrong.status, 401, JSON.stringify(wrong.body))
    const recover = await api.json('POST', '/auth/recover', { email: a.patient.email, recoveryCode: taken.body.recoveryCode, newPassword: 'intruder-password-456' }, null)
    assert.ok(recover.status >= 400 && recover.status < 500, JSON.stringify(recover.body))
    a.patient.token = await api.login(a.patient.email, a.patient.password)
    a.doctor.token = await api.login(a.doctor.email, a.doctor.password)

    // The owner is told, and the message holds nothing the stranger typed.
    const got = await mail(a.patient.token)
    assert.equal(got.length, mailBefore + 1)
    assert.equal(got[0].kind, 'sign-up-attempted')
    assert.match(got[0].body, /no account was created/)
    assert.match(got[0].body, /recovery code/)
    assert.ok(!got[0].body.includes('Intruder') && !got[0].body.includes('intruder-password'))
    assert.ok((await mail(a.doctor.token)).some((m) => m.kind === 'sign-up-attempted'))
  })

  it('password recovery answers alike for an address with no account and for a wrong recovery code', async () => {
    const code = 'AAAA-BBBB-CCCC-DDDD-EEEE-FFFF'
    const known = await api.json('POST', '/auth/recover', { email: bystander.email, recoveryCode: code, newPassword: 'another-password-123' }, null)
    const unknown = await api.json('POST', '/auth/recover', { email: 'nobody-here@example.org', recoveryCode: code, newPassword: 'another-password-123' }, null)
    assert.equal(known.status, 401)
    assert.equal(unknown.status, known.status)
    assert.deepEqual(unknown.body, known.body)
  })

  it('GET /audit?patient= answers alike for a patient the caller may not see and for no patient at all', async () => {
    const ask = async (ref: string, token: string) => api.json('GET', `/audit?patient=${encodeURIComponent(ref)}`, undefined, token)
    for (const token of [b.patient.token, a.doctor.token, b.doctor.token]) {
      const known = await ask(a.patient.id, token)
      const unknown = await ask(randomUUID(), token)
      const knownByEmail = await ask(a.patient.email, token)
      const unknownByEmail = await ask('nobody-here@example.org', token)
      assert.equal(known.status, 404, JSON.stringify(known.body))
      for (const other of [unknown, knownByEmail, unknownByEmail]) {
        assert.equal(other.status, known.status)
        assert.deepEqual(other.body, known.body)
      }
      assert.equal(known.body.code, 'UNKNOWN_PATIENT')
    }
    assert.equal((await ask(a.patient.id, a.patient.token)).status, 200)
    assert.equal((await ask(a.patient.id, a.admin)).status, 200)
  })

  it('a pending doctor lists only themselves and looks nobody up: resolve and GET /records?patient= answer alike, known or not', async () => {
    const email = 'pending-privacy@example.org'
    const r = await api.json('POST', '/signup', { role: 'doctor', hospital: a.hospital.id, email, name: 'Dr Pending', password: 'pending-password-123', licence: 'LIC-4321' }, null)
    assert.equal(r.status, 201)
    const token = await api.login(email, 'pending-password-123')
    const users = (await api.json('GET', '/users', undefined, token)).body.users as { id: string }[]
    assert.deepEqual(users.map((u) => u.id), [r.body.account.id])
    assert.deepEqual((await api.json('GET', '/users?role=patient', undefined, token)).body.users, [])

    const self = await api.json('POST', '/users/resolve', { ref: email }, token)
    assert.equal(self.status, 200)
    assert.equal(self.body.id, r.body.account.id)
    const known = await api.json('POST', '/users/resolve', { ref: a.patient.email }, token)
    assert.equal(known.status, 404)
    assert.equal(known.body.code, 'UNKNOWN_ACCOUNT')
    for (const ref of ['nobody-here@example.org', a.patient.id, a.patient.address, randomUUID()]) {
      const other = await api.json('POST', '/users/resolve', { ref }, token)
      assert.equal(other.status, 404)
      assert.deepEqual(other.body, known.body)
    }
    const records = await api.json('GET', `/records?patient=${encodeURIComponent(a.patient.id)}`, undefined, token)
    const none = await api.json('GET', `/records?patient=${encodeURIComponent(randomUUID())}`, undefined, token)
    assert.equal(records.status, 404)
    assert.deepEqual(records.body, none.body)
    assert.equal(records.body.code, 'UNKNOWN_PATIENT')
  })

  it('a confirmed doctor lists only patients they care for and resolves any other patient to id, address and role', async () => {
    const patientIds = async (token: string) => ((await api.json('GET', '/users?role=patient', undefined, token)).body.users as { id: string }[]).map((u) => u.id)
    // No relationship yet: no patient listed, not even the doctor's own hospital's.
    assert.deepEqual(await patientIds(a.doctor.token), [])
    const minimal = await api.json('POST', '/users/resolve', { ref: a.patient.email }, a.doctor.token)
    assert.equal(minimal.status, 200)
    assert.deepEqual(minimal.body, { id: a.patient.id, address: a.patient.address, role: 'patient' })
    // A doctor of another hospital: the same minimal answer; only patients, never a list.
    assert.deepEqual((await api.json('POST', '/users/resolve', { ref: a.patient.address }, b.doctor.token)).body, { id: a.patient.id, address: a.patient.address, role: 'patient' })
    const notPatient = await api.json('POST', '/users/resolve', { ref: a.doctor.email }, b.doctor.token)
    const nobody = await api.json('POST', '/users/resolve', { ref: 'nobody-here@example.org' }, b.doctor.token)
    assert.equal(notPatient.status, 404)
    assert.deepEqual(notPatient.body, nobody.body)

    // The id is enough to upload: then the doctor authored a record and sees the patient in full.
    const up = await api.upload(a.doctor.token, minimal.body.id, 'note.txt', Buffer.from('a note'))
    assert.equal(up.status, 201, JSON.stringify(up.body))
    assert.deepEqual(await patientIds(a.doctor.token), [a.patient.id])
    const full = await api.json('POST', '/users/resolve', { ref: a.patient.email }, a.doctor.token)
    assert.equal(full.body.email, a.patient.email)
    assert.equal(full.body.name, a.patient.name)

    // A pending request is a care relationship too; a denied one no longer is.
    assert.deepEqual(await patientIds(b.doctor.token), [])
    const req = await api.json('POST', '/access-requests', { patient: minimal.body.id, purpose: 'second opinion', days: 1 }, b.doctor.token)
    assert.equal(req.status, 201, JSON.stringify(req.body))
    assert.deepEqual(await patientIds(b.doctor.token), [a.patient.id])
    const denied = await api.json('POST', `/access-requests/${req.body.requestId}/deny`, { reason: 'no' }, a.patient.token)
    assert.equal(denied.status, 200, JSON.stringify(denied.body))
    assert.deepEqual(await patientIds(b.doctor.token), [])
    assert.ok(!(await patientIds(a.doctor.token)).includes(bystander.id))
  })

  it('hospital staff see their own hospital only; a patient sees and resolves only themselves', async () => {
    const staffEmail = 'staff-beta-privacy@example.org'
    const created = await api.json('POST', '/users', { role: 'staff', hospital: b.hospital.id, email: staffEmail, name: 'Beta Staff', password: 'staff-password-123' }, a.admin)
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const staff = await api.login(staffEmail, 'staff-password-123')
    const seen = (await api.json('GET', '/users', undefined, staff)).body.users as { id: string; hospitalId: string }[]
    assert.ok(seen.length >= 3)
    assert.ok(seen.every((u) => u.hospitalId === b.hospital.id))
    assert.ok(seen.some((u) => u.id === b.patient.id) && seen.some((u) => u.id === b.doctor.id))
    const other = await api.json('POST', '/users/resolve', { ref: a.patient.email }, staff)
    assert.equal(other.status, 404)
    assert.equal(other.body.code, 'UNKNOWN_ACCOUNT')
    assert.equal((await api.json('POST', '/users/resolve', { ref: b.patient.email }, staff)).body.email, b.patient.email)

    assert.deepEqual(((await api.json('GET', '/users', undefined, a.patient.token)).body.users as { id: string }[]).map((u) => u.id), [a.patient.id])
    const peer = await api.json('POST', '/users/resolve', { ref: bystander.email }, a.patient.token)
    assert.equal(peer.status, 404)
    assert.deepEqual(peer.body, (await api.json('POST', '/users/resolve', { ref: 'nobody-here@example.org' }, a.patient.token)).body)
  })
})
