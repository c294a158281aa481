import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

// Issue 10, items 5 and 10 for src/consortium: the follower hands each ledger event to the folder
// that owns its data (records, consent, accounts) and holds no SQL itself; no function in
// src/consortium runs over 80 lines.

const root = resolve(import.meta.dirname, '..')
const consortium = join(root, 'src', 'consortium')
const sources = readdirSync(consortium).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
const read = (path: string) => readFileSync(join(root, path), 'utf8')
const sql = /\bSELECT\b[\s\S]{0,300}?\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\bdb\.(?:get|all|run|exec)\b/

// A function's header: a line ending in `{` that declares a function, an arrow with a block body
// or a method. Its body ends at the first later line that closes at the header's indentation
// (the house formats with two-space indents, so a body never closes elsewhere).
const header = /(?:\bfunction\b.*|=>\s*|^\s*(?:async\s+)?(?:get\s+|set\s+)?\*?\s*(?!if\b|for\b|while\b|switch\b|catch\b)\w+\s*\(.*\)(?:\s*:.*)?\s*)\{$/

/** Every function of a file with a block body over several lines, with its length in lines. */
function functionLengths(file: string): { name: string; lines: number }[] {
  const lines = readFileSync(file, 'utf8').split('\n')
  const found: { name: string; lines: number }[] = []
  lines.forEach((line, i) => {
    if (!header.test(line.trimEnd()) || /^\s*(?:\/\/|\*)/.test(line)) return
    const indent = /^\s*/.exec(line)![0]
    const close = lines.findIndex((l, j) => j > i && new RegExp(`^${indent}}`).test(l))
    if (close < 0) return
    const name = /(?:function\s*\*?\s*|const\s+|^\s*(?:async\s+)?)(?!export\b|async\b)(\w+)/.exec(line)?.[1] ?? `line ${i + 1}`
    found.push({ name: `${name} (line ${i + 1})`, lines: close - i + 1 })
  })
  return found
}

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
    for (const f of [dispatcher, read('src/consent/apply-shared.ts'), read('src/records/apply-anchored-record.ts')]) {
      assert.doesNotMatch(f, /INSERT\s+INTO\s+(?:records|shares)\b/)
    }
  })
})

describe('consortium: no function over 80 lines', () => {
  it('every function in src/consortium is at most 80 lines long', () => {
    assert.ok(sources.length > 5, `read only ${sources.length} files`)
    const long = sources.flatMap((f) => functionLengths(join(consortium, f)).filter((fn) => fn.lines > 80).map((fn) => `${f}: ${fn.name} ${fn.lines} lines`))
    assert.deepEqual(long, [])
  })
})
