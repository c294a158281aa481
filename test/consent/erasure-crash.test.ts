import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Api, cleanup, seed, startNodeProcess, tempDir, type NodeProcess } from '../helpers/node-process.ts'
import { crashAfterSend, crashEnv, waitFor } from '../helpers/crash-after-send.ts'

// An erasure request, then a decision, whose transaction was sent but whose receipt the node
// never handled (killed -9 with it in the chain's pool, the chain losing it too): at the next
// start the journal sends it again and the node's follower writes what the flow did not.
describe('erasure, then an access approval, a share token, a break-glass, a team grant and a team member: killed -9 after each was sent', () => {
  const home = tempDir('ml-erasure-crash-')
  let node: NodeProcess | undefined
  let people: Awaited<ReturnType<typeof seed>>
  let secondAddress: string
  let teamOf: { id: string; recordId: string }
  let staffSender: string
  after(async () => {
    await node?.stop()
    cleanup(home)
  })

  it('the request is listed for staff and patient after the restart, the rejection too, and the patient may ask again', async () => {
    node = await startNodeProcess({ home, env: crashEnv })
    let api = new Api(node.url)
    people = await seed(api)
    const made = await api.json('POST', '/users', { role: 'staff', hospital: people.hospital.id, email: 'staff@example.org', name: 'Staff', password: 'staff-password-123' }, people.admin)
    assert.equal(made.status, 201, JSON.stringify(made.body))
    const staffAddress = made.body.account.address as string
    staffSender = staffAddress
    const up = await api.upload(people.doctor.token, people.patient.email, 'scan.bin', randomBytes(40_000))
    assert.equal(up.status, 201, JSON.stringify(up.body))
    const recordId: string = up.body.recordId

    node = await crashAfterSend(node, people.patient.address, () => api.json('POST', `/records/${recordId}/erasure`, { reason: 'moved abroad' }, people.patient.token))
    api = new Api(node.url)
    let patient = await api.login(people.patient.email, people.patient.password)
    let staff = await api.login('staff@example.org', 'staff-password-123')
    const listed = await waitFor(() => api.json('GET', '/erasures', undefined, staff), (r) => r.body.erasures?.length === 1)
    assert.equal(listed.status, 200)
    assert.deepEqual(listed.body.erasures.map((e: any) => [e.recordId, e.status]), [[recordId, 'pending']], 'staff see the request the chain holds')
    assert.match(listed.body.erasures[0].requestTx, /^0x[0-9a-f]{64}$/)
    const erasureId: string = listed.body.erasures[0].erasureId
    assert.deepEqual((await api.json('GET', '/erasures', undefined, patient)).body.erasures.map((e: any) => e.erasureId), [erasureId])
    assert.equal((await api.json('POST', `/records/${recordId}/erasure`, { reason: 'again' }, patient)).body.code, 'ERASURE_PENDING')
    assert.equal((await api.download(patient, recordId)).status, 200, 'the record reads until a decision')

    node = await crashAfterSend(node, staffAddress, () => api.json('POST', `/erasures/${erasureId}/reject`, { reason: 'retention duty' }, staff))
    api = new Api(node.url)
    patient = await api.login(people.patient.email, people.patient.password)
    staff = await api.login('staff@example.org', 'staff-password-123')
    const decided = await waitFor(() => api.json('GET', '/erasures', undefined, staff), (r) => r.body.erasures?.[0]?.status !== 'pending')
    assert.deepEqual(decided.body.erasures.map((e: any) => [e.erasureId, e.status]), [[erasureId, 'rejected']], 'the rejection the chain holds')
    assert.match(decided.body.erasures[0].decisionTx, /^0x[0-9a-f]{64}$/)
    assert.equal((await api.json('POST', `/erasures/${erasureId}/reject`, { reason: 'twice' }, staff)).body.code, 'ERASURE_NOT_PENDING')

    // The patient asks again and staff confirm: the record is erased.
    const again = await api.json('POST', `/records/${recordId}/erasure`, { reason: 'moved abroad' }, patient)
    assert.equal(again.status, 201, JSON.stringify(again.body))
    const confirmed = await api.json('POST', `/erasures/${again.body.erasureId}/confirm`, undefined, staff)
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body))
    assert.equal((await api.download(patient, recordId)).json?.code, 'RECORD_ERASED')
    const all = (await api.json('GET', '/erasures', undefined, staff)).body.erasures
    assert.deepEqual(all.map((e: any) => e.status).sort(), ['confirmed', 'rejected'])
    assert.equal(all.find((e: any) => e.status === 'confirmed').reason, 'moved abroad')
  })

  // The same node, running on: a patient's approval, then a share token, whose flow wrote its row
  // only after the receipt; the follower writes it from the node's own event.
  it('the approval and the share token the chain holds are the node\'s after each restart: the doctor reads, the patient sees and revokes the token', async () => {
    let api = new Api(node!.url)
    let patient = await api.login(people.patient.email, people.patient.password)
    const made = await api.json('POST', '/users', { role: 'doctor', hospital: people.hospital.id, email: 'second@example.org', name: 'Second', password: 'second-password-123' }, people.admin)
    assert.equal(made.status, 201, JSON.stringify(made.body))
    secondAddress = made.body.account.address
    let second = await api.login('second@example.org', 'second-password-123')
    const up = await api.upload(people.doctor.token, people.patient.email, 'lab.bin', randomBytes(20_000))
    assert.equal(up.status, 201, JSON.stringify(up.body))
    const recordId: string = up.body.recordId
    const asked = await api.json('POST', '/access-requests', { patient: people.patient.email, recordIds: [recordId], purpose: 'second opinion', days: 2 }, second)
    assert.equal(asked.status, 201, JSON.stringify(asked.body))
    const requestId: string = asked.body.requestId

    node = await crashAfterSend(node!, people.patient.address, () => api.json('POST', `/access-requests/${requestId}/approve`, null, patient))
    api = new Api(node.url)
    patient = await api.login(people.patient.email, people.patient.password)
    second = await api.login('second@example.org', 'second-password-123')
    const view = (r: any) => r.body.requests?.find((q: any) => q.requestId === requestId)
    const approved = await waitFor(() => api.json('GET', '/access-requests', undefined, second), (r) => view(r)?.status !== 'pending')
    assert.equal(view(approved)?.status, 'approved', node.output().split('\n').filter((l) => /warn|error|quarant/i.test(l)).join('\n'))
    assert.equal((await api.download(second, recordId)).status, 200, 'the doctor reads under the approval the chain holds')
    assert.equal((await api.json('POST', `/access-requests/${requestId}/approve`, null, patient)).body.code, 'REQUEST_NOT_PENDING')

    node = await crashAfterSend(node, people.patient.address, () => api.json('POST', '/shares', { recordIds: [recordId], token: true, days: 1 }, patient))
    api = new Api(node.url)
    patient = await api.login(people.patient.email, people.patient.password)
    const listed = await waitFor(() => api.json('GET', '/shares', undefined, patient), (r) => r.body.shares?.some((v: any) => v.byToken))
    const share = listed.body.shares.find((v: any) => v.byToken)
    assert.ok(share, `the token share the chain holds is listed: ${JSON.stringify(listed.body)}`)
    assert.deepEqual([share.recordIds, share.live], [[recordId], true])
    const revoked = await api.json('POST', `/shares/${share.shareId}/revoke`, undefined, patient)
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body))
    assert.equal(revoked.body.revoked, true)
  })

  // The same node: a doctor's break-glass, whose flow wrote the emergency only after the receipt
  // and only then had the patient's hospital release the keys.
  it('the emergency the chain holds is the node\'s after the restart: the keys are released and the doctor reads', async () => {
    let api = new Api(node!.url)
    let second = await api.login('second@example.org', 'second-password-123')
    const up = await api.upload(people.doctor.token, people.patient.email, 'ecg.bin', randomBytes(20_000))
    assert.equal(up.status, 201, JSON.stringify(up.body))
    const recordId: string = up.body.recordId
    assert.notEqual((await api.download(second, recordId)).status, 200, 'no grant covers the new record')

    node = await crashAfterSend(node!, secondAddress, () => api.json('POST', '/emergencies', { patient: people.patient.email, reason: 'unconscious, allergies unknown' }, second))
    api = new Api(node.url)
    second = await api.login('second@example.org', 'second-password-123')
    const listed = await waitFor(() => api.json('GET', '/emergencies', undefined, second), (r) => r.body.emergencies?.[0]?.live === true)
    assert.deepEqual(listed.body.emergencies?.map((e: any) => e.live), [true], JSON.stringify(listed.body))
    assert.match(listed.body.emergencies[0].releaseTx, /^0x[0-9a-f]{64}$/)
    assert.equal((await api.download(second, recordId)).status, 200, 'the doctor reads under the emergency the chain holds')
  })

  // The same node: the patient's grant to a care team, whose flow wrote it only after the receipt.
  it('the team grant the chain holds is the node\'s after the restart: a member reads', async () => {
    let api = new Api(node!.url)
    const staff = await api.login('staff@example.org', 'staff-password-123')
    const made = await api.json('POST', '/users', { role: 'doctor', hospital: people.hospital.id, email: 'third@example.org', name: 'Third', password: 'third-password-123' }, people.admin)
    assert.equal(made.status, 201, JSON.stringify(made.body))
    const team = await api.json('POST', '/teams', { name: 'Night ward' }, staff)
    assert.equal(team.status, 201, JSON.stringify(team.body))
    const teamId: string = team.body.teamId
    assert.equal((await api.json('POST', `/teams/${teamId}/members`, { doctor: made.body.account.id }, staff)).status, 200)
    const up = await api.upload(people.doctor.token, people.patient.email, 'notes.bin', randomBytes(10_000))
    assert.equal(up.status, 201, JSON.stringify(up.body))
    let third = await api.login('third@example.org', 'third-password-123')
    assert.notEqual((await api.download(third, up.body.recordId)).status, 200, 'no grant yet')
    const patient = await api.login(people.patient.email, people.patient.password)

    node = await crashAfterSend(node!, people.patient.address, () => api.json('POST', `/teams/${teamId}/grant`, { days: 7 }, patient))
    api = new Api(node.url)
    third = await api.login('third@example.org', 'third-password-123')
    const read = await waitFor(() => api.download(third, up.body.recordId), (r) => r.status === 200)
    assert.equal(read.status, 200, 'the member reads under the grant the chain holds')
    teamOf = { id: teamId, recordId: up.body.recordId }
  })

  // The same node: staff add a doctor to the team, whose flow wrote the member only after the
  // receipt; the member's key wraps need the staff's key, so they are written (pending) before.
  it('the member the chain holds is the team\'s after the restart: listed, reads under the team\'s grant, and can be removed', async () => {
    let api = new Api(node!.url)
    let staff = await api.login('staff@example.org', 'staff-password-123')
    const made = await api.json('POST', '/users', { role: 'doctor', hospital: people.hospital.id, email: 'fourth@example.org', name: 'Fourth', password: 'fourth-password-123' }, people.admin)
    assert.equal(made.status, 201, JSON.stringify(made.body))
    const fourthId: string = made.body.account.id
    let fourth = await api.login('fourth@example.org', 'fourth-password-123')
    assert.notEqual((await api.download(fourth, teamOf.recordId)).status, 200, 'not a member yet')

    node = await crashAfterSend(node!, staffSender, () => api.json('POST', `/teams/${teamOf.id}/members`, { doctor: fourthId }, staff))
    api = new Api(node.url)
    staff = await api.login('staff@example.org', 'staff-password-123')
    fourth = await api.login('fourth@example.org', 'fourth-password-123')
    const members = (r: any) => r.body.teams?.find((x: any) => x.teamId === teamOf.id)?.members?.map((m: any) => m.id) ?? []
    const listed = await waitFor(() => api.json('GET', '/teams', undefined, staff), (r) => members(r).includes(fourthId))
    assert.ok(members(listed).includes(fourthId), `the member the chain holds is listed: ${JSON.stringify(listed.body)}`)
    assert.equal((await api.download(fourth, teamOf.recordId)).status, 200, 'the member reads under the team\'s grant')
    assert.equal((await api.json('POST', `/teams/${teamOf.id}/members`, { doctor: fourthId }, staff)).body.code, 'TEAM_MEMBER_EXISTS')
    const removed = await api.json('DELETE', `/teams/${teamOf.id}/members/${fourthId}`, undefined, staff)
    assert.equal(removed.status, 200, JSON.stringify(removed.body))
    assert.notEqual((await api.download(fourth, teamOf.recordId)).status, 200, 'removed: no read')
  })
})
