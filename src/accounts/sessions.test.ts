import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Secret, TOTP } from 'otpauth'
import { isAppError, type ErrorCode } from '../errors.ts'
import { authenticate, login, logout, openSession } from './sessions.ts'
import { confirmTotpEnrolment, startTotpEnrolment } from './mfa.ts'
import { AccountLockedError, signInKey } from './lockout.ts'
import { requireKeys, type AccountRow } from './account.ts'
import { insertSignInAccount, openSignInNode, signInRows } from '../../test/helpers/sign-in-fixtures.ts'

const refused = (code: ErrorCode) => (err: unknown) => isAppError(err, code)
const code = (secret: string, ms: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: ms })

describe('signing in: password, second factor, lock-out', async () => {
  const node = await openSignInNode({ MEDLEDGER_MFA_ROLES: 'admin,doctor' })
  let now = Date.UTC(2030, 5, 1, 8, 0, 0)
  const clock = () => now
  const doctor = { email: 'house@example.org', password: 'doctor-password-123' }
  const patient = { email: 'ann@example.org', password: 'patient-password-123' }
  let secret = ''

  before(async () => {
    await insertSignInAccount(node, { role: 'doctor', ...doctor })
    await insertSignInAccount(node, { role: 'patient', ...patient })
  })
  after(() => node.close())

  it('a role that needs MFA but has not enrolled gets a session restricted to enrolment', async () => {
    const r = await login(node, { ...doctor, clock })
    assert.equal(r.mfaEnrollmentRequired, true)
    assert.equal(r.keysUnlocked, true)
    const actor = await authenticate(node, r.token)
    assert.equal(actor.mfaEnrollmentRequired, true)
    // Enrolling lifts the restriction on the very same session.
    ;({ secret } = await startTotpEnrolment(node, { actor, password: doctor.password, clock }))
    await confirmTotpEnrolment(node, { actor, password: doctor.password, code: code(secret, now), clock })
    assert.equal((await authenticate(node, r.token)).mfaEnrollmentRequired, false)
  })

  it('a role that does not need MFA signs in with its password only', async () => {
    const r = await login(node, { ...patient, clock })
    assert.equal(r.mfaEnrollmentRequired, false)
    assert.ok(requireKeys(await authenticate(node, r.token)).ledger.address)
  })

  it('once enrolled: no code, a wrong code and a replayed code are refused and create no session', async () => {
    const before = await signInRows(node.db)
    await assert.rejects(login(node, { ...doctor, clock }), refused('MFA_REQUIRED'))
    await assert.rejects(login(node, { ...doctor, totp: code(secret, now + 90_000), clock }), refused('MFA_INVALID'))
    await assert.rejects(login(node, { ...doctor, totp: code(secret, now), clock }), refused('MFA_REPLAYED'), 'the enrolment code')
    // A right code with a wrong password is still a wrong password.
    await assert.rejects(login(node, { email: doctor.email, password: 'not-the-password', totp: code(secret, now + 30_000), clock }), refused('INVALID_CREDENTIALS'))
    assert.deepEqual(await signInRows(node.db), before)
    now += 30_000
    const ok = await login(node, { ...doctor, totp: code(secret, now), clock })
    assert.equal(ok.mfaEnrollmentRequired, false)
    assert.equal((await signInRows(node.db)).sessions, before.sessions + 1)
    await assert.rejects(login(node, { ...doctor, totp: code(secret, now), clock }), refused('MFA_REPLAYED'))
  })

  it('locks the e-mail after 5 failures, for growing times, refusing even the right password, until a success', async () => {
    now += 3_600_000
    const failures = async () => await node.db.get('SELECT failures, locked_until FROM sign_in_failures WHERE key = ?', signInKey(patient.email)) as { failures: number; locked_until: number } | undefined
    const wrong = () => login(node, { email: patient.email, password: 'wrong-password-0', clock })
    for (let i = 0; i < 5; i++) await assert.rejects(wrong(), refused('INVALID_CREDENTIALS'))
    assert.equal((await failures())?.failures, 5)
    const before = await signInRows(node.db)
    await assert.rejects(login(node, { ...patient, clock }), (err: unknown) => err instanceof AccountLockedError && err.retryAfterSeconds === 30 && /30 seconds/.test(err.message))
    assert.deepEqual(await signInRows(node.db), before, 'no session while locked')
    assert.equal((await failures())?.failures, 5, 'attempts while locked are not evaluated')
    now += 30_000
    await assert.rejects(wrong(), refused('INVALID_CREDENTIALS'))
    await assert.rejects(login(node, { ...patient, clock }), (err: unknown) => err instanceof AccountLockedError && err.retryAfterSeconds === 60)
    now += 60_000
    await assert.rejects(wrong(), refused('INVALID_CREDENTIALS'))
    await assert.rejects(login(node, { ...patient, clock }), (err: unknown) => err instanceof AccountLockedError && err.retryAfterSeconds === 120)
    for (let i = 0; i < 10; i++) {
      now += 3_600_000
      await assert.rejects(wrong(), refused('INVALID_CREDENTIALS'))
    }
    await assert.rejects(login(node, { ...patient, clock }), (err: unknown) => err instanceof AccountLockedError && err.retryAfterSeconds === 3600 && /about an hour/.test(err.message))
    now += 3_600_000
    const ok = await login(node, { ...patient, clock })
    assert.ok(ok.token)
    assert.equal(await failures(), undefined, 'a success forgets the failures')
    await assert.rejects(wrong(), refused('INVALID_CREDENTIALS'))
    assert.equal((await failures())?.failures, 1)
  })

  it('counts wrong and replayed codes towards the lock, but not a missing one', async () => {
    // A day later the replayed code of the test before is forgotten.
    now += 25 * 3_600_000
    const row = async () => await node.db.get('SELECT * FROM sign_in_failures WHERE key = ?', signInKey(doctor.email))
    const before = await row()
    await assert.rejects(login(node, { ...doctor, clock }), refused('MFA_REQUIRED'))
    assert.deepEqual((await row()), before)
    const nearby = new Set([-1, 0, 1].map((d) => code(secret, now + d * 30_000)))
    const wrongCode = ['111111', '222222', '333333', '444444', '555555', '666666'].filter((c) => !nearby.has(c))
    for (let i = 0; i < 5; i++) await assert.rejects(login(node, { ...doctor, totp: wrongCode[i], clock }), refused('MFA_INVALID'))
    await assert.rejects(login(node, { ...doctor, totp: code(secret, now), clock }), refused('ACCOUNT_LOCKED'))
    now += 30_000
    assert.ok((await login(node, { ...doctor, totp: code(secret, now), clock })).token)
  })

  it('an unknown e-mail is locked out exactly like a known one', async () => {
    const ghost = { email: 'nobody@example.org', password: 'whatever-password' }
    for (let i = 0; i < 5; i++) await assert.rejects(login(node, { ...ghost, clock }), refused('INVALID_CREDENTIALS'))
    await assert.rejects(login(node, { ...ghost, clock }), refused('ACCOUNT_LOCKED'))
    for (let i = 0; i < 5; i++) await assert.rejects(login(node, { email: 'not an e-mail', password: 'x', clock }), refused('INVALID_CREDENTIALS'))
    await assert.rejects(login(node, { email: 'not an e-mail', password: 'x', clock }), refused('ACCOUNT_LOCKED'))
  })

  it('parallel guesses cannot all pass the lock check before the first failure counts', async () => {
    now += 7 * 24 * 3_600_000
    const email = patient.email
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => login(node, { email, password: `parallel-guess-${i}`, clock })))
    const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'OK'))
    assert.deepEqual(codes.filter((c) => c === 'INVALID_CREDENTIALS').length, 5, codes.join(' '))
    assert.deepEqual(codes.filter((c) => c === 'ACCOUNT_LOCKED').length, 7, codes.join(' '))
  })

  it('a session opened without the password has no keys: requireKeys answers KEYS_LOCKED', async () => {
    const row = await node.db.get('SELECT * FROM accounts WHERE email = ?', patient.email) as AccountRow
    const r = await openSession(node, { row, clock: Date.now })
    assert.equal(r.keysUnlocked, false)
    const actor = await authenticate(node, r.token)
    assert.equal(actor.keys, undefined)
    assert.throws(() => requireKeys(actor), (err: unknown) => isAppError(err, 'KEYS_LOCKED') && err.status === 403)
    await logout(node, r.token)
    await assert.rejects(async () => await authenticate(node, r.token), refused('SESSION_EXPIRED'))
  })
})
