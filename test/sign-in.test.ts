import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openDatabase, type Db } from '../src/db/open-database.ts'
import { Secret, TOTP } from 'otpauth'
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { createSiweMessage } from 'viem/siwe'
import { Api, cleanup, runCli, startNodeProcess, tempDir, testEnv, type NodeProcess } from './helpers/node-process.ts'

/**
 * TOTP codes for strictly increasing time steps, each inside the node's ±1 step window: the
 * node refuses a step it has already accepted, so a test that signs in twice within 30 s must
 * use the next step's code (as a user would wait for the app's next code).
 */
class Authenticator {
  private lastStep = -Infinity
  constructor(readonly secret: string) {}

  next(): string {
    const current = Math.floor(Date.now() / 30_000)
    const step = Math.max(current, this.lastStep + 1)
    assert.ok(step <= current + 1, 'more than three codes in 30 s')
    this.lastStep = step
    return this.at(step)
  }

  /** The last code handed out again (a replay). */
  last(): string {
    return this.at(this.lastStep)
  }

  /** A code that matches none of the steps in the window. */
  wrong(): string {
    const current = Math.floor(Date.now() / 30_000)
    const near = new Set([-1, 0, 1, 2].map((d) => this.at(current + d)))
    let n = 0
    while (near.has(String(n).padStart(6, '0'))) n++
    return String(n).padStart(6, '0')
  }

  private at(step: number): string {
    return TOTP.generate({ secret: Secret.fromBase32(this.secret), timestamp: step * 30_000 })
  }
}

