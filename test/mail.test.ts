import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Api, cleanup, runCli, seed, startNodeProcess, tempDir, testEnv, type NodeProcess } from './helpers/node-process.ts'
import { openMailDb, sentinels, startSmtpServer, waitFor, type TestSmtpServer } from './helpers/mail-fixtures.ts'
import { notify, type NotifyParams } from '../src/notify/notify.ts'

/**
 * Puts notifications in a running node's outbox the way the consent flows will: `notify` on the
 * node's own database (SQLite in WAL mode takes a second writer; Postgres takes any number), with the node's configuration.
 */
async function notifyNode(node: NodeProcess, env: Record<string, string>, ...all: NotifyParams[]): Promise<void> {
  const { db, config } = await openMailDb({ home: node.home, dbUrl: node.dbUrl, env })
  try {
    for (const n of all) await notify({ db, config }, { ...n, ...sentinels } as NotifyParams)
  } finally {
    await db.close()
  }
}

type Mail = { id: number; kind: string; subject: string; body: string; state: string; createdAt: string; sentAt: string | null }

describe('notifications on a node without SMTP: kept in the outbox, read through the API and the CLI', () => {
  let node: NodeProcess
  let api: Api
  let s: Awaited<ReturnType<typeof seed>>
  const cliHome = tempDir('ml-mail-cli-')
  const expiresAt = new Date('2030-06-01T12:00:00Z')

  before(async () => {
    node = await startNodeProcess()
    api = new Api(node.url)
    s = await seed(api)
    await notifyNode(node, {},
      { kind: 'access-requested', accountId: s.patient.id, by: { accountId: s.doctor.id }, recordCount: 'all', durationSeconds: 30 * 86400 },
      { kind: 'access-approved', accountId: s.doctor.id, by: { accountId: s.patient.id }, recordCount: 'all', expiresAt },
      { kind: 'emergency-access', accountId: s.patient.id, by: { accountId: s.doctor.id }, expiresAt },
    )
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home, cliHome)
  })

  const secrets = () => [s.admin, s.doctor.token, s.patient.token, s.doctor.password, s.patient.password, testEnv.MEDLEDGER_ADMIN_PASSWORD, ...Object.values(sentinels)]

  it('GET /mail gives the patient their own notifications, newest first, kept', async () => {
    const r = await api.json<{ mail: Mail[]; total: number; limit: number; offset: number }>('GET', '/mail', undefined, s.patient.token)
    assert.equal(r.status, 200)
    assert.equal(r.body.total, 2)
    assert.deepEqual({ limit: r.body.limit, offset: r.body.offset }, { limit: 50, offset: 0 })
    assert.deepEqual(r.body.mail.map((m) => m.kind), ['emergency-access', 'access-requested'])
    for (const m of r.body.mail) {
      assert.equal(m.state, 'kept')
      assert.equal(m.sentAt, null)
      assert.ok(!Number.isNaN(Date.parse(m.createdAt)))
      assert.match(m.body, /^Hello patient a,/)
      assert.match(m.body, /doctor a \(doctor\)/)
      for (const secret of secrets()) assert.ok(!m.subject.includes(secret) && !m.body.includes(secret), `${m.kind} holds no secret`)
    }
    assert.match(r.body.mail[0].body, /opened emergency \(break-glass\) access to your records, until 2030-06-01 12:00 UTC/)
    assert.match(r.body.mail[1].body, /asks to read all your records for 30 days/)
  })

  it('shows the doctor only theirs, the admin only their own (none), and nobody without a session', async () => {
    const d = await api.json<{ mail: Mail[] }>('GET', '/mail', undefined, s.doctor.token)
    assert.deepEqual(d.body.mail.map((m) => m.kind), ['access-approved'])
    assert.match(d.body.mail[0].subject, /^patient a approved your access request$/)
    const a = await api.json('GET', '/mail', undefined, s.admin)
    assert.equal(a.status, 200)
    assert.deepEqual(a.body, { mail: [], total: 0, limit: 50, offset: 0 })
    const anon = await api.json('GET', '/mail', undefined, null)
    assert.equal(anon.status, 401)
    assert.equal(anon.body.code, 'UNAUTHENTICATED')
  })

  it('pages with limit and offset, and refuses values out of range', async () => {
    const page = await api.json<{ mail: Mail[]; total: number }>('GET', '/mail?limit=1&offset=1', undefined, s.patient.token)
    assert.deepEqual(page.body.mail.map((m) => m.kind), ['access-requested'])
    assert.equal(page.body.total, 2)
    for (const q of ['limit=0', 'limit=201', 'offset=-1', 'limit=abc']) {
      const bad = await api.json('GET', `/mail?${q}`, undefined, s.patient.token)
      assert.equal(bad.status, 400, q)
      assert.equal(bad.body.code, 'VALIDATION_FAILED', q)
    }
    // There is no parameter to read someone else's mail: an unknown one is dropped, not obeyed.
    const other = await api.json<{ mail: Mail[] }>('GET', `/mail?account=${s.doctor.id}&accountId=${s.doctor.id}`, undefined, s.patient.token)
    assert.deepEqual(other.body.mail.map((m) => m.kind), ['emergency-access', 'access-requested'])
  })

  it('documents the route in the OpenAPI document', async () => {
    const doc = (await api.json('GET', '/openapi.json')).body
    const op = doc.paths['/api/v1/mail'].get
    assert.deepEqual(op.parameters.map((p: { name: string }) => p.name).sort(), ['limit', 'offset'])
    assert.deepEqual(op.responses['200'].content['application/json'].schema.properties.mail.items.properties.state.enum, ['kept', 'queued', 'sent', 'failed'])
  })

  it('medledger mail list --json prints the signed-in user\'s notifications; without --json, readable text', async () => {
    const cli = (args: string[], input?: string) => runCli(args, { api: node.url, cliHome, input })
    const none = await cli(['mail', 'list', '--json'])
    assert.notEqual(none.code, 0)
    assert.match(none.stderr, /UNAUTHENTICATED/)
    assert.equal((await cli(['login', '--email', s.patient.email, '--json'], `${s.patient.password}\n`)).code, 0)
    const r = await cli(['mail', 'list', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as { mail: Mail[]; total: number }
    assert.equal(out.total, 2)
    assert.deepEqual(out.mail.map((m) => m.kind), ['emergency-access', 'access-requested'])
    assert.deepEqual(out.mail, (await api.json('GET', '/mail', undefined, s.patient.token)).body.mail)
    const one = JSON.parse((await cli(['mail', 'list', '--json', '--limit', '1'])).stdout) as { mail: Mail[] }
    assert.equal(one.mail.length, 1)
    const text = await cli(['mail', 'list'])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /Subject: Emergency access to your records/)
    assert.match(text.stdout, /^ {4}Hello patient a,$/m)
    assert.match(text.stdout, /2 of 2 message\(s\)\./)
    const bad = await cli(['mail', 'list', '--limit', '0'])
    assert.match(bad.stderr, /VALIDATION_FAILED/)
  })
})

