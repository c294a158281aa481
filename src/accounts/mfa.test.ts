import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Secret, TOTP } from 'otpauth'
import { isAppError, type ErrorCode } from '../errors.ts'
import { confirmTotpEnrolment, generateMfaRecoveryCode, getMfaStatus, hashMfaRecoveryCode, startTotpEnrolment, useSecondFactor } from './mfa.ts'
import { insertSignInAccount, openSignInNode, signInRows } from '../../test/helpers/sign-in-fixtures.ts'
import type { Actor } from './account.ts'
import { disableTotp } from './disable-totp.ts'

const code = (secret: string, ms: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: ms })
/** A 6-digit code that is none of the codes of the steps around `ms`. */
const wrongCode = (secret: string, ms: number) => {
  const near = new Set([-1, 0, 1].map((d) => code(secret, ms + d * 30_000)))
  let c = 0
  while (near.has(String(c).padStart(6, '0'))) c++
  return String(c).padStart(6, '0')
}
const refused = (code: ErrorCode) => (err: unknown) => isAppError(err, code)

describe('TOTP enrolment, codes and recovery codes', async () => {
  const node = await openSignInNode({ MEDLEDGER_MFA_ROLES: 'doctor' })
  let actor: Actor
  let secret = ''
  let recoveryCodes: string[] = []
  let now = Date.UTC(2030, 0, 1, 12, 0, 0)
  const clock = () => now
  const annPassword = 'ann-password-123'

  before(async () => {
    const { id, email } = await insertSignInAccount(node, { role: 'patient', email: 'ann@example.org', password: annPassword })
    actor = { account: { id, email, name: 'Ann', role: 'patient', hospitalId: null, address: '0x0000000000000000000000000000000000000001', keyScheme: 'x25519-hpke', status: 'active', createdAt: '' } }
  })
  after(() => node.close())

  it('needs the current password to start or confirm, whatever the session; wrong ones count towards the lock-out', async () => {
    const rows = async () => ({ mfa: await node.db.all('SELECT * FROM mfa'), failures: (await node.db.get('SELECT count(*) AS n FROM sign_in_failures') as { n: number }).n })
    const before = await rows()
    await assert.rejects(startTotpEnrolment(node, { actor, password: undefined, clock }), refused('PASSWORD_REQUIRED'))
    await assert.rejects(startTotpEnrolment(node, { actor, password: '', clock }), refused('PASSWORD_REQUIRED'))
    assert.deepEqual(await rows(), before)
    await assert.rejects(startTotpEnrolment(node, { actor, password: 'not-the-password', clientAddress: '192.0.2.7', clock }), refused('WRONG_PASSWORD'))
    assert.deepEqual((await rows()).mfa, before.mfa, 'nothing enrolled')
    assert.equal((await rows()).failures, before.failures + 1, 'the wrong password was counted')
    const { secret: s1 } = await startTotpEnrolment(node, { actor, password: annPassword, clientAddress: '192.0.2.7', clock })
    assert.equal((await rows()).failures, before.failures, 'the right one forgets the failures')
    await assert.rejects(confirmTotpEnrolment(node, { actor, password: 'not-the-password', code: code(s1, now), clock }), refused('WRONG_PASSWORD'))
    await assert.rejects(confirmTotpEnrolment(node, { actor, password: undefined, code: code(s1, now), clock }), refused('PASSWORD_REQUIRED'))
    assert.equal((await getMfaStatus(node, actor.account)).totpEnabled, false)
  })

  it('starts with a sealed secret: the database never holds it in clear', async () => {
    const first = await startTotpEnrolment(node, { actor, password: annPassword, clock })
    const again = await startTotpEnrolment(node, { actor, password: annPassword, clock })
    assert.notEqual(first.secret, again.secret, 'starting again replaces the secret')
    secret = again.secret
    assert.match(again.otpauthUri, /^otpauth:\/\/totp\/MedLedger:ann%40example\.org\?/)
    assert.ok(again.otpauthUri.includes(`secret=${secret}`))
    assert.match(again.qrSvg, /^<svg[\s\S]*<\/svg>\s*$/)
    const row = await node.db.get('SELECT * FROM mfa WHERE account_id = ?', actor.account.id) as { sealed_secret: string; enabled: number }
    assert.equal(row.enabled, 0)
    assert.ok(!row.sealed_secret.includes(secret))
    assert.deepEqual(await getMfaStatus(node, actor.account), { required: false, totpEnabled: false, enrolmentPending: true, recoveryCodesLeft: 0 })
    // Not enabled yet: signing in needs no code.
    assert.equal(await useSecondFactor(node, { accountId: actor.account.id, code: undefined, clock }), undefined)
  })

  it('refuses a wrong first code, and a code of the replaced secret, changing nothing', async () => {
    await assert.rejects(async () => await confirmTotpEnrolment(node, { actor, password: annPassword, code: wrongCode(secret, now), clock }), refused('MFA_INVALID'))
    await assert.rejects(async () => await confirmTotpEnrolment(node, { actor, password: annPassword, code: '', clock }), refused('MFA_INVALID'))
    assert.equal((await getMfaStatus(node, actor.account)).totpEnabled, false)
    assert.equal((await node.db.get('SELECT count(*) AS n FROM recovery_codes') as { n: number }).n, 0)
  })

  it('enables TOTP with a first code and answers ten distinct recovery codes, stored only as SHA-256', async () => {
    const r = await confirmTotpEnrolment(node, { actor, password: annPassword, code: code(secret, now), clock })
    recoveryCodes = r.recoveryCodes
    assert.equal(recoveryCodes.length, 10)
    assert.equal(new Set(recoveryCodes).size, 10)
    for (const c of recoveryCodes) assert.match(c, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/)
    const stored = (await node.db.all('SELECT code_hash FROM recovery_codes WHERE account_id = ?', actor.account.id) as { code_hash: string }[]).map((x) => x.code_hash).sort()
    assert.deepEqual(stored, recoveryCodes.map((c) => hashMfaRecoveryCode(actor.account.id, c)).sort())
    assert.deepEqual(await getMfaStatus(node, actor.account), { required: false, totpEnabled: true, enrolmentPending: false, recoveryCodesLeft: 10 })
    await assert.rejects(async () => await confirmTotpEnrolment(node, { actor, password: annPassword, code: code(secret, now), clock }), refused('MFA_ALREADY_ENABLED'))
  })

  it('cannot be started over once enabled (that would swap the factor without proving it)', async () => {
    await assert.rejects(startTotpEnrolment(node, { actor, password: annPassword, clock }), refused('MFA_ALREADY_ENABLED'))
  })

  it('then needs a code: missing, wrong and replayed codes each have their own refusal', async () => {
    const accountId = actor.account.id
    await assert.rejects(async () => await useSecondFactor(node, { accountId, code: undefined, clock }), refused('MFA_REQUIRED'))
    await assert.rejects(async () => await useSecondFactor(node, { accountId, code: '   ', clock }), refused('MFA_REQUIRED'))
    // The confirmation used this step's code: it cannot be used again.
    await assert.rejects(async () => await useSecondFactor(node, { accountId, code: code(secret, now), clock }), refused('MFA_REPLAYED'))
    // Nor can an earlier step's, once a later one was used.
    await assert.rejects(async () => await useSecondFactor(node, { accountId, code: code(secret, now - 30_000), clock }), refused('MFA_REPLAYED'))
    await assert.rejects(async () => await useSecondFactor(node, { accountId, code: wrongCode(secret, now), clock }), refused('MFA_INVALID'))
    now += 30_000
    assert.equal(await useSecondFactor(node, { accountId, code: code(secret, now), clock }), 'totp')
    await assert.rejects(async () => await useSecondFactor(node, { accountId, code: code(secret, now), clock }), refused('MFA_REPLAYED'))
    // The next step's code is already good (±1 window), and then the current one is spent.
    assert.equal(await useSecondFactor(node, { accountId, code: code(secret, now + 30_000), clock }), 'totp')
    now += 30_000
    await assert.rejects(async () => await useSecondFactor(node, { accountId, code: code(secret, now), clock }), refused('MFA_REPLAYED'))
    now += 60_000
    await assert.rejects(async () => await useSecondFactor(node, { accountId, code: code(secret, now - 60_000), clock }), refused('MFA_INVALID'), 'two steps old')
  })

  it('takes each recovery code once, however it is typed', async () => {
    const accountId = actor.account.id
    const sloppy = recoveryCodes[3].toLowerCase().replace(/-/g, ' ')
    assert.equal(await useSecondFactor(node, { accountId, code: sloppy, clock }), 'recovery')
    const before = await signInRows(node.db)
    await assert.rejects(async () => await useSecondFactor(node, { accountId, code: recoveryCodes[3], clock }), refused('MFA_REPLAYED'))
    await assert.rejects(async () => await useSecondFactor(node, { accountId, code: generateMfaRecoveryCode(), clock }), refused('MFA_INVALID'))
    assert.deepEqual(await signInRows(node.db), before)
    assert.equal((await getMfaStatus(node, actor.account)).recoveryCodesLeft, 9)
    assert.equal(await useSecondFactor(node, { accountId, code: recoveryCodes[4], clock }), 'recovery')
  })

  it('a recovery code of another account does not work here', async () => {
    const other = await insertSignInAccount(node, { role: 'patient', email: 'bob@example.org', password: 'bob-password-1234' })
    const otherActor: Actor = { account: { ...actor.account, id: other.id, email: other.email } }
    const { secret: s2 } = await startTotpEnrolment(node, { actor: otherActor, password: 'bob-password-1234', clock })
    const { recoveryCodes: bobs } = await confirmTotpEnrolment(node, { actor: otherActor, password: 'bob-password-1234', code: code(s2, now), clock })
    await assert.rejects(async () => await useSecondFactor(node, { accountId: actor.account.id, code: bobs[0], clock }), refused('MFA_INVALID'))
  })

  it('confirming needs a started enrolment', async () => {
    const carol = await insertSignInAccount(node, { role: 'doctor', email: 'carol@example.org', password: 'carol-password-12' })
    const carolActor: Actor = { account: { ...actor.account, id: carol.id, email: carol.email, role: 'doctor' } }
    await assert.rejects(async () => await confirmTotpEnrolment(node, { actor: carolActor, password: 'carol-password-12', code: '123456', clock }), refused('MFA_NOT_STARTED'))
    assert.deepEqual(await getMfaStatus(node, carolActor.account), { required: true, totpEnabled: false, enrolmentPending: false, recoveryCodesLeft: 0 })
  })

  it('a role that requires TOTP (MEDLEDGER_MFA_ROLES) cannot turn it off, even with the password and a good code; nothing changes', async () => {
    const dave = await insertSignInAccount(node, { role: 'doctor', email: 'dave@example.org', password: 'dave-password-123' })
    const daveActor: Actor = { account: { ...actor.account, id: dave.id, email: dave.email, role: 'doctor' } }
    const { secret: s3 } = await startTotpEnrolment(node, { actor: daveActor, password: 'dave-password-123', clock })
    await confirmTotpEnrolment(node, { actor: daveActor, password: 'dave-password-123', code: code(s3, now), clock })
    const rows = async () => ({ mfa: await node.db.all('SELECT * FROM mfa WHERE account_id = ?', dave.id), codes: await node.db.all('SELECT * FROM recovery_codes WHERE account_id = ?', dave.id), events: await node.db.all('SELECT * FROM account_events WHERE account_id = ?', dave.id) })
    const before = await rows()
    await assert.rejects(disableTotp(node, { actor: daveActor, password: 'dave-password-123', code: code(s3, now + 30_000), clock }), refused('MFA_REQUIRED_BY_ROLE'))
    assert.deepEqual(await rows(), before)
    assert.equal((await getMfaStatus(node, daveActor.account)).totpEnabled, true)
  })
})
