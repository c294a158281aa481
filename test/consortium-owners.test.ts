import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

// Issue 10, items 5 and 10 for src/consortium: the follower hands each ledger event to the folder
// that owns its data (records, consent, accounts) and holds no SQL itself. Function length is
// checked for all of src in test/architecture.test.ts.

const root = resolve(import.meta.dirname, '..')
const read = (path: string) => readFileSync(join(root, path), 'utf8')
const sql = /\bSELECT\b[\s\S]{0,300}?\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\bdb\.(?:get|all|run|exec)\b/

describe('consortium: events handled by their owners', () => {
  const dispatcher = read('src/consortium/ledger-events.ts')

  it('the dispatcher holds no SQL and never reaches the database itself', () => {
    assert.equal(sql.exec(dispatcher)?.[0], undefined)
  })

  it('each event goes to a handler in the folder that owns its data', () => {
    const imports = [...dispatcher.matchAll(/from '\.\.\/(\w+)\/([\w-]+)\.ts'/g)].map((m) => `${m[1]}/${m[2]}`)
    for (const handler of ['records/apply-anchored-record', 'consent/apply-access-requested', 'consent/apply-access-approved', 'consent/apply-access-denied',
      'consent/apply-access-revoked', 'consent/apply-emergency-declared', 'consent/apply-shared', 'accounts/apply-membership-event']) {
      assert.ok(imports.includes(handler), `ledger-events.ts does not hand events to ${handler}.ts`)
    }
  })

  it('the follower and the local flows write records, shares and emergency releases with the same functions', () => {
    assert.match(read('src/records/apply-anchored-record.ts'), /insertRecord\(/)
    assert.match(read('src/consent/shares.ts'), /insertShare\(/)
    assert.match(read('src/consent/apply-shared.ts'), /insertShare\(/)
    assert.match(read('src/consent/shares.ts'), /markShareRevoked\(/)
    assert.match(read('src/consent/emergency.ts'), /recordEmergencyRelease\(/)
    assert.match(read('src/records/upload-record.ts'), /insertRecord\(/)
    assert.match(read('src/consent/resolve-access.ts'), /markShareUsed\(/)
    for (const f of [dispatcher, read('src/consent/apply-shared.ts'), read('src/records/apply-anchored-record.ts'), read('src/records/upload-record.ts'), read('src/consent/resolve-access.ts')]) {
      assert.doesNotMatch(f, /INSERT\s+INTO\s+(?:records|shares)\b|UPDATE\s+shares\b/)
    }
  })
})
