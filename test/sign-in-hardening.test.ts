// Sign-in hardening through running nodes (issue 9, items 3, 4 and 12): the SIWE site comes
// from the configuration, never the Host header; factor changes need the password in the
// request (turning TOTP off: password and a fresh code, mailed);
// recovery and staff resets clear TOTP (mailed, in the account events); the lock-out
// keys on e-mail and client address; unauthenticated routes are rate limited.
// Each node runs in this process (real database, anvil, Helia) and listens on loopback: what
// depends on the client's address or the Host header goes over its socket (`call`), set-up
// steps go through inject(), and the CLI runs as its own process against the socket.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { Secret, TOTP } from 'otpauth'
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { createSiweMessage } from 'viem/siwe'
import { openDatabase, type Db } from '../src/db/open-database.ts'
import { cleanup, runCli, seed, tempDir, testEnv } from './helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from './helpers/in-process-node.ts'

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: any }

/**
 * One HTTP request from a chosen loopback source address (Linux routes all of 127/8 to lo)
 * and with a chosen Host header, which fetch does not let a caller set.
 */
function call(base: string, method: string, path: string, { json, token, host, from = '127.0.0.1' }: { json?: unknown; token?: string; host?: string; from?: string } = {}): Promise<Answer> {
  const url = new URL(`${base}/api/v1${path}`)
  const body = json === undefined ? undefined : Buffer.from(JSON.stringify(json))
  const headers: Record<string, string> = { host: host ?? url.host }
  if (body) { headers['content-type'] = 'application/json'; headers['content-length'] = String(body.length) }
  if (token) headers.authorization = `Bearer ${token}`
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, localAddress: from }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown = text
        try { parsed = text ? JSON.parse(text) : undefined } catch { /* not JSON */ }
        resolve({ status: res.statusCode!, headers: res.headers, body: parsed })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

const expectCode = (r: Answer, status: number, code: string) => {
  assert.equal(r.status, status, JSON.stringify(r.body))
  assert.equal(r.body.code, code, JSON.stringify(r.body))
}

/** A signed EIP-4361 message naming `domain` and `uri`, with a fresh nonce from the node. */
async function siwe(base: string, wallet: PrivateKeyAccount, site: { domain: string; uri: string }, from?: string) {
  const nonce = (await call(base, 'POST', '/auth/siwe/nonce', { from })).body.nonce as string
  const message = createSiweMessage({ address: wallet.address, chainId: 31337, domain: site.domain, uri: site.uri, nonce, version: '1', issuedAt: new Date() })
  return { message, signature: await wallet.signMessage({ message }) }
}

