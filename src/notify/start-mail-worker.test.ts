import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { createMailer, type Mailer } from './create-mailer.ts'
import { startMailWorker } from './start-mail-worker.ts'
import { notify } from './notify.ts'
import type { Config } from '../config.ts'
import { cleanup, tempDir } from '../../test/helpers/node-process.ts'
import { bodyOf, insertAccount, insertHospital, openMailDb, sentinels, startSmtpServer, waitFor, type TestSmtpServer } from '../../test/helpers/mail-fixtures.ts'

const user = 'medledger-mailer'
const pass = 'p@ss:w/rd %secret-SMTP'
const from = 'MedLedger Test <no-reply@medledger.test>'
const smtpUrl = (port: number, password = pass) => `smtp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}`
/** Every form in which the SMTP password could leak into an error or a log line. */
const passwordForms = [pass, encodeURIComponent(pass), Buffer.from(`\0${user}\0${pass}`).toString('base64'), Buffer.from(pass).toString('base64')]

describe('mail delivery through a real SMTP server (smtp-server on 127.0.0.1)', async () => {
  const home = tempDir('ml-mail-')
  const { db, config: base } = await openMailDb({ home })
  const logs: string[] = []
  const log = (level: string, msg: string) => { logs.push(`${level}: ${msg}`) }
  let patient = ''
  let doctor = ''
  const servers: TestSmtpServer[] = []
  const mailers: Mailer[] = []

  const row = async (id: number) => await db.get('SELECT * FROM outbox WHERE id = ?', id) as { state: string; error: string | null; sent_at: number | null; to_address: string; subject: string; body: string }
  const lastId = async () => (await db.get('SELECT max(id) AS id FROM outbox') as { id: number }).id
  const queue = async (config: Readonly<Config>) => {
    await notify({ db, config }, { kind: 'access-requested', accountId: patient, by: { accountId: doctor }, recordCount: 'all', durationSeconds: 7 * 86400 })
    return await lastId()
  }
  const mailerFor = (url: string, opts: { timeoutMs?: number } = {}) => {
    const m = createMailer({ smtpUrl: url, from, ...opts })
    mailers.push(m)
    return m
  }
  const assertNoPassword = (text: string | null | undefined, where: string) => {
    for (const f of passwordForms) assert.ok(!(text ?? '').includes(f), `${where} holds no form of the SMTP password`)
  }

  before(async () => {
    const h = await insertHospital(db, 'St Mary')
    patient = await insertAccount(db, { role: 'patient', name: 'Ann Smith', email: 'ann@example.org', hospitalId: h })
    doctor = await insertAccount(db, { role: 'doctor', name: 'Dr House', email: 'house@example.org', hospitalId: h })
    await db.run(`INSERT INTO access_requests (request_id, requester_id, patient_id, purpose_code, purpose, duration_s, status, created_at) VALUES ('0x01', ?, ?, 1, ?, 604800, 'pending', ?)`, doctor, patient, sentinels.purpose, Date.now())
  })
  after(async () => {
    for (const m of mailers) m.close()
    for (const s of servers) await s.close()
    await db.close()
    cleanup(home)
  })

  it('sends a queued notification with AUTH, From, To and Subject, marks it sent, and the body holds no secret', async () => {
    const server = await startSmtpServer({ user, pass })
    servers.push(server)
    const config = { ...base, smtpUrl: smtpUrl(server.port) }
    const id = await queue(config)
    assert.equal((await row(id)).state, 'queued')
    const worker = startMailWorker({ db, log, mailer: mailerFor(config.smtpUrl) }, { intervalMs: 20 })
    try {
      await waitFor(async () => (await row(id)).state === 'sent', { what: 'the message to be sent' })
    } finally {
      await worker.stop()
    }
    const r = await row(id)
    assert.ok(r.sent_at !== null && r.sent_at <= Date.now())
    assert.equal(r.error, null)
    assert.equal(server.messages.length, 1)
    const m = server.messages[0]
    assert.equal(m.user, user, 'the worker signed in')
    assert.equal(m.from, from)
    assert.equal(m.to, 'ann@example.org')
    assert.equal(m.subject, r.subject)
    assert.equal(m.subject, 'Dr House asks to read your records')
    const body = bodyOf(m.raw)
    assert.match(body, /Dr House \(doctor\) asks to read all your records for 7 days\./)
    assert.match(m.raw, /content-type: text\/plain/i)
    for (const [what, value] of Object.entries(sentinels)) assert.ok(!m.raw.includes(value), `the message holds no ${what}`)
    assertNoPassword(m.raw, 'the message')
    assertNoPassword(logs.join('\n'), 'the log')
  })

  it('marks a message failed while the server is down, and sends it once the server is back', async () => {
    // Take a free port, then leave it closed: connections are refused.
    const probe = await startSmtpServer({ user, pass })
    const port = probe.port
    await probe.close()
    const config = { ...base, smtpUrl: smtpUrl(port) }
    const id = await queue(config)
    const worker = startMailWorker({ db, log, mailer: mailerFor(config.smtpUrl) }, { intervalMs: 20, maxDelayMs: 100 })
    try {
      const failed = await waitFor(async () => (await row(id)).state === 'failed' && await row(id), { what: 'the first attempt to fail' })
      assert.match(failed.error!, /ECONNECTION|ECONNREFUSED/)
      assertNoPassword(failed.error, 'the error text')
      assert.ok(logs.some((l) => l.startsWith(`warn: mail ${id}: not sent through smtp://127.0.0.1:${port}`)))
      assertNoPassword(logs.join('\n'), 'the log')
      assert.ok(!logs.join('\n').includes('ann@example.org'), 'the log names no recipient')

      const server = await startSmtpServer({ user, pass, port })
      servers.push(server)
      await waitFor(async () => (await row(id)).state === 'sent', { what: 'the retry to succeed' })
      assert.equal((await row(id)).error, null)
      assert.equal(server.messages.length, 1)
      assert.equal(server.messages[0].to, 'ann@example.org')
    } finally {
      await worker.stop()
    }
  })

  it('keeps retrying a refused sign-in with a growing delay, and the error text holds no credential', async () => {
    const server = await startSmtpServer({ user, pass: 'the-right-password' })
    servers.push(server)
    const config = { ...base, smtpUrl: smtpUrl(server.port) }
    const id = await queue(config)
    const worker = startMailWorker({ db, log, mailer: mailerFor(config.smtpUrl) }, { intervalMs: 20 })
    const started = Date.now()
    try {
      await waitFor(() => server.connections >= 3, { what: 'three attempts' })
    } finally {
      await worker.stop()
    }
    const elapsed = Date.now() - started
    const r = await row(id)
    assert.equal(r.state, 'failed')
    assert.match(r.error!, /EAUTH/)
    assertNoPassword(r.error, 'the error text')
    assertNoPassword(logs.join('\n'), 'the log')
    // Without back-off three attempts take ~40 ms; with it, at least 20 + 40 ms pass between them.
    assert.ok(elapsed >= 55, `attempts were spread out (${elapsed} ms)`)
    assert.equal(server.messages.length, 0)
  })

  it('stops at once, even with a message stuck on a server that never answers, and leaves it waiting', async () => {
    const sockets: Socket[] = []
    const silent: Server = createServer((s) => { sockets.push(s) })
    silent.listen(0, '127.0.0.1')
    await once(silent, 'listening')
    const port = (silent.address() as AddressInfo).port
    try {
      const config = { ...base, smtpUrl: smtpUrl(port) }
      const id = await queue(config)
      const worker = startMailWorker({ db, log, mailer: mailerFor(config.smtpUrl, { timeoutMs: 30_000 }) }, { intervalMs: 20 })
      await waitFor(() => sockets.length > 0, { what: 'the worker to connect' })
      const t0 = Date.now()
      await worker.stop()
      assert.ok(Date.now() - t0 < 1000, 'stop() did not wait for the SMTP timeout')
      assert.equal((await row(id)).state, 'queued')
      // Nothing runs after stop(): a new message stays queued.
      const id2 = await queue(config)
      await new Promise((r) => setTimeout(r, 100))
      assert.equal((await row(id2)).state, 'queued')
    } finally {
      for (const s of sockets) s.destroy()
      silent.close()
    }
  })
})
