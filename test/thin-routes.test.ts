import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../src/config.ts'
import { startNode, type RunningNode } from '../src/node/start-node.ts'
import { buildApp } from '../src/api/build-app.ts'
import { cleanup, tempDir, testEnv } from './helpers/node-process.ts'

// The routes whose SQL moved into the domain (hospitals, status counts, replicas) and whose
// body, query and params types now come from their schemas: one real node (home, SQLite,
// embedded anvil, Helia) in this process, its API built by buildApp and called with inject().
describe('thin routes answer as before', async () => {
  const home = tempDir('ml-thin-')
  let node: RunningNode
  let app: FastifyInstance
  let token: string

  before(async () => {
    node = await startNode({ config: loadConfig({ flags: { home }, env: testEnv }), env: testEnv })
    app = await buildApp({ services: node.services })
    const login = await call('POST', '/auth/login', { body: { email: testEnv.MEDLEDGER_ADMIN_EMAIL, password: testEnv.MEDLEDGER_ADMIN_PASSWORD } })
    assert.equal(login.statusCode, 200)
    token = (login.json() as { token: string }).token
  })
  after(async () => {
    await app?.close()
    await node?.stop()
    cleanup(home)
  })

  const call = (method: 'GET' | 'POST', url: string, { auth, body }: { auth?: boolean; body?: object } = {}) =>
    app.inject({ method, url: `/api/v1${url}`, headers: auth ? { authorization: `Bearer ${token}` } : {}, ...(body ? { payload: body } : {}) })

  it('GET /status counts from the domain: no records, the admin active, the quarantine empty', async () => {
    const res = await call('GET', '/status')
    assert.equal(res.statusCode, 200)
    const body = res.json() as Record<string, unknown>
    assert.equal(body.records, 0)
    assert.equal(body.accounts, 1)
    assert.equal(body.quarantinedEvents, 0)
    assert.equal(typeof body.hospitals, 'number')
  })

  it('GET /hospitals needs a session and lists a hospital created by POST /hospitals', async () => {
    assert.equal((await call('GET', '/hospitals')).statusCode, 401)
    const before = (await call('GET', '/hospitals', { auth: true })).json() as { hospitals: { name: string }[] }
    const created = await call('POST', '/hospitals', { auth: true, body: { name: 'Thin Route Clinic' } })
    assert.equal(created.statusCode, 201)
    const after = await call('GET', '/hospitals', { auth: true })
    assert.equal(after.statusCode, 200)
    const names = (after.json() as { hospitals: { name: string }[] }).hospitals.map((h) => h.name)
    assert.equal(names.length, before.hospitals.length + 1)
    assert.equal(names.at(-1), 'Thin Route Clinic')
    assert.equal(((await call('GET', '/status')).json() as { hospitals: number }).hospitals, names.length)
  })

  it('GET /replicas and /replicas/:id: admin only, a bad id is 400, an unknown record 404', async () => {
    assert.equal((await call('GET', '/replicas')).statusCode, 401)
    const list = await call('GET', '/replicas?limit=5', { auth: true })
    assert.equal(list.statusCode, 200)
    assert.deepEqual(list.json(), { replicas: [] })
    assert.equal((await call('GET', '/replicas?limit=0', { auth: true })).json().code, 'VALIDATION_FAILED')
    const bad = await call('GET', '/replicas/not-a-record', { auth: true })
    assert.equal(bad.statusCode, 400)
    assert.equal(bad.json().code, 'INVALID_RECORD_ID')
    const unknown = await call('GET', `/replicas/0x${'ab'.repeat(32)}`, { auth: true })
    assert.equal(unknown.statusCode, 404)
    assert.equal(unknown.json().code, 'RECORD_NOT_FOUND')
  })

  it('typed query, body and params reach the domain: mail defaults, a body that breaks its schema is refused', async () => {
    const mail = await call('GET', '/mail', { auth: true })
    assert.equal(mail.statusCode, 200)
    assert.deepEqual({ limit: mail.json().limit, offset: mail.json().offset }, { limit: 50, offset: 0 })
    const missing = await call('POST', '/users/resolve', { auth: true, body: { reference: testEnv.MEDLEDGER_ADMIN_EMAIL } })
    assert.equal(missing.statusCode, 400)
    assert.equal(missing.json().code, 'VALIDATION_FAILED')
    // As before: a key the schema does not name is dropped (Fastify's removeAdditional), not refused.
    const me = await call('POST', '/users/resolve', { auth: true, body: { ref: testEnv.MEDLEDGER_ADMIN_EMAIL, more: 1 } })
    assert.equal(me.statusCode, 200)
    assert.equal(me.json().role, 'admin')
    const unknown = await call('GET', `/access-requests/0x${'cd'.repeat(32)}`, { auth: true })
    assert.equal(unknown.statusCode, 404)
  })

  it('a request the HTTP parser refuses (headers too large) gets 431 HEADERS_TOO_LARGE as { code, message }', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(`GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`))
      let text = ''
      socket.on('data', (d) => { text += d.toString() })
      socket.on('close', () => resolve(text))
      socket.on('error', (err) => (text ? resolve(text) : reject(err)))
    })
    assert.match(raw, /^HTTP\/1\.1 431 /)
    assert.equal(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).code, 'HEADERS_TOO_LARGE')
  })
})
