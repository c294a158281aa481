import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { notificationKinds, renderNotification, uiPaths, type NotificationFacts, type NotificationKind, type RenderNotificationParams } from './render-notification.ts'
import type { NotifyParams } from './notify.ts'
import { sentinels } from '../../test/helpers/mail-fixtures.ts'


const expiresAt = new Date('2030-01-02T03:04:05Z')

/** One row per kind: `Record` makes the compiler fail when a kind has no row. */
const table: Record<NotificationKind, { facts: NotificationFacts; recipient: 'patient' | 'doctor' | 'staff' | 'researcher'; by: RenderNotificationParams['by']; says: RegExp[] }> = {
  'record-added': { facts: { kind: 'record-added' }, recipient: 'patient', by: { name: 'Dr House', role: 'doctor' }, says: [/Dr House \(doctor\) added a new record/] },
  'access-requested': { facts: { kind: 'access-requested', recordCount: 'all', durationSeconds: 7 * 86400 }, recipient: 'patient', by: { name: 'Dr House', role: 'doctor' }, says: [/asks to read all your records for 7 days/] },
  'access-approved': { facts: { kind: 'access-approved', recordCount: 3, expiresAt }, recipient: 'doctor', by: { name: 'Ann Smith', role: 'patient' }, says: [/Ann Smith \(patient\) approved/, /3 records until 2030-01-02 03:04 UTC/] },
  'access-denied': { facts: { kind: 'access-denied' }, recipient: 'doctor', by: { name: 'Ann Smith', role: 'patient' }, says: [/Ann Smith \(patient\) denied/, /Sign in to see details/] },
  'access-revoked': { facts: { kind: 'access-revoked' }, recipient: 'doctor', by: { name: 'Ann Smith', role: 'patient' }, says: [/Ann Smith \(patient\) revoked/] },
  'emergency-access': { facts: { kind: 'emergency-access', expiresAt }, recipient: 'patient', by: { name: 'Dr House', role: 'doctor' }, says: [/Dr House \(doctor\) opened emergency/, /until 2030-01-02 03:04 UTC/, /Sign in to see details/] },
  'doctor-confirmed': { facts: { kind: 'doctor-confirmed' }, recipient: 'doctor', by: { name: 'St Mary', role: 'hospital' }, says: [/St Mary \(hospital\) confirmed your doctor account/] },
  'doctor-rejected': { facts: { kind: 'doctor-rejected' }, recipient: 'doctor', by: { name: 'Consortium admin', role: 'admin' }, says: [/Consortium admin \(consortium admin\) did not confirm/, /Sign in to see details/] },
  'mfa-reset': { facts: { kind: 'mfa-reset' }, recipient: 'doctor', by: { name: 'Sam Staff', role: 'staff' }, says: [/Sam Staff \(hospital staff\) reset the two-factor sign-in/, /sessions were ended/] },
  'mfa-disabled': { facts: { kind: 'mfa-disabled' }, recipient: 'patient', by: { name: 'Ann Smith', role: 'patient' }, says: [/Two-factor sign-in was turned off for your account/, /If it was not you/] },
  'erasure-requested': { facts: { kind: 'erasure-requested' }, recipient: 'staff', by: { name: 'Ann Smith', role: 'patient' }, says: [/Ann Smith \(patient\) asks your hospital to erase one of their records/, /confirm or reject/] },
  'erasure-confirmed': { facts: { kind: 'erasure-confirmed' }, recipient: 'patient', by: { name: 'Sam Staff', role: 'staff' }, says: [/Sam Staff \(hospital staff\) confirmed your request: the record was erased/] },
  'erasure-rejected': { facts: { kind: 'erasure-rejected' }, recipient: 'patient', by: { name: 'Sam Staff', role: 'staff' }, says: [/Sam Staff \(hospital staff\) rejected your request to erase a record/] },
  'researcher-confirmed': { facts: { kind: 'researcher-confirmed' }, recipient: 'researcher', by: { name: 'St Mary', role: 'hospital' }, says: [/St Mary \(hospital\) confirmed your researcher account/, /only de-identified/] },
  'researcher-rejected': { facts: { kind: 'researcher-rejected' }, recipient: 'researcher', by: { name: 'Sam Staff', role: 'staff' }, says: [/Sam Staff \(hospital staff\) did not confirm your researcher account/, /Sign in to see details/] },
  'study-approved': { facts: { kind: 'study-approved' }, recipient: 'researcher', by: { name: 'Consortium admin', role: 'admin' }, says: [/Consortium admin \(consortium admin\) approved one of your studies/, /Patients may now consent/] },
  'study-rejected': { facts: { kind: 'study-rejected' }, recipient: 'researcher', by: { name: 'Consortium admin', role: 'admin' }, says: [/Consortium admin \(consortium admin\) rejected one of your studies/] },
  'team-access-granted': { facts: { kind: 'team-access-granted', recordCount: 4, expiresAt }, recipient: 'doctor', by: { name: 'Ann Smith', role: 'patient' }, says: [/Ann Smith \(patient\) granted a care team you are a member of access to all \(4 records now\) of their records until 2030-01-02 03:04 UTC/] },
  'team-access-revoked': { facts: { kind: 'team-access-revoked' }, recipient: 'doctor', by: { name: 'Ann Smith', role: 'patient' }, says: [/Ann Smith \(patient\) revoked the access to their records they had granted a care team/] },
  'team-grant-confirmed': { facts: { kind: 'team-grant-confirmed', recordCount: 'all', expiresAt }, recipient: 'patient', by: { name: 'St Mary', role: 'hospital' }, says: [/You granted a care team of St Mary \(hospital\) access to all of your records until 2030-01-02 03:04 UTC/, /revoke/] },
  'sign-up-attempted': { facts: { kind: 'sign-up-attempted' }, recipient: 'patient', by: { name: 'Ann Smith', role: 'patient' }, says: [/tried to create a new MedLedger account with your e-mail address/, /no account was created/, /recovery code/] },
}