describe('notifications on a node with MEDLEDGER_SMTP_URL: queued, then sent by the node\'s mail worker', () => {
  let node: NodeProcess
  let api: Api
  let smtp: TestSmtpServer
  let s: Awaited<ReturnType<typeof seed>>
  const pass = 'node-smtp-secret-9d2f'
  let env: Record<string, string>

  before(async () => {
    smtp = await startSmtpServer({ user: 'node', pass })
    env = { MEDLEDGER_SMTP_URL: `smtp://node:${pass}@127.0.0.1:${smtp.port}`, MEDLEDGER_MAIL_FROM: 'St Mary MedLedger <medledger@stmary.example.org>' }
    node = await startNodeProcess({ env })
    api = new Api(node.url)
    s = await seed(api)
  })
  after(async () => {
    await node?.stop()
    await smtp?.close()
    cleanup(node?.home)
  })

  it('delivers a notification to the SMTP server and shows it as sent', async () => {
    await notifyNode(node, env, { kind: 'access-denied', accountId: s.doctor.id, by: { accountId: s.patient.id } })
    const queued = await api.json<{ mail: Mail[] }>('GET', '/mail', undefined, s.doctor.token)
    assert.ok(['queued', 'sent'].includes(queued.body.mail[0].state))
    const m = await waitFor(() => smtp.messages[0], { timeoutMs: 20_000, what: 'the node to send the message' })
    assert.equal(m.from, 'St Mary MedLedger <medledger@stmary.example.org>')
    assert.equal(m.to, s.doctor.email)
    assert.equal(m.subject, 'patient a denied your access request')
    assert.equal(m.user, 'node')
    for (const secret of Object.values(sentinels)) assert.ok(!m.raw.includes(secret))
    const after = await waitForState(api, s.doctor.token, 'sent')
    assert.ok(after.sentAt && Date.parse(after.sentAt) >= Date.parse(after.createdAt))
    assert.match(node.output(), new RegExp(`mail: sending through smtp://127\\.0\\.0\\.1:${smtp.port}`))
    assert.ok(!node.output().includes(pass), 'the node never logs the SMTP password')
  })
})

async function waitForState(api: Api, token: string, state: string): Promise<Mail> {
  const until = Date.now() + 10_000
  for (;;) {
    const m = (await api.json<{ mail: Mail[] }>('GET', '/mail', undefined, token)).body.mail[0]
    if (m?.state === state) return m
    if (Date.now() > until) throw new Error(`mail did not reach state ${state}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