describe('multi-factor sign-in, lock-out and Sign-In with Ethereum through a running node', () => {
  let node: NodeProcess
  let api: Api
  let db: Db
  let host = ''
  let adminToken = ''
  let hospitalId = ''
  let admin: Authenticator
  const doctor = { email: 'house@example.org', password: 'doctor-password-123' }
  const patient = { email: 'ann@example.org', password: 'patient-password-123' }
  const wallet = privateKeyToAccount(generatePrivateKey())

  before(async () => {
    // MFA on for admins and doctors, as in production (the other tests turn it off).
    node = await startNodeProcess({ env: { MEDLEDGER_MFA_ROLES: 'admin,doctor' } })
    api = new Api(node.url)
    host = new URL(node.url).host
    db = await openDatabase({ url: node.dbUrl })
  })
  after(async () => {
    await db?.close()
    await node?.stop()
    cleanup(node?.home)
  })

  /** What a refused sign-in must leave untouched. */
  const rows = async () => ({
    sessions: (await db.get('SELECT count(*) AS n FROM sessions') as { n: number }).n,
    usedNonces: (await db.get('SELECT count(*) AS n FROM siwe_nonces WHERE used_at IS NOT NULL') as { n: number }).n,
    usedRecoveryCodes: (await db.get('SELECT count(*) AS n FROM recovery_codes WHERE used_at IS NOT NULL') as { n: number }).n,
  })
  const refused = async (p: Promise<{ status: number; body: any }>, status: number, code: string) => {
    const r = await p
    assert.equal(r.status, status, JSON.stringify(r.body))
    assert.equal(r.body.code, code)
    return r
  }
  const signIn = (who: { email: string; password: string }, totp?: string) => api.json('POST', '/auth/login', { ...who, ...(totp ? { totp } : {}) }, null)

  it('the admin, whose role needs MFA, first gets a session that may only enrol', async () => {
    const r = await signIn({ email: testEnv.MEDLEDGER_ADMIN_EMAIL, password: testEnv.MEDLEDGER_ADMIN_PASSWORD })
    assert.equal(r.status, 200)
    assert.equal(r.body.mfaEnrollmentRequired, true)
    assert.equal(r.body.keysUnlocked, true)
    adminToken = r.body.token
    await refused(api.json('POST', '/hospitals', { name: 'St Mary' }, adminToken), 403, 'MFA_ENROLLMENT_REQUIRED')
    await refused(api.json('GET', '/hospitals', undefined, adminToken), 403, 'MFA_ENROLLMENT_REQUIRED')
    await refused(api.json('GET', '/users', undefined, adminToken), 403, 'MFA_ENROLLMENT_REQUIRED')
    await refused(api.json('POST', '/verify', { all: true }, adminToken), 403, 'MFA_ENROLLMENT_REQUIRED')
    assert.equal((await api.json('GET', '/auth/me', undefined, adminToken)).body.email, testEnv.MEDLEDGER_ADMIN_EMAIL)
    assert.deepEqual((await api.json('GET', '/mfa', undefined, adminToken)).body, { required: true, totpEnabled: false, enrolmentPending: false, recoveryCodesLeft: 0 })
    assert.equal((await db.get('SELECT count(*) AS n FROM hospitals') as { n: number }).n, 0, 'nothing was created')
  })

  it('enrols TOTP (otpauth:// URI with issuer and e-mail, QR code), refuses a wrong first code, and a right one lifts the restriction', async () => {
    const e = await api.json('POST', '/mfa/totp', { password: testEnv.MEDLEDGER_ADMIN_PASSWORD }, adminToken)
    assert.equal(e.status, 201)
    assert.match(e.body.otpauthUri, /^otpauth:\/\/totp\/MedLedger:admin%40example\.org\?/)
    assert.match(e.body.otpauthUri, /issuer=MedLedger/)
    assert.match(e.body.otpauthUri, /algorithm=SHA1&digits=6&period=30/)
    assert.match(e.body.qrSvg, /^<svg/)
    assert.ok(!node.output().includes(e.body.secret), 'the secret is never logged')
    const sealed = (await db.get('SELECT sealed_secret FROM mfa') as { sealed_secret: string }).sealed_secret
    assert.ok(!sealed.includes(e.body.secret), 'sealed at rest')
    admin = new Authenticator(e.body.secret)
    await refused(api.json('POST', '/mfa/totp/verify', { code: admin.wrong(), password: testEnv.MEDLEDGER_ADMIN_PASSWORD }, adminToken), 401, 'MFA_INVALID')
    const v = await api.json('POST', '/mfa/totp/verify', { code: admin.next(), password: testEnv.MEDLEDGER_ADMIN_PASSWORD }, adminToken)
    assert.equal(v.status, 200, JSON.stringify(v.body))
    assert.equal(v.body.recoveryCodes.length, 10)
    const h = await api.json('POST', '/hospitals', { name: 'St Mary' }, adminToken)
    assert.equal(h.status, 201, JSON.stringify(h.body))
    hospitalId = h.body.id
    await refused(api.json('POST', '/mfa/totp', { password: testEnv.MEDLEDGER_ADMIN_PASSWORD }, adminToken), 409, 'MFA_ALREADY_ENABLED')
  })

  it('then the admin signs in with a code: missing, wrong and replayed codes are refused with their own codes and no session', async () => {
    const admin_ = { email: testEnv.MEDLEDGER_ADMIN_EMAIL, password: testEnv.MEDLEDGER_ADMIN_PASSWORD }
    const before = await rows()
    await refused(signIn(admin_), 401, 'MFA_REQUIRED')
    await refused(signIn(admin_, admin.wrong()), 401, 'MFA_INVALID')
    await refused(signIn(admin_, admin.last()), 401, 'MFA_REPLAYED')
    assert.deepEqual(await rows(), before)
    const ok = await signIn(admin_, admin.next())
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(ok.body.mfaEnrollmentRequired, false)
    assert.equal((await rows()).sessions, before.sessions + 1)
    await refused(signIn(admin_, admin.last()), 401, 'MFA_REPLAYED')
    adminToken = ok.body.token
  })

  it('a recovery code stands in for a code once', async () => {
    const codes = (await api.json('POST', '/users', { role: 'patient', hospital: hospitalId, email: 'recovery@example.org', name: 'Rita', password: 'recovery-password-1' }, adminToken))
    assert.equal(codes.status, 201, JSON.stringify(codes.body))
    const rita = { email: 'recovery@example.org', password: 'recovery-password-1' }
    const token = (await signIn(rita)).body.token
    const app = new Authenticator((await api.json('POST', '/mfa/totp', { password: rita.password }, token)).body.secret)
    const { recoveryCodes } = (await api.json('POST', '/mfa/totp/verify', { code: app.next(), password: rita.password }, token)).body
    await refused(signIn(rita), 401, 'MFA_REQUIRED')
    const ok = await signIn(rita, recoveryCodes[0])
    assert.equal(ok.status, 200)
    const before = await rows()
    await refused(signIn(rita, recoveryCodes[0]), 401, 'MFA_REPLAYED')
    assert.deepEqual(await rows(), before)
    assert.equal((await api.json('GET', '/mfa', undefined, ok.body.token)).body.recoveryCodesLeft, 9)
  })

  it('a doctor (MFA required) cannot upload before enrolling; a patient (MFA optional) signs in with a password', async () => {
    for (const [role, who] of [['doctor', doctor], ['patient', patient]] as const) {
      const r = await api.json('POST', '/users', { role, hospital: hospitalId, email: who.email, name: role, password: who.password }, adminToken)
      assert.equal(r.status, 201, JSON.stringify(r.body))
    }
    const d = await signIn(doctor)
    assert.equal(d.body.mfaEnrollmentRequired, true)
    const up = await api.upload(d.body.token, patient.email, 'note.txt', Buffer.from('restricted'))
    assert.equal(up.status, 403)
    assert.equal(up.body.code, 'MFA_ENROLLMENT_REQUIRED')
    assert.equal((await db.get('SELECT count(*) AS n FROM records') as { n: number }).n, 0)
    const p = await signIn(patient)
    assert.equal(p.status, 200)
    assert.equal(p.body.mfaEnrollmentRequired, false)
  })

  it('locks an e-mail after 5 failures with 429 ACCOUNT_LOCKED and Retry-After, for known and unknown e-mails alike', async () => {
    const locked = { email: 'locked@example.org', password: 'locked-password-12' }
    assert.equal((await api.json('POST', '/users', { role: 'patient', hospital: hospitalId, name: 'Lou', ...locked }, adminToken)).status, 201)
    for (const email of [locked.email, 'nobody@example.org']) {
      for (let i = 0; i < 5; i++) await refused(signIn({ email, password: `wrong-password-${i}` }), 401, 'INVALID_CREDENTIALS')
      const before = await rows()
      const res = await api.call('POST', '/auth/login', { json: { email, password: email === locked.email ? locked.password : 'x' }, token: null })
      assert.equal(res.status, 429)
      const body = await res.json() as { code: string; message: string }
      assert.equal(body.code, 'ACCOUNT_LOCKED')
      assert.match(body.message, /try again in (\d+ seconds|about 1 minute)/)
      assert.ok(!body.message.includes('@'), 'no e-mail in the message')
      const retry = Number(res.headers.get('retry-after'))
      assert.ok(retry > 0 && retry <= 30, String(retry))
      assert.deepEqual(await rows(), before)
    }
  })

  describe('Sign-In with Ethereum', () => {
    let doctorToken = ''
    let recordId = ''
    let patientToken = ''

    const nonce = async () => (await api.json('POST', '/auth/siwe/nonce', undefined, null)).body.nonce as string
    const message = (n: string, over: Partial<Parameters<typeof createSiweMessage>[0]> = {}) => createSiweMessage({
      address: wallet.address, chainId: 31337, domain: host, nonce: n, uri: `${node.url}/`, version: '1', issuedAt: new Date(), statement: 'Sign in to MedLedger.', ...over,
    })
    const signed = async (m: string, by: PrivateKeyAccount = wallet) => ({ message: m, signature: await by.signMessage({ message: m }) })

    before(async () => {
      // The doctor enrols and uploads; the patient signs in with the password (and links the wallet below).
      patientToken = (await signIn(patient)).body.token
      const d = await signIn(doctor)
      const app = new Authenticator((await api.json('POST', '/mfa/totp', { password: doctor.password }, d.body.token)).body.secret)
      assert.equal((await api.json('POST', '/mfa/totp/verify', { code: app.next(), password: doctor.password }, d.body.token)).status, 200)
      doctorToken = d.body.token
      const up = await api.upload(doctorToken, patient.email, 'note.txt', Buffer.from('a clinical note'))
      assert.equal(up.status, 201, JSON.stringify(up.body))
      recordId = up.body.recordId
    })

    it('links a wallet from a password session (proved by a signed message for this node)', async () => {
      const r = await api.json('POST', '/auth/wallet', { ...(await signed(message(await nonce()))), password: patient.password }, patientToken)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      assert.equal(r.body.walletAddress, wallet.address)
    })

    it('signs in with the wallet; that session reads its own account but cannot use its keys (KEYS_LOCKED)', async () => {
      const n = await nonce()
      assert.match(n, /^[0-9a-f]{32}$/)
      const r = await api.json('POST', '/auth/siwe', await signed(message(n)), null)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      assert.equal(r.body.account.email, patient.email)
      assert.equal(r.body.keysUnlocked, false)
      assert.equal((await api.json('GET', '/auth/me', undefined, r.body.token)).body.email, patient.email)
      const read = await api.download(r.body.token, recordId)
      assert.equal(read.status, 403)
      assert.equal(read.json.code, 'KEYS_LOCKED')
      assert.equal((await api.download(patientToken, recordId)).bytes.toString(), 'a clinical note', 'a password session reads it')
    })

    it('refuses a reused nonce, another domain, another chain, a bad signature and an unknown wallet, each with its code, writing nothing', async () => {
      const used = await nonce()
      const first = await signed(message(used))
      assert.equal((await api.json('POST', '/auth/siwe', first, null)).status, 200)
      const before = await rows()
      await refused(api.json('POST', '/auth/siwe', first, null), 401, 'SIWE_NONCE_INVALID')
      const n = await nonce()
      await refused(api.json('POST', '/auth/siwe', await signed(message(n, { domain: 'evil.example.org', uri: 'https://evil.example.org/' })), null), 401, 'SIWE_DOMAIN_MISMATCH')
      await refused(api.json('POST', '/auth/siwe', await signed(message(n, { uri: 'https://evil.example.org/' })), null), 401, 'SIWE_DOMAIN_MISMATCH')
      await refused(api.json('POST', '/auth/siwe', await signed(message(n, { chainId: 1 })), null), 401, 'SIWE_CHAIN_MISMATCH')
      const other = privateKeyToAccount(generatePrivateKey())
      await refused(api.json('POST', '/auth/siwe', { message: message(n), signature: (await signed(message(n), other)).signature }, null), 401, 'SIWE_SIGNATURE_INVALID')
      await refused(api.json('POST', '/auth/siwe', await signed(message(n, { address: other.address }), other), null), 401, 'UNKNOWN_WALLET')
      await refused(api.json('POST', '/auth/siwe', await signed(message(n, { expirationTime: new Date(Date.now() - 1000) })), null), 401, 'SIWE_MESSAGE_EXPIRED')
      await refused(api.json('POST', '/auth/siwe', { message: 'not a sign-in message', signature: '0x00' }, null), 400, 'SIWE_MESSAGE_INVALID')
      assert.deepEqual(await rows(), before)
      // The nonce those refusals carried is still good.
      assert.equal((await api.json('POST', '/auth/siwe', await signed(message(n)), null)).status, 200)
    })

    it('a wallet session cannot link another wallet; a wallet cannot be linked to two accounts', async () => {
      const walletSession = (await api.json('POST', '/auth/siwe', await signed(message(await nonce())), null)).body.token
      const other = privateKeyToAccount(generatePrivateKey())
      await refused(api.json('POST', '/auth/wallet', { ...(await signed(message(await nonce(), { address: other.address }), other)), password: patient.password }, walletSession), 403, 'KEYS_LOCKED')
      await refused(api.json('POST', '/auth/wallet', { ...(await signed(message(await nonce()))), password: testEnv.MEDLEDGER_ADMIN_PASSWORD }, adminToken), 409, 'WALLET_TAKEN')
      const linked = await db.all('SELECT email FROM accounts WHERE wallet_address = ?', wallet.address.toLowerCase()) as { email: string }[]
      assert.deepEqual(linked.map((x) => x.email), [patient.email])
    })
  })

  it('CLI: mfa enroll → mfa verify CODE → login --totp CODE', async () => {
    const cliHome = tempDir('ml-mfa-cli-')
    try {
      const who = { email: 'cli-doctor@example.org', password: 'cli-doctor-password-1' }
      assert.equal((await api.json('POST', '/users', { role: 'doctor', hospital: hospitalId, email: who.email, name: 'Dr CLI', password: who.password }, adminToken)).status, 201)
      const cli = (args: string[], input?: string) => runCli(args, { api: node.url, cliHome, input })
      const json = (r: { code: number | null; stdout: string; stderr: string }) => {
        assert.equal(r.code, 0, r.stderr)
        return JSON.parse(r.stdout)
      }
      const first = await cli(['login', '--email', who.email], `${who.password}\n`)
      assert.equal(first.code, 0, first.stderr)
      assert.match(first.stdout, /medledger mfa enroll/)
      const blocked = await cli(['record', 'list'])
      assert.notEqual(blocked.code, 0)
      assert.match(blocked.stderr, /MFA_ENROLLMENT_REQUIRED/)

      const human = await cli(['mfa', 'enroll'], `${who.password}\n`)
      assert.equal(human.code, 0, human.stderr)
      assert.match(human.stdout, /otpauth:\/\/totp\/MedLedger:cli-doctor%40example\.org/)
      const enrolment = json(await cli(['mfa', 'enroll', '--json'], `${who.password}\n`))
      const app = new Authenticator(enrolment.secret)
      const noPassword = await cli(['mfa', 'verify', app.wrong()], 'not-the-password\n')
      assert.notEqual(noPassword.code, 0)
      assert.match(noPassword.stderr, /WRONG_PASSWORD/)
      const bad = await cli(['mfa', 'verify', app.wrong()], `${who.password}\n`)
      assert.notEqual(bad.code, 0)
      assert.match(bad.stderr, /MFA_INVALID/)
      const verified = json(await cli(['mfa', 'verify', app.next(), '--json'], `${who.password}\n`))
      assert.equal(verified.recoveryCodes.length, 10)

      const noCode = await cli(['login', '--email', who.email], `${who.password}\n`)
      assert.notEqual(noCode.code, 0)
      assert.match(noCode.stderr, /MFA_REQUIRED/)
      const replay = await cli(['login', '--email', who.email, '--totp', app.last()], `${who.password}\n`)
      assert.match(replay.stderr, /MFA_REPLAYED/)
      const ok = json(await cli(['login', '--email', who.email, '--totp', app.next(), '--json'], `${who.password}\n`))
      assert.equal(ok.account.email, who.email)
      assert.equal(ok.mfaEnrollmentRequired, false)
      assert.ok(Array.isArray(json(await cli(['record', 'list', '--json'])).records))
    } finally {
      cleanup(cliHome)
    }
  })
})