describe('sign-in hardening on a node without a public URL', () => {
  let node: InProcessNode
  let api: InjectApi
  let db: Db
  let world: Awaited<ReturnType<typeof seed>>
  const wallet = privateKeyToAccount(generatePrivateKey())
  let own = { domain: '', uri: '' }

  before(async () => {
    node = await startInProcessNode()
    api = new InjectApi(node.app, node.url)
    db = await openDatabase({ url: node.dbUrl })
    world = await seed(api)
    own = { domain: new URL(node.url).host, uri: `${node.url}/` }
    const linked = await call(node.url, 'POST', '/auth/wallet', { json: { ...(await siwe(node.url, wallet, own)), password: world.patient.password }, token: world.patient.token })
    assert.equal(linked.status, 200, JSON.stringify(linked.body))
  })
  after(async () => {
    await db?.close()
    await node?.stop()
  })

  const sessions = async () => (await db.get('SELECT count(*) AS n FROM sessions') as { n: number }).n

  it('the SIWE nonce names the listening address; a message for evil.example sent with Host: evil.example is refused', async () => {
    const nonce = await call(node.url, 'POST', '/auth/siwe/nonce', { host: 'evil.example' })
    assert.equal(nonce.body.domain, own.domain, 'never the Host header')
    assert.equal(nonce.body.uri, node.url)
    const before = await sessions()
    const forged = await siwe(node.url, wallet, { domain: 'evil.example', uri: 'http://evil.example/' })
    expectCode(await call(node.url, 'POST', '/auth/siwe', { json: forged, host: 'evil.example' }), 401, 'SIWE_DOMAIN_MISMATCH')
    assert.equal(await sessions(), before, 'no session was opened')
    // The same wallet, signing for this node's own address, signs in whatever the Host header.
    const ok = await call(node.url, 'POST', '/auth/siwe', { json: await siwe(node.url, wallet, own), host: 'evil.example' })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(ok.body.account.email, world.patient.email)
  })

  it('a wallet session cannot enrol TOTP without the password, and writes nothing; guesses count towards the lock-out', async () => {
    const walletToken = (await call(node.url, 'POST', '/auth/siwe', { json: await siwe(node.url, wallet, own) })).body.token as string
    const mfaRows = async () => await db.all('SELECT * FROM mfa WHERE account_id = ?', world.patient.id)
    expectCode(await call(node.url, 'POST', '/mfa/totp', { token: walletToken, json: {} }), 400, 'VALIDATION_FAILED')
    expectCode(await call(node.url, 'POST', '/mfa/totp', { token: walletToken, json: { password: 'a-guessed-password' } }), 403, 'WRONG_PASSWORD')
    expectCode(await call(node.url, 'POST', '/mfa/totp/verify', { token: walletToken, json: { code: '123456' } }), 400, 'VALIDATION_FAILED')
    assert.deepEqual(await mfaRows(), [])
    // The owner's password sign-in still needs no code.
    assert.equal((await call(node.url, 'POST', '/auth/login', { json: { email: world.patient.email, password: world.patient.password } })).status, 200)
    // Guessing the password through a session counts towards the lock-out like sign-in does
    // (from another address here, so the owner's own address stays open for the tests below).
    for (let i = 0; i < 5; i++) expectCode(await call(node.url, 'POST', '/mfa/totp', { from: '127.0.0.4', token: walletToken, json: { password: `guess-${i}-password` } }), 403, 'WRONG_PASSWORD')
    const locked = await call(node.url, 'POST', '/mfa/totp', { from: '127.0.0.4', token: walletToken, json: { password: world.patient.password } })
    expectCode(locked, 429, 'ACCOUNT_LOCKED')
    assert.ok(Number(locked.headers['retry-after']) > 0)
    assert.deepEqual(await mfaRows(), [])
  })

  it('recovery with the recovery code resets TOTP: the new password signs in without a code', async () => {
    const who = { email: 'recovering@example.org', password: 'recovering-password-1' }
    const created = await api.json('POST', '/users', { role: 'patient', hospital: world.hospital.id, name: 'Rae', ...who }, world.admin)
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const token = await api.login(who.email, who.password)
    const { secret } = (await api.json('POST', '/mfa/totp', { password: who.password }, token)).body
    const v = await api.json('POST', '/mfa/totp/verify', { code: TOTP.generate({ secret: Secret.fromBase32(secret) }), password: who.password }, token)
    assert.equal(v.status, 200, JSON.stringify(v.body))
    expectCode(await call(node.url, 'POST', '/auth/login', { json: who }), 401, 'MFA_REQUIRED')

    const recovered = await call(node.url, 'POST', '/auth/recover', { json: { email: who.email, recoveryCode: created.body.recoveryCode, newPassword: 'recovered-password-2' } })
    assert.equal(recovered.status, 200, JSON.stringify(recovered.body))
    const signedIn = await call(node.url, 'POST', '/auth/login', { json: { email: who.email, password: 'recovered-password-2' } })
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body))
    assert.deepEqual((await api.json('GET', '/mfa', undefined, signedIn.body.token)).body, { required: false, totpEnabled: false, enrolmentPending: false, recoveryCodesLeft: 0 })
    assert.equal((await db.get('SELECT count(*) AS n FROM recovery_codes WHERE account_id = ?', created.body.account.id) as { n: number }).n, 0, 'its MFA recovery codes are gone too')
    const events = (await api.json('GET', `/account-events?account=${created.body.account.id}`, undefined, world.admin)).body.events as { kind: string; actorId: string | null }[]
    assert.deepEqual(events.map((e) => [e.kind, e.actorId]), [['account-recovered', null], ['mfa-enabled', created.body.account.id]])
  })

  it('turning TOTP off needs the password and a code in the request (CLI: mfa disable --code, password on stdin)', async () => {
    const who = { email: 'disabling@example.org', password: 'disabling-password-1' }
    const created = await api.json('POST', '/users', { role: 'patient', hospital: world.hospital.id, name: 'Dee', ...who }, world.admin)
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const token = await api.login(who.email, who.password)
    expectCode(await call(node.url, 'POST', '/mfa/totp/disable', { token, json: { password: who.password, code: '123456' } }), 409, 'MFA_NOT_ENABLED')
    const { secret } = (await api.json('POST', '/mfa/totp', { password: who.password }, token)).body
    const at = (ms: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: ms })
    const verified = await api.json('POST', '/mfa/totp/verify', { code: at(Date.now()), password: who.password }, token)
    assert.equal(verified.status, 200, JSON.stringify(verified.body))
    const next = at(Date.now() + 30_000)
    expectCode(await call(node.url, 'POST', '/mfa/totp/disable', { token, json: { password: who.password } }), 400, 'VALIDATION_FAILED')
    expectCode(await call(node.url, 'POST', '/mfa/totp/disable', { token, json: { password: 'not-the-password', code: next } }), 403, 'WRONG_PASSWORD')
    expectCode(await call(node.url, 'POST', '/mfa/totp/disable', { token, json: { password: who.password, code: 'AAAA-BBBB-CCCC-DDDD' } }), 401, 'MFA_INVALID')
    assert.equal((await api.json('GET', '/mfa', undefined, token)).body.totpEnabled, true, 'nothing changed')

    const cliHome = tempDir('ml-disable-cli-')
    try {
      const cli = (args: string[], input?: string) => runCli(args, { api: node.url, cliHome, input })
      const login = await cli(['login', '--email', who.email, '--totp', next], `${who.password}\n`)
      assert.equal(login.code, 0, login.stderr)
      expectCode(await call(node.url, 'POST', '/mfa/totp/disable', { token, json: { password: who.password, code: next } }), 401, 'MFA_REPLAYED')
      assert.equal((await api.json('GET', '/mfa', undefined, token)).body.totpEnabled, true, 'a replayed code changes nothing')
      assert.equal((await db.get('SELECT count(*) AS n FROM outbox WHERE account_id = ? AND kind = ?', created.body.account.id, 'mfa-disabled') as { n: number }).n, 0, 'no mail for a refusal')
      const off = await cli(['mfa', 'disable', '--code', verified.body.recoveryCodes[0], '--json'], `${who.password}\n`)
      assert.equal(off.code, 0, off.stderr)
      assert.deepEqual(JSON.parse(off.stdout), { totpEnabled: false })
    } finally {
      cleanup(cliHome)
    }
    assert.equal((await call(node.url, 'POST', '/auth/login', { json: who })).status, 200, 'the password alone signs in again')
    const events = (await api.json('GET', `/account-events?account=${created.body.account.id}`, undefined, world.admin)).body.events as { kind: string }[]
    assert.deepEqual(events.map((e) => e.kind), ['mfa-disabled', 'mfa-enabled'])
    const mail = await db.all('SELECT to_address, body FROM outbox WHERE account_id = ? AND kind = ?', created.body.account.id, 'mfa-disabled') as { to_address: string; body: string }[]
    assert.equal(mail.length, 1)
    assert.equal(mail[0].to_address, who.email)
    assert.match(mail[0].body, /Two-factor sign-in was turned off for your account/)
  })

  it('hospital staff reset a member\'s MFA (CLI: user mfa-reset, password on stdin): the member is mailed, sessions end, the reset is in the account events', async () => {
    const staff = { email: 'staff-reset@example.org', password: 'staff-reset-password-1' }
    assert.equal((await api.json('POST', '/users', { role: 'staff', hospital: world.hospital.id, name: 'Sam Staff', ...staff }, world.admin)).status, 201)
    const other = await seed(api, { hospitalName: 'Other', tag: 'other' })
    const otherStaff = { email: 'staff-other@example.org', password: 'staff-other-password-1' }
    assert.equal((await api.json('POST', '/users', { role: 'staff', hospital: other.hospital.id, name: 'Oscar', ...otherStaff }, world.admin)).status, 201)

    // The doctor enrols an authenticator (with the password) and so needs a code from now on.
    const { secret } = (await api.json('POST', '/mfa/totp', { password: world.doctor.password }, world.doctor.token)).body
    assert.equal((await api.json('POST', '/mfa/totp/verify', { code: TOTP.generate({ secret: Secret.fromBase32(secret) }), password: world.doctor.password }, world.doctor.token)).status, 200)
    expectCode(await call(node.url, 'POST', '/auth/login', { json: { email: world.doctor.email, password: world.doctor.password } }), 401, 'MFA_REQUIRED')

    const reset = (token: string, password: string, id = world.doctor.id) => call(node.url, 'POST', `/users/${id}/mfa/reset`, { token, json: { password } })
    const eventCount = async () => (await db.get('SELECT count(*) AS n FROM account_events WHERE kind = ?', 'mfa-reset') as { n: number }).n
    const otherStaffToken = await api.login(otherStaff.email, otherStaff.password)
    expectCode(await reset(otherStaffToken, otherStaff.password), 404, 'UNKNOWN_ACCOUNT')
    expectCode(await reset(world.patient.token, world.patient.password), 403, 'FORBIDDEN')
    expectCode(await reset(await api.login(staff.email, staff.password), 'not-my-password'), 403, 'WRONG_PASSWORD')
    expectCode(await reset(world.admin, testEnv.MEDLEDGER_ADMIN_PASSWORD, (await api.json('GET', '/auth/me', undefined, world.admin)).body.id), 403, 'FORBIDDEN')
    assert.equal(await eventCount(), 0, 'no refused reset is written')
    assert.equal((await api.json('GET', '/mfa', undefined, world.doctor.token)).body.totpEnabled, true)

    const cliHome = tempDir('ml-reset-cli-')
    try {
      const cli = (args: string[], input?: string) => runCli(args, { api: node.url, cliHome, input })
      assert.equal((await cli(['login', '--email', staff.email], `${staff.password}\n`)).code, 0)
      const r = await cli(['user', 'mfa-reset', world.doctor.id, '--json'], `${staff.password}\n`)
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(JSON.parse(r.stdout), { accountId: world.doctor.id, mfaReset: true })
      assert.ok(!r.stdout.includes(staff.password) && !r.stderr.includes(staff.password), 'the password is never echoed')
    } finally {
      cleanup(cliHome)
    }

    expectCode(await call(node.url, 'GET', '/auth/me', { token: world.doctor.token }), 401, 'SESSION_EXPIRED')
    const again = await call(node.url, 'POST', '/auth/login', { json: { email: world.doctor.email, password: world.doctor.password } })
    assert.equal(again.status, 200, JSON.stringify(again.body))
    assert.equal((await api.json('GET', '/mfa', undefined, again.body.token)).body.totpEnabled, false)
    const mail = await db.all('SELECT kind, to_address, body FROM outbox WHERE account_id = ? AND kind = ?', world.doctor.id, 'mfa-reset') as { to_address: string; body: string }[]
    assert.equal(mail.length, 1)
    assert.equal(mail[0].to_address, world.doctor.email)
    assert.match(mail[0].body, /Sam Staff \(hospital staff\) reset the two-factor sign-in/)
    const staffId = (await db.get('SELECT id FROM accounts WHERE email = ?', staff.email) as { id: string }).id
    const events = await api.json('GET', `/account-events?account=${world.doctor.id}`, undefined, world.admin)
    assert.equal(events.status, 200, JSON.stringify(events.body))
    assert.deepEqual(events.body.events.map((e: { kind: string; actorId: string }) => [e.kind, e.actorId]), [['mfa-reset', staffId], ['mfa-enabled', world.doctor.id]])
    expectCode(await call(node.url, 'GET', '/account-events', { token: otherStaffToken }), 403, 'FORBIDDEN')
  })

  it('a stranger failing from 127.0.0.2 locks only that address out: the owner signs in from 127.0.0.1', async () => {
    const owner = { email: world.patient.email, password: world.patient.password }
    for (let i = 0; i < 5; i++) expectCode(await call(node.url, 'POST', '/auth/login', { from: '127.0.0.2', json: { email: owner.email, password: `stranger-guess-${i}` } }), 401, 'INVALID_CREDENTIALS')
    const stranger = await call(node.url, 'POST', '/auth/login', { from: '127.0.0.2', json: owner })
    expectCode(stranger, 429, 'ACCOUNT_LOCKED')
    assert.ok(Number(stranger.headers['retry-after']) > 0)
    const ownerSignIn = await call(node.url, 'POST', '/auth/login', { from: '127.0.0.1', json: owner })
    assert.equal(ownerSignIn.status, 200, JSON.stringify(ownerSignIn.body))
    // Recovery attempts from the stranger's address are locked too.
    expectCode(await call(node.url, 'POST', '/auth/recover', { from: '127.0.0.2', json: { email: owner.email, recoveryCode: 'AAAA-BBBB-CCCC-DDDD', newPassword: 'stranger-password-1' } }), 429, 'ACCOUNT_LOCKED')
  })
})

