import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { hexToBytes } from 'viem'
import { Api, cleanup, fixtures, seed, startNodeProcess, type NodeProcess } from './helpers/node-process.ts'
import { blockFilePath } from '../src/storage/block-path.ts'
import { cidFromDigest } from '../src/storage/read-verified.ts'
import { cipherSuites } from '../src/crypto/stream.ts'

const fixtureFiles = readdirSync(fixtures).flatMap((dir) => {
  try {
    return readdirSync(join(fixtures, dir)).map((f) => join(fixtures, dir, f))
  } catch {
    return []
  }
})

describe('the record pipeline on one embedded node (real anvil, Helia, SQLite, HTTP)', () => {
  let node: NodeProcess
  let api: Api
  let s: Awaited<ReturnType<typeof seed>>
  let other: Awaited<ReturnType<typeof seed>>
  const limit = 4 * 1024 * 1024

  before(async () => {
    node = await startNodeProcess({ env: { MEDLEDGER_MAX_UPLOAD_BYTES: String(limit) } })
    api = new Api(node.url)
    s = await seed(api, { hospitalName: 'St Mary', tag: 'a' })
    other = await seed(api, { hospitalName: 'General', tag: 'b' })
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home)
  })

  const recordCount = async () => (await api.json('GET', '/status')).body.records as number

  it('reads back every fixture, in every cipher suite, byte-identical, for the patient and the author', async () => {
    assert.ok(fixtureFiles.length >= 15, 'fixtures are present')
    for (const suite of cipherSuites) {
      for (const path of fixtureFiles) {
        const bytes = readFileSync(path)
        const up = await api.upload(s.doctor.token, s.patient.email, path.split('/').pop()!, bytes, { 'x-medledger-suite': suite })
        assert.equal(up.status, 201, JSON.stringify(up.body))
        assert.equal(up.body.suite, suite)
        assert.match(up.body.recordId, /^0x[0-9a-f]{64}$/)
        assert.match(up.body.txHash, /^0x[0-9a-f]{64}$/)
        assert.equal(up.body.cid, cidFromDigest(hexToBytes(up.body.digest), 'dag').toString())
        assert.equal(up.body.sha256, createHash('sha256').update(bytes).digest('hex'))
        for (const reader of [s.patient.token, s.doctor.token]) {
          const got = await api.download(reader, up.body.recordId)
          assert.equal(got.status, 200)
          assert.ok(got.bytes.equals(bytes), `${suite} ${path} reads back identical`)
        }
      }
    }
  })

  it('stores a 0-byte file as a valid record', async () => {
    const up = await api.upload(s.doctor.token, s.patient.id, 'empty.txt', new Uint8Array(0))
    assert.equal(up.status, 201)
    assert.equal(up.body.size, 0)
    const got = await api.download(s.patient.token, up.body.recordId)
    assert.equal(got.status, 200)
    assert.equal(got.bytes.length, 0)
  })

  it('serves a record as an attachment the browser will not run, with its file name and media type', async () => {
    const up = await api.upload(s.doctor.token, s.patient.address, 'report é.xml', Buffer.from('<r/>'), { 'content-type': 'application/xml' })
    assert.equal(up.status, 201)
    const got = await api.download(s.patient.token, up.body.recordId)
    assert.equal(got.headers.get('content-type'), 'application/xml')
    assert.equal(got.headers.get('content-disposition'), `attachment; filename*=UTF-8''${encodeURIComponent('report é.xml')}`)
    assert.match(got.headers.get('content-security-policy') ?? '', /sandbox/)
  })

  it('gives 404 to anyone but the patient and the author', async () => {
    const up = await api.upload(s.doctor.token, s.patient.email, 'note.txt', Buffer.from('private'))
    for (const token of [other.doctor.token, other.patient.token, s.admin]) {
      const got = await api.download(token, up.body.recordId)
      assert.equal(got.status, 404)
      assert.equal(got.json.code, 'RECORD_NOT_FOUND')
      const meta = await api.json('GET', `/records/${up.body.recordId}/meta`, undefined, token)
      assert.equal(meta.status, 404)
    }
    const anon = await api.download(null, up.body.recordId)
    assert.equal(anon.status, 401)
    assert.equal(anon.json.code, 'UNAUTHENTICATED')
  })

  it('lists a patient\'s records and a doctor\'s uploads with decrypted metadata, and nobody else\'s', async () => {
    const mine = await api.json('GET', '/records?limit=1000', undefined, s.patient.token)
    assert.equal(mine.status, 200)
    assert.ok(mine.body.total > 60)
    assert.ok(mine.body.records.every((r: any) => r.patient.id === s.patient.id && r.fileName))
    const uploads = await api.json('GET', `/records?patient=${s.patient.id}&limit=5`, undefined, s.doctor.token)
    assert.equal(uploads.body.records.length, 5)
    assert.equal(uploads.body.total, mine.body.total)
    const none = await api.json('GET', '/records', undefined, other.patient.token)
    assert.equal(none.body.total, 0)
    const foreign = await api.json('GET', `/records?patient=${s.patient.id}`, undefined, other.doctor.token)
    assert.equal(foreign.status, 404)
    assert.equal(foreign.body.code, 'UNKNOWN_PATIENT')
  })

  describe('bad input: a 4xx with a stable code, nothing written, the node goes on serving', () => {
    const cases: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
      ['wrong password', () => api.json('POST', '/auth/login', { email: s.doctor.email, password: 'not-the-password' }, null), 401, 'INVALID_CREDENTIALS'],
      ['unknown e-mail', () => api.json('POST', '/auth/login', { email: 'nobody@example.org', password: 'whatever-password' }, null), 401, 'INVALID_CREDENTIALS'],
      ['unknown patient', () => api.upload(s.doctor.token, 'nobody@example.org', 'x.txt', Buffer.from('x')), 404, 'UNKNOWN_PATIENT'],
      ['a doctor of another hospital uploading', () => api.upload(other.doctor.token, s.patient.email, 'x.txt', Buffer.from('x')), 404, 'UNKNOWN_PATIENT'],
      ['a patient uploading', () => api.upload(s.patient.token, s.patient.email, 'x.txt', Buffer.from('x')), 403, 'FORBIDDEN'],
      ['the admin uploading', () => api.upload(s.admin, s.patient.email, 'x.txt', Buffer.from('x')), 403, 'FORBIDDEN'],
      ['no session uploading', async () => { const r = await api.call('POST', '/records', { token: null, body: 'x', headers: { 'x-medledger-patient': s.patient.email, 'x-medledger-file-name': 'x' } }); return { status: r.status, body: await r.json() } }, 401, 'UNAUTHENTICATED'],
      ['a forged token', async () => { const r = await api.call('GET', '/records', { token: 'A'.repeat(43) }); return { status: r.status, body: await r.json() } }, 401, 'SESSION_EXPIRED'],
      ['no file', async () => { const r = await api.call('POST', '/records', { token: s.doctor.token, headers: { 'x-medledger-patient': s.patient.email } }); return { status: r.status, body: await r.json() } }, 400, 'MISSING_FILE'],
      ['a file over the limit (announced)', () => api.upload(s.doctor.token, s.patient.email, 'big.bin', randomBytes(limit + 1)), 413, 'FILE_TOO_LARGE'],
      ['a file over the limit (streamed, no length)', async () => {
        let sent = 0
        const body = new ReadableStream({ pull(c) { if (sent > limit) c.close(); else { sent += 1 << 20; c.enqueue(randomBytes(1 << 20)) } } })
        const r = await api.call('POST', '/records', { token: s.doctor.token, body, headers: { 'x-medledger-patient': s.patient.email, 'x-medledger-file-name': 'big.bin' } })
        return { status: r.status, body: await r.json() }
      }, 413, 'FILE_TOO_LARGE'],
      ['an unknown cipher suite', () => api.upload(s.doctor.token, s.patient.email, 'x.txt', Buffer.from('x'), { 'x-medledger-suite': 'rot13' }), 400, 'UNKNOWN_CIPHER_SUITE'],
      ['malformed JSON', async () => { const r = await api.call('POST', '/auth/login', { body: '{"email": ', headers: { 'content-type': 'application/json' } }); return { status: r.status, body: await r.json() } }, 400, 'MALFORMED_JSON'],
      ['a body that misses fields', () => api.json('POST', '/hospitals', { nom: 'x' }, s.admin), 400, 'VALIDATION_FAILED'],
      ['an unknown record id', () => api.json('GET', `/records/0x${'ab'.repeat(32)}/meta`, undefined, s.patient.token), 404, 'RECORD_NOT_FOUND'],
      ['a non-hex record id', () => api.json('GET', '/records/not-a-record/meta', undefined, s.patient.token), 400, 'INVALID_RECORD_ID'],
      ['a short record id', async () => { const r = await api.download(s.patient.token, '0x1234'); return { status: r.status, body: r.json } }, 400, 'INVALID_RECORD_ID'],
      ['a doctor creating users', () => api.json('POST', '/users', { role: 'patient', hospital: s.hospital.id, email: 'p2@example.org', name: 'P', password: 'patient-password-123' }, s.doctor.token), 403, 'FORBIDDEN'],
      ['a weak password', () => api.json('POST', '/users', { role: 'patient', hospital: s.hospital.id, email: 'p3@example.org', name: 'P', password: 'short' }, s.admin), 400, 'WEAK_PASSWORD'],
      ['a taken e-mail', () => api.json('POST', '/users', { role: 'patient', hospital: s.hospital.id, email: s.patient.email, name: 'P', password: 'patient-password-123' }, s.admin), 409, 'EMAIL_TAKEN'],
      ['an unknown hospital', () => api.json('POST', '/users', { role: 'patient', hospital: 'no-such-hospital', email: 'p4@example.org', name: 'P', password: 'patient-password-123' }, s.admin), 404, 'UNKNOWN_HOSPITAL'],
      ['an unknown route', () => api.json('GET', '/no/such/route'), 404, 'ROUTE_NOT_FOUND'],
    ]
    for (const [name, call, status, code] of cases) {
      it(name, async () => {
        const before = await recordCount()
        const users = (await api.json('GET', '/users', undefined, s.admin)).body.users.length
        const r = await call()
        assert.equal(r.status, status, JSON.stringify(r.body))
        assert.equal(r.body.code, code)
        assert.equal(typeof r.body.message, 'string')
        assert.equal(await recordCount(), before, 'no record was written')
        assert.equal((await api.json('GET', '/users', undefined, s.admin)).body.users.length, users, 'no account was written')
        assert.equal((await api.json('GET', '/health')).status, 200, 'the node goes on serving')
      })
    }
  })

  it('answers 409 RECORD_INTEGRITY and no plaintext when one byte of a stored block is flipped, and verify reports it', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 5)
    const up = await api.upload(s.doctor.token, s.patient.email, 'scan.bin', bytes)
    assert.equal(up.status, 201)
    const verifyOne = () => api.json('POST', '/verify', { recordIds: [up.body.recordId] }, s.doctor.token)
    assert.equal((await verifyOne()).body.intact, 1)
    // The root names the leaves; flip a byte in the root block file itself.
    const file = blockFilePath(join(node.home, 'ipfs'), cidFromDigest(hexToBytes(up.body.digest), 'dag'))
    const original = readFileSync(file)
    const tampered = Buffer.from(original)
    tampered[Math.floor(tampered.length / 2)] ^= 0x01
    writeFileSync(file, tampered)
    // The read's audit entry is signed as soon as access is decided, but written only once the
    // blocks checked out: a refused read leaves none (a served one, one).
    const trail = async () => (await api.json('GET', `/audit?record=${up.body.recordId}`, undefined, s.patient.token)).body.entries.length as number
    const entriesBefore = await trail()
    try {
      const got = await api.download(s.patient.token, up.body.recordId)
      assert.equal(got.status, 409)
      assert.equal(got.json.code, 'RECORD_INTEGRITY')
      assert.ok(!got.bytes.includes(bytes.subarray(0, 64)), 'no plaintext served')
      assert.equal(await trail(), entriesBefore, 'no audit entry for a read refused for integrity')
      const report = await verifyOne()
      assert.equal(report.body.intact, 0)
      assert.equal(report.body.mismatches[0].recordId, up.body.recordId)
      assert.equal(report.body.mismatches[0].problem, 'RECORD_INTEGRITY')
      const all = await api.json('POST', '/verify', { all: true }, s.admin)
      assert.equal(all.body.mismatches.length, 1)
      assert.equal(all.body.checked, await recordCount())
    } finally {
      writeFileSync(file, original)
    }
    assert.equal((await api.download(s.patient.token, up.body.recordId)).status, 200)
    assert.equal(await trail(), entriesBefore + 1, 'the served read is in the trail')
  })

  it('lets a hospital\'s staff create doctors and patients of its own hospital only, each registered on chain', async () => {
    const staff = await api.json('POST', '/users', { role: 'staff', hospital: s.hospital.address, email: 'desk@example.org', name: 'Front desk', password: 'staff-password-123' }, s.admin)
    assert.equal(staff.status, 201, JSON.stringify(staff.body))
    const token = await api.login('desk@example.org', 'staff-password-123')
    const own = await api.json('POST', '/users', { role: 'patient', email: 'walk-in@example.org', name: 'Walk In', password: 'patient-password-123' }, token)
    assert.equal(own.status, 201, JSON.stringify(own.body))
    assert.equal(own.body.account.hospitalId, s.hospital.id, 'staff default to their own hospital')
    const foreign = await api.json('POST', '/users', { role: 'doctor', hospital: other.hospital.id, email: 'x@example.org', name: 'X', password: 'doctor-password-123' }, token)
    assert.equal(foreign.status, 403)
    assert.equal(foreign.body.code, 'FORBIDDEN')
    const moreStaff = await api.json('POST', '/users', { role: 'staff', email: 'y@example.org', name: 'Y', password: 'staff-password-123' }, token)
    assert.equal(moreStaff.status, 403)
    // The doctor the staff created can upload for the hospital's patients: the chain accepted both.
    const doc = await api.json('POST', '/users', { role: 'doctor', email: 'new-doc@example.org', name: 'New Doc', password: 'doctor-password-123' }, token)
    assert.equal(doc.status, 201)
    const docToken = await api.login('new-doc@example.org', 'doctor-password-123')
    const up = await api.upload(docToken, 'walk-in@example.org', 'intake.txt', Buffer.from('intake'))
    assert.equal(up.status, 201, JSON.stringify(up.body))
  })

  it('serves the OpenAPI document and a docs page', async () => {
    const doc = await api.json('GET', '/openapi.json')
    assert.equal(doc.status, 200)
    assert.equal(doc.body.openapi, '3.1.0')
    for (const path of ['/api/v1/auth/login', '/api/v1/records', '/api/v1/records/{id}', '/api/v1/verify', '/api/v1/status', '/api/v1/users', '/api/v1/hospitals']) {
      assert.ok(doc.body.paths[path], `${path} is documented`)
    }
    const page = await fetch(`${node.url}/api/v1/docs`, { redirect: 'follow' })
    assert.equal(page.status, 200)
    assert.match(await page.text(), /swagger/i)
  })
})
