import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Api, cleanup, fixtures, seed, startNodeProcess, testEnv, type NodeProcess } from './helpers/node-process.ts'

/** Moves the embedded chain's clock: expiry is the chain's to decide, never a sleep. */
async function advanceChain(rpc: string, seconds: number): Promise<void> {
  for (const [method, params] of [['evm_increaseTime', [seconds]], ['evm_mine', []]] as const) {
    const res = await fetch(rpc, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
    const body = (await res.json()) as { error?: unknown }
    assert.equal(body.error, undefined)
  }
}

describe('consent, sharing, break-glass and the audit trail (real chain, real node)', () => {
  let node: NodeProcess
  let api: Api
  let a: Awaited<ReturnType<typeof seed>>
  let b: Awaited<ReturnType<typeof seed>>
  let rpc = ''
  let ccda: Buffer
  let dicom: Buffer
  let ccdaId = ''
  let dicomId = ''
  const purposeText = 'Follow-up of the cardiology referral zq7'
  const denyText = 'I do not know this clinic xk3'
  const emergencyText = 'Unconscious on arrival, allergy check wv9'

  before(async () => {
    node = await startNodeProcess({ args: ['--chain-dev-methods'] }) // advanceChain moves the clock
    api = new Api(node.url)
    a = await seed(api, { hospitalName: 'North Hospital', tag: 'north' })
    b = await seed(api, { hospitalName: 'South Hospital', tag: 'south' })
    rpc = (await api.json('GET', '/status')).body.chainRpc
    ccda = readFileSync(join(fixtures, 'ccda', 'Angelique249_Koelpin146_2d88ba8f-b46a-fe33-1c6a-c2d96167fb5a.xml'))
    dicom = readFileSync(join(fixtures, 'dicom', 'CT_small.dcm'))
    ccdaId = (await api.upload(a.doctor.token, a.patient.email, 'summary.xml', ccda)).body.recordId
    dicomId = (await api.upload(a.doctor.token, a.patient.email, 'scan.dcm', dicom)).body.recordId
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home)
  })

  const read = (token: string | null, id: string, headers: Record<string, string> = {}) =>
    api.call('GET', `/records/${id}`, { token, headers }).then(async (r) => ({ status: r.status, bytes: Buffer.from(await r.arrayBuffer()) }))
  const code = async (r: { status: number; bytes: Buffer }) => JSON.parse(r.bytes.toString()).code as string

  it('a doctor of another hospital requests, the patient approves, the doctor reads, the patient revokes, then 404', async () => {
    assert.equal((await read(b.doctor.token, ccdaId)).status, 404, 'no access before consent')
    const req = await api.json('POST', '/access-requests', { patient: a.patient.address, purpose: purposeText, days: 7 }, b.doctor.token)
    assert.equal(req.status, 201, JSON.stringify(req.body))
    assert.equal(req.body.status, 'pending')
    const id = req.body.requestId
    // The patient is told, with no purpose text in the message.
    const mail = await api.json('GET', '/mail', undefined, a.patient.token)
    const note = mail.body.mail.find((m: any) => m.kind === 'access-requested')
    assert.ok(note, 'the patient was notified')
    assert.ok(!note.body.includes(purposeText))

    const ok = await api.json('POST', `/access-requests/${id}/approve`, {}, a.patient.token)
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(ok.body.status, 'approved')
    const got = await read(b.doctor.token, ccdaId)
    assert.equal(got.status, 200)
    assert.ok(got.bytes.equals(ccda))
    const list = await api.json('GET', `/records?patient=${a.patient.id}`, undefined, b.doctor.token)
    assert.equal(list.body.total, 2, 'the granted doctor lists the patient\'s records')

    const rev = await api.json('POST', `/access-requests/${id}/revoke`, undefined, a.patient.token)
    assert.equal(rev.body.status, 'revoked')
    assert.equal((await read(b.doctor.token, ccdaId)).status, 404)
  })

  it('grants end when the chain\'s clock passes their expiry', async () => {
    const req = await api.json('POST', '/access-requests', { patient: a.patient.email, recordIds: [dicomId], purpose: 'second opinion', days: 2 }, b.doctor.token)
    await api.json('POST', `/access-requests/${req.body.requestId}/approve`, { days: 1 }, a.patient.token)
    assert.equal((await read(b.doctor.token, dicomId)).status, 200)
    assert.equal((await read(b.doctor.token, ccdaId)).status, 404, 'narrowed to the listed record')
    await advanceChain(rpc, 86_400 + 60)
    assert.equal((await read(b.doctor.token, dicomId)).status, 404)
    const view = await api.json('GET', `/access-requests/${req.body.requestId}`, undefined, a.patient.token)
    assert.equal(view.body.status, 'expired')
  })

  it('refuses: the requester approving, another patient approving, deciding twice, reading after denial', async () => {
    const req = await api.json('POST', '/access-requests', { patient: a.patient.email, purpose: 'check', days: 1 }, b.doctor.token)
    const id = req.body.requestId
    const count = async () => (await api.json('GET', '/access-requests', undefined, a.patient.token)).body.requests.filter((r: any) => r.status === 'pending').length
    const pending = await count()
    const own = await api.json('POST', `/access-requests/${id}/approve`, {}, b.doctor.token)
    assert.equal(own.status, 403)
    assert.equal(own.body.code, 'NOT_REQUEST_PATIENT')
    const other = await api.json('POST', `/access-requests/${id}/approve`, {}, b.patient.token)
    assert.equal(other.status, 404)
    assert.equal(other.body.code, 'REQUEST_NOT_FOUND')
    assert.equal(await count(), pending, 'nothing changed')
    const denied = await api.json('POST', `/access-requests/${id}/deny`, { reason: denyText }, a.patient.token)
    assert.equal(denied.body.status, 'denied')
    const again = await api.json('POST', `/access-requests/${id}/approve`, {}, a.patient.token)
    assert.equal(again.status, 409)
    assert.equal(again.body.code, 'REQUEST_NOT_PENDING')
    assert.equal((await read(b.doctor.token, ccdaId)).status, 404)
  })

  it('a pending or rejected doctor can sign in but neither request access nor upload', async () => {
    const signup = await api.json('POST', '/signup', { role: 'doctor', hospital: a.hospital.id, email: 'newdoc@example.org', name: 'New Doc', password: 'doctor-password-123', licence: 'MD-12345' }, null)
    assert.equal(signup.status, 201, JSON.stringify(signup.body))
    assert.equal(signup.body.account.status, 'pending')
    const token = await api.login('newdoc@example.org', 'doctor-password-123')
    const req = await api.json('POST', '/access-requests', { patient: a.patient.email, purpose: 'x', days: 1 }, token)
    assert.equal(req.status, 403)
    assert.equal(req.body.code, 'DOCTOR_NOT_CONFIRMED')
    const up = await api.upload(token, a.patient.email, 'x.txt', Buffer.from('x'))
    assert.equal(up.status, 403)
    assert.equal(up.body.code, 'DOCTOR_NOT_CONFIRMED')
    const pending = await api.json('GET', '/doctors/pending', undefined, a.admin)
    assert.ok(pending.body.doctors.some((d: any) => d.email === 'newdoc@example.org' && d.licence === 'MD-12345'))
    const rejected = await api.json('POST', `/doctors/${signup.body.account.id}/reject`, { reason: 'Licence not found' }, a.admin)
    assert.equal(rejected.body.status, 'rejected')
    const after = await api.json('POST', '/access-requests', { patient: a.patient.email, purpose: 'x', days: 1 }, token).catch(() => ({ status: 401, body: { code: 'SESSION_EXPIRED' } }))
    assert.ok([401, 403].includes(after.status))

    const signup2 = await api.json('POST', '/signup', { role: 'doctor', hospital: a.hospital.id, email: 'gooddoc@example.org', name: 'Good Doc', password: 'doctor-password-123', licence: 'MD-67890' }, null)
    const confirmed = await api.json('POST', `/doctors/${signup2.body.account.id}/confirm`, undefined, a.admin)
    assert.equal(confirmed.body.status, 'active')
    const token2 = await api.login('gooddoc@example.org', 'doctor-password-123')
    assert.equal((await api.upload(token2, a.patient.email, 'ok.txt', Buffer.from('ok'))).status, 201)
  })

  it('shares records with a named user, and by a single-use token that works once without an account', async () => {
    const named = await api.json('POST', '/shares', { recordIds: [ccdaId], to: b.doctor.email, days: 3 }, a.patient.token)
    assert.equal(named.status, 201, JSON.stringify(named.body))
    assert.equal((await read(b.doctor.token, ccdaId)).status, 200)
    assert.equal((await read(b.doctor.token, dicomId)).status, 404, 'only the shared record')
    await api.json('POST', `/shares/${named.body.shareId}/revoke`, undefined, a.patient.token)
    assert.equal((await read(b.doctor.token, ccdaId)).status, 404)

    const t = await api.json('POST', '/shares', { recordIds: [dicomId], token: true, days: 1, once: true }, a.patient.token)
    assert.match(t.body.token, /^[A-Za-z0-9_-]{43}$/)
    const altered = t.body.token.slice(0, -2) + (t.body.token.endsWith('AA') ? 'BB' : 'AA')
    const bad = await read(null, dicomId, { 'x-medledger-share-token': altered })
    assert.equal(bad.status, 404)
    assert.equal(await code(bad), 'SHARE_TOKEN_INVALID')
    const guessed = await read(null, dicomId, { 'x-medledger-share-token': 'A'.repeat(43) })
    assert.equal(await code(guessed), 'SHARE_TOKEN_INVALID')
    const first = await read(null, dicomId, { 'x-medledger-share-token': t.body.token })
    assert.equal(first.status, 200)
    assert.ok(first.bytes.equals(dicom))
    const second = await read(null, dicomId, { 'x-medledger-share-token': t.body.token })
    assert.equal(second.status, 404)
    assert.equal(await code(second), 'SHARE_TOKEN_INVALID')

    const t2 = await api.json('POST', '/shares', { recordIds: [ccdaId], token: true, days: 1 }, a.patient.token)
    assert.equal((await read(null, ccdaId, { 'x-medledger-share-token': t2.body.token })).status, 200)
    await advanceChain(rpc, 86_400 + 60)
    const expired = await read(null, ccdaId, { 'x-medledger-share-token': t2.body.token })
    assert.equal(await code(expired), 'SHARE_TOKEN_INVALID')
  })

  it('break-glass: refused without a reason; with one, on chain first, then the doctor reads and the patient is told', async () => {
    const empty = await api.json('POST', '/emergencies', { patient: a.patient.email, reason: '   ' }, b.doctor.token)
    assert.equal(empty.status, 400)
    assert.equal(empty.body.code, 'EMPTY_REASON')
    assert.equal((await api.json('GET', '/emergencies', undefined, a.admin)).body.emergencies.length, 0, 'nothing recorded')
    const e = await api.json('POST', '/emergencies', { patient: a.patient.email, reason: emergencyText }, b.doctor.token)
    assert.equal(e.status, 201, JSON.stringify(e.body))
    assert.ok(e.body.declareTx && e.body.releaseTx)
    const got = await read(b.doctor.token, dicomId)
    assert.equal(got.status, 200)
    assert.ok(got.bytes.equals(dicom))
    const review = await api.json('GET', '/emergencies', undefined, a.admin)
    assert.equal(review.body.emergencies[0].reason, emergencyText)
    const mail = await api.json('GET', '/mail', undefined, a.patient.token)
    assert.ok(mail.body.mail.some((m: any) => m.kind === 'emergency-access' && !m.body.includes(emergencyText)))
    await advanceChain(rpc, 24 * 3600 + 60)
    assert.equal((await read(b.doctor.token, dicomId)).status, 404, 'the window closed')
  })

  it('the patient sees every access in the audit trail, newest first, emergencies flagged; others may not look', async () => {
    const trail = await api.json('GET', `/audit?patient=${a.patient.id}`, undefined, a.patient.token)
    assert.equal(trail.status, 200)
    const events = trail.body.entries.map((e: any) => e.event)
    for (const name of ['RecordAnchored', 'AccessRequested', 'AccessApproved', 'AccessDenied', 'AccessRevoked', 'Shared', 'ShareRevoked', 'ShareTokenUsed', 'EmergencyDeclared', 'EmergencyKeyReleased', 'AccessLogged']) {
      assert.ok(events.includes(name), `${name} is in the trail`)
    }
    const times = trail.body.entries.map((e: any) => e.blockNumber)
    assert.deepEqual(times, [...times].sort((x: number, y: number) => y - x), 'newest first')
    assert.ok(trail.body.entries.some((e: any) => e.emergency && e.why === emergencyText))
    assert.ok(trail.body.entries.some((e: any) => e.event === 'AccessLogged' && e.actor.name === b.doctor.name))
    // Another patient's trail answers as no patient at all: it tells nobody who has an account.
    const forbidden = await api.json('GET', `/audit?patient=${a.patient.id}`, undefined, b.patient.token)
    assert.equal(forbidden.status, 404)
    assert.deepEqual(forbidden.body, (await api.json('GET', `/audit?patient=${randomUUID()}`, undefined, b.patient.token)).body)
    const admin = await api.json('GET', `/audit?record=${dicomId}`, undefined, a.admin)
    assert.ok(admin.body.entries.length >= 3)
  })

  it('puts no name, e-mail, file name, purpose or reason on the chain', async () => {
    const secrets = [a.patient.email, a.doctor.email, b.doctor.email, a.patient.name, b.doctor.name, 'summary.xml', 'scan.dcm', purposeText, denyText, emergencyText, 'North Hospital', 'Licence not found', 'MD-12345']
    const needles = secrets.map((t) => Buffer.from(t, 'utf8').toString('hex').toLowerCase())
    const call = async (method: string, params: unknown[]) => {
      const r = await fetch(rpc, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
      return ((await r.json()) as { result: any }).result
    }
    const latest = parseInt(await call('eth_blockNumber', []), 16)
    let scanned = 0
    for (let n = 0; n <= latest; n++) {
      const block = await call('eth_getBlockByNumber', [`0x${n.toString(16)}`, true])
      for (const tx of block.transactions) {
        const receipt = await call('eth_getTransactionReceipt', [tx.hash])
        const haystack = [tx.input, ...receipt.logs.flatMap((l: any) => [l.data, ...l.topics])].join('').toLowerCase()
        for (const [i, needle] of needles.entries()) assert.ok(!haystack.includes(needle), `"${secrets[i]}" found on chain in ${tx.hash}`)
        scanned++
      }
    }
    assert.ok(scanned > 30, `scanned ${scanned} transactions`)
  })
})

void testEnv