const recipients = { patient: { name: 'Ann Smith', role: 'patient' }, doctor: { name: 'Dr House', role: 'doctor' }, staff: { name: 'Sam Staff', role: 'staff' }, researcher: { name: 'Rita Search', role: 'researcher' } } as const

describe('notification templates', () => {
  it('has a template for every kind, naming the other party and linking to the UI page', () => {
    assert.deepEqual(Object.keys(table).sort(), [...notificationKinds].sort())
    for (const kind of notificationKinds) {
      const row = table[kind]
      const m = renderNotification({ ...row.facts, recipient: recipients[row.recipient], by: row.by, baseUrl: 'https://medledger.example.org' })
      assert.ok(m.subject.length > 0 && m.subject.length < 120, kind)
      assert.doesNotMatch(m.subject, /[\r\n]/, kind)
      assert.match(m.body, new RegExp(`^Hello ${recipients[row.recipient].name},\n`), kind)
      assert.ok(m.body.includes(`https://medledger.example.org${uiPaths[kind]}`), `${kind} links to its page`)
      for (const re of row.says) assert.match(m.body, re, kind)
    }
  })

  it('holds nothing that looks like a key, a token or a password, in any kind', () => {
    for (const kind of notificationKinds) {
      const row = table[kind]
      // Extra properties a careless caller might add at run time are ignored by the template.
      const withExtras = { ...row.facts, ...sentinels, recipient: recipients[row.recipient], by: row.by, baseUrl: '' } as RenderNotificationParams
      const { subject, body } = renderNotification(withExtras)
      for (const [what, value] of Object.entries(sentinels)) {
        assert.ok(!subject.includes(value) && !body.includes(value), `${kind} shows no ${what}`)
      }
      assert.doesNotMatch(subject + body, /0x[0-9a-f]{16,}|[A-Za-z0-9_-]{32,}|password|passwort|token/i, kind)
      assert.ok(body.includes(`: ${uiPaths[kind]}\n`), `${kind}: without a public URL the link is the path`)
    }
  })

  it('flattens a display name to one bounded line, so it cannot add a header', () => {
    const m = renderNotification({ kind: 'access-denied', recipient: { name: 'Dr\r\nBcc: eve@example.org', role: 'doctor' }, by: { name: `Ann\nBcc: eve@example.org${'x'.repeat(200)}`, role: 'patient' }, baseUrl: '' })
    assert.doesNotMatch(m.subject, /[\r\n]/)
    assert.ok(m.subject.length < 120)
    assert.match(m.body, /^Hello Dr Bcc: eve@example.org,\n/)
    assert.doesNotMatch(m.body, /\nBcc:/)
  })

  it('says hours for a duration that is not whole days, and one record in the singular', () => {
    const a = renderNotification({ kind: 'access-requested', recordCount: 1, durationSeconds: 36 * 3600, recipient: recipients.patient, by: { name: 'Dr House', role: 'doctor' }, baseUrl: '' })
    assert.match(a.body, /asks to read 1 of your records for 36 hours\./)
    const b = renderNotification({ kind: 'access-approved', recordCount: 1, expiresAt, recipient: recipients.doctor, by: { name: 'Ann', role: 'patient' }, baseUrl: '' })
    assert.match(b.body, /you may read 1 record until/)
  })
})

// The compiler is the rest of this test: `npm test` type-checks first, and each line below must
// be refused, because a notification has no place for free text. An unused directive fails too.
const by = { accountId: 'acc-1' }
// @ts-expect-error a denial's reason stays in the app
const withReason: NotifyParams = { kind: 'access-denied', accountId: 'acc-2', by, reason: sentinels.reason }
// @ts-expect-error a request's purpose stays in the app
const withPurpose: NotifyParams = { kind: 'access-requested', accountId: 'acc-2', by, recordCount: 'all', durationSeconds: 86400, purpose: sentinels.purpose }
// @ts-expect-error an emergency's reason stays in the app
const emergencyReason: NotifyParams = { kind: 'emergency-access', accountId: 'acc-2', by, expiresAt, reason: sentinels.reason }
// @ts-expect-error no file name
const withFileName: NotifyParams = { kind: 'record-added', accountId: 'acc-2', by, fileName: sentinels.fileName }
// @ts-expect-error no token
const withToken: NotifyParams = { kind: 'access-approved', accountId: 'acc-2', by, recordCount: 1, expiresAt, token: sentinels.token }
// @ts-expect-error the other party is an id: its name is read from the database, not taken from the caller
const byName: NotifyParams = { kind: 'access-revoked', accountId: 'acc-2', by: { name: sentinels.reason, role: 'patient' } }
// @ts-expect-error the recordCount is a number, not a list of record names
const namedRecords: NotifyParams = { kind: 'access-requested', accountId: 'acc-2', by, recordCount: [sentinels.fileName], durationSeconds: 86400 }
// @ts-expect-error a kind outside the closed list
const unknownKind: NotifyParams = { kind: 'diagnosis-ready', accountId: 'acc-2', by }
// @ts-expect-error the template itself has no field for a diagnosis either
const templateDiagnosis: RenderNotificationParams = { kind: 'record-added', recipient: recipients.patient, by: recipients.doctor, baseUrl: '', diagnosis: sentinels.diagnosis }