describe('sign-in hardening on a node started with --public-url and a low rate limit', () => {
  const publicUrl = 'https://records.example.org'
  let node: InProcessNode

  before(async () => {
    node = await startInProcessNode({ env: { MEDLEDGER_PUBLIC_URL: publicUrl, MEDLEDGER_RATE_LIMIT_PER_MINUTE: '5' } })
  })
  after(async () => {
    await node?.stop()
  })

  it('the CLI refuses a public URL with credentials or a query, before starting anything', async () => {
    for (const bad of ['https://user:secret@records.example.org', 'https://records.example.org/?a=1', 'ftp://records.example.org']) {
      const home = tempDir('ml-bad-url-')
      try {
        const r = await runCli(['start', '--home', home, '--port', '0', '--public-url', bad], { api: 'http://127.0.0.1:9', cliHome: home, env: testEnv })
        assert.notEqual(r.code, 0)
        assert.match(r.stderr, /publicUrl/)
        assert.ok(!r.stderr.includes('secret'), 'the credentials are not echoed')
      } finally {
        cleanup(home)
      }
    }
  })

  it('uses the public URL as the SIWE domain: a message for it signs in, one for the listening address does not', async () => {
    const api = new InjectApi(node.app, node.url)
    const admin = await api.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
    const hospital = (await api.json('POST', '/hospitals', { name: 'Public' }, admin)).body
    const who = { email: 'public@example.org', password: 'public-password-123' }
    assert.equal((await api.json('POST', '/users', { role: 'patient', hospital: hospital.id, name: 'Pat', ...who }, admin)).status, 201)
    const token = await api.login(who.email, who.password)
    const site = { domain: 'records.example.org', uri: `${publicUrl}/` }
    const nonce = await call(node.url, 'POST', '/auth/siwe/nonce', { from: '127.0.0.3' })
    assert.equal(nonce.body.domain, site.domain)
    assert.equal(nonce.body.uri, publicUrl)
    const wallet = privateKeyToAccount(generatePrivateKey())
    const linked = await call(node.url, 'POST', '/auth/wallet', { token, json: { ...(await siwe(node.url, wallet, site, '127.0.0.3')), password: who.password } })
    assert.equal(linked.status, 200, JSON.stringify(linked.body))
    const listening = { domain: new URL(node.url).host, uri: `${node.url}/` }
    expectCode(await call(node.url, 'POST', '/auth/siwe', { from: '127.0.0.3', json: await siwe(node.url, wallet, listening, '127.0.0.3') }), 401, 'SIWE_DOMAIN_MISMATCH')
    const ok = await call(node.url, 'POST', '/auth/siwe', { from: '127.0.0.3', json: await siwe(node.url, wallet, site, '127.0.0.3') })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(ok.body.account.email, who.email)
  })

  it('every unauthenticated route answers 429 RATE_LIMITED with Retry-After past the limit, per client address; signed-in routes are not limited', async () => {
    const doc = (await call(node.url, 'GET', '/openapi.json', { from: '127.0.0.5' })).body as { paths: Record<string, Record<string, { security?: object[] }>> }
    const open = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops)
      .filter(([, op]) => Array.isArray(op.security) && (op.security.length === 0 || op.security.some((s) => Object.keys(s).length === 0)))
      .map(([method]) => [method.toUpperCase(), path.replace(/^\/api\/v1/, '').replace(/\{id\}/g, `0x${'00'.repeat(32)}`)] as const))
      // FHIR's unauthenticated GET /fhir/R4/metadata answers in FHIR's shape: test/fhir/fhir-scaffold.test.ts checks its limit.
      .filter(([, path]) => !path.startsWith('/fhir/'))
    const names = open.map(([m, p]) => `${m} ${p}`)
    for (const expected of ['POST /auth/login', 'POST /auth/siwe/nonce', 'POST /auth/siwe', 'POST /auth/recover', 'POST /signup', 'GET /health', 'GET /status']) {
      assert.ok(names.includes(expected), `${expected} is an unauthenticated route (${names.join(', ')})`)
    }
    assert.ok(names.some((n) => n.startsWith('GET /records/0x')), 'share-token reads are unauthenticated')
    for (const [method, path] of open) {
      const limit = path === '/health' || path === '/status' ? 50 : 5
      for (let i = 0; i < limit; i++) {
        const r = await call(node.url, method, path, { from: '127.0.0.9', json: method === 'GET' ? undefined : {} })
        assert.notEqual(r.status, 429, `${method} ${path}: request ${i + 1} of ${limit} is within the limit`)
      }
      const over = await call(node.url, method, path, { from: '127.0.0.9', json: method === 'GET' ? undefined : {} })
      expectCode(over, 429, 'RATE_LIMITED')
      const retry = Number(over.headers['retry-after'])
      assert.ok(retry > 0 && retry <= 60, `${method} ${path}: Retry-After ${over.headers['retry-after']}`)
      assert.match(over.body.message, /try again in \d+ seconds/)
    }
    // Another address is not held back by 127.0.0.9's requests.
    assert.equal((await call(node.url, 'POST', '/auth/siwe/nonce', { from: '127.0.0.10' })).status, 200)
    // Signed-in routes are not rate limited.
    const admin = (await call(node.url, 'POST', '/auth/login', { from: '127.0.0.11', json: { email: testEnv.MEDLEDGER_ADMIN_EMAIL, password: testEnv.MEDLEDGER_ADMIN_PASSWORD } })).body.token as string
    for (let i = 0; i < 8; i++) assert.equal((await call(node.url, 'GET', '/auth/me', { from: '127.0.0.9', token: admin })).status, 200)
  })
})
