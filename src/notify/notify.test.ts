import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { notify, type NotifyParams } from './notify.ts'
import { listMail } from './list-mail.ts'
import { notificationKinds, type NotificationKind } from './render-notification.ts'
import { isAppError } from '../errors.ts'
import { cleanup, tempDir } from '../../test/helpers/node-process.ts'
import { insertAccount, insertHospital, openMailDb, sentinels } from '../../test/helpers/mail-fixtures.ts'

describe('notify: into the outbox of a real SQLite database', async () => {
  const home = tempDir('ml-notify-')
  const { db, config } = await openMailDb({ home })
  let hospital = ''
  let patient = ''
  let doctor = ''
  let admin = ''
  let researcher = ''
  const outbox = async () => await db.all('SELECT * FROM outbox ORDER BY id') as { id: number; account_id: string; to_address: string; kind: string; subject: string; body: string; state: string; error: string | null; sent_at: number | null }[]

  before(async () => {
    hospital = await insertHospital(db, 'St Mary')
    patient = await insertAccount(db, { role: 'patient', name: 'Ann Smith', email: 'ann@example.org', hospitalId: hospital })
    doctor = await insertAccount(db, { role: 'doctor', name: 'Dr House', email: 'house@example.org', hospitalId: hospital })
    admin = await insertAccount(db, { role: 'admin', name: 'Consortium admin', email: 'admin@example.org' })
    researcher = await insertAccount(db, { role: 'researcher', name: 'Rita Search', email: 'rita@example.org', hospitalId: hospital })
    // The free text a flow keeps in the database, where a careless template could have found it.
    const now = Date.now()
    await db.run(`INSERT INTO access_requests (request_id, requester_id, patient_id, purpose_code, purpose, duration_s, status, reason, created_at) VALUES ('0x01', ?, ?, 1, ?, 86400, 'denied', ?, ?)`, doctor, patient, sentinels.purpose, sentinels.reason, now)
    await db.run(`INSERT INTO emergencies (emergency_id, doctor_id, patient_id, reason, expires_at, created_at) VALUES ('0x02', ?, ?, ?, ?, ?)`, doctor, patient, sentinels.reason, now + 86400_000, now)
  })
  after(async () => {
    await db.close()
    cleanup(home)
  })

  const expiresAt = new Date(Date.now() + 86400_000)
  const every = (): Record<NotificationKind, NotifyParams> => ({
    'record-added': { kind: 'record-added', accountId: patient, by: { accountId: doctor } },
    'access-requested': { kind: 'access-requested', accountId: patient, by: { accountId: doctor }, recordCount: 2, durationSeconds: 14 * 86400 },
    'access-approved': { kind: 'access-approved', accountId: doctor, by: { accountId: patient }, recordCount: 'all', expiresAt },
    'access-denied': { kind: 'access-denied', accountId: doctor, by: { accountId: patient } },
    'access-revoked': { kind: 'access-revoked', accountId: doctor, by: { accountId: patient } },
    'emergency-access': { kind: 'emergency-access', accountId: patient, by: { accountId: doctor }, expiresAt },
    'doctor-confirmed': { kind: 'doctor-confirmed', accountId: doctor, by: { hospitalId: hospital } },
    'doctor-rejected': { kind: 'doctor-rejected', accountId: doctor, by: { accountId: admin } },
    'mfa-reset': { kind: 'mfa-reset', accountId: doctor, by: { accountId: admin } },
    'mfa-disabled': { kind: 'mfa-disabled', accountId: patient, by: { accountId: patient } },
    'sign-up-attempted': { kind: 'sign-up-attempted', accountId: patient, by: { accountId: patient } },
    'erasure-requested': { kind: 'erasure-requested', accountId: doctor, by: { accountId: patient } },
    'erasure-confirmed': { kind: 'erasure-confirmed', accountId: patient, by: { accountId: admin } },
    'erasure-rejected': { kind: 'erasure-rejected', accountId: patient, by: { hospitalId: hospital } },
    'researcher-confirmed': { kind: 'researcher-confirmed', accountId: researcher, by: { hospitalId: hospital } },
    'researcher-rejected': { kind: 'researcher-rejected', accountId: researcher, by: { accountId: admin } },
    'study-approved': { kind: 'study-approved', accountId: researcher, by: { accountId: admin } },
    'study-rejected': { kind: 'study-rejected', accountId: researcher, by: { accountId: admin } },
    'team-access-granted': { kind: 'team-access-granted', accountId: doctor, by: { accountId: patient }, recordCount: 3, expiresAt },
    'team-access-revoked': { kind: 'team-access-revoked', accountId: doctor, by: { accountId: patient } },
    'team-grant-confirmed': { kind: 'team-grant-confirmed', accountId: patient, by: { hospitalId: hospital }, recordCount: 'all', expiresAt },
  })

  it('keeps every kind in the outbox (no SMTP URL), addressed to the recipient, naming the other party from the database', async () => {
    for (const kind of notificationKinds) {
      // Properties a caller slips past the types at run time are dropped, not rendered.
      await notify({ db, config }, { ...every()[kind], ...sentinels } as NotifyParams)
    }
    const rows = await outbox()
    assert.deepEqual(rows.map((r) => r.kind), [...notificationKinds])
    for (const r of rows) {
      assert.equal(r.state, 'kept')
      assert.equal(r.sent_at, null)
      const to = every()[r.kind as NotificationKind].accountId
      assert.equal(r.account_id, to)
      assert.equal(r.to_address, to === patient ? 'ann@example.org' : to === researcher ? 'rita@example.org' : 'house@example.org')
      for (const [what, value] of Object.entries(sentinels)) assert.ok(!r.subject.includes(value) && !r.body.includes(value), `${r.kind} holds no ${what}`)
    }
    assert.match(rows[1].body, /Dr House \(doctor\) asks to read 2 of your records for 14 days/)
    assert.match(rows[6].body, /St Mary \(hospital\) confirmed/)
  })

  it('refuses an unknown recipient, party or hospital, and writes nothing', async () => {
    const before = (await outbox()).length
    const cases: [NotifyParams, string][] = [
      [{ kind: 'access-denied', accountId: sentinels.reason, by: { accountId: patient } }, 'UNKNOWN_ACCOUNT'],
      [{ kind: 'access-denied', accountId: doctor, by: { accountId: sentinels.reason } }, 'UNKNOWN_ACCOUNT'],
      [{ kind: 'doctor-confirmed', accountId: doctor, by: { hospitalId: sentinels.purpose } }, 'UNKNOWN_HOSPITAL'],
      [{ kind: 'access-requested', accountId: patient, by: { accountId: doctor }, recordCount: 0, durationSeconds: 86400 }, 'INTERNAL'],
      [{ kind: 'access-requested', accountId: patient, by: { accountId: doctor }, recordCount: 'all', durationSeconds: -1 }, 'INTERNAL'],
      [{ kind: 'emergency-access', accountId: patient, by: { accountId: doctor }, expiresAt: new Date('nonsense') }, 'INTERNAL'],
      [{ kind: 'diagnosis-ready', accountId: patient, by: { accountId: doctor } } as unknown as NotifyParams, 'INTERNAL'],
    ]
    for (const [params, code] of cases) {
      await assert.rejects(notify({ db, config }, params), (err) => isAppError(err, code as never), `${params.kind} → ${code}`)
    }
    assert.equal((await outbox()).length, before)
  })

  it('queues instead when the node has an SMTP URL', async () => {
    const withSmtp = { ...config, smtpUrl: 'smtp://mailer:secret@127.0.0.1:2525' }
    await notify({ db, config: withSmtp }, every()['record-added'])
    assert.equal((await outbox()).at(-1)!.state, 'queued')
  })

  it('links to the public URL when one is configured', async () => {
    await notify({ db, config: { ...config, publicUrl: 'https://medledger.example.org' } }, every()['access-denied'])
    assert.match((await outbox()).at(-1)!.body, /Sign in to see details: https:\/\/medledger\.example\.org\/requests\n/)
  })

  it('lists only the recipient\'s own notifications, newest first, with paging', async () => {
    const mine = await listMail({ db }, { accountId: patient })
    assert.equal(mine.total, (await outbox()).filter((r) => r.account_id === patient).length)
    const all = await outbox()
    assert.ok(mine.mail.every((m) => all.find((r) => r.id === m.id)!.account_id === patient))
    assert.deepEqual(mine.mail.map((m) => m.id), [...mine.mail.map((m) => m.id)].sort((a, b) => b - a))
    const page = await listMail({ db }, { accountId: patient, limit: 1, offset: 1 })
    assert.deepEqual(page.mail.map((m) => m.id), [mine.mail[1].id])
    assert.equal((await listMail({ db }, { accountId: admin })).total, 0)
    for (const key of ['id', 'kind', 'subject', 'body', 'state', 'createdAt', 'sentAt']) assert.ok(key in mine.mail[0], key)
    assert.ok(!('error' in mine.mail[0]) && !('to_address' in mine.mail[0]))
  })
})
