import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { errorRegistry, type ErrorCode } from '../src/errors.ts'

// README's error table (under "## HTTP API", the one headed `| code | status | when |`) is what
// clients read: every code in src/errors.ts must be in it, with the status it really answers.
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

/** The rows of the error table: the codes of the first cell and the numbers of the second. */
function errorTable(): { codes: string[]; statuses: number[]; line: string }[] {
  const section = readme.slice(readme.indexOf('\n## HTTP API'))
  const lines = section.slice(0, section.indexOf('\n## ', 1)).split('\n')
  const start = lines.findIndex((l) => /^\|\s*code\s*\|\s*status\s*\|\s*when\s*\|/.test(l))
  assert.ok(start >= 0, 'README has no `| code | status | when |` table under "## HTTP API"')
  const rows: { codes: string[]; statuses: number[]; line: string }[] = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    const [codeCell = '', statusCell = ''] = line.split('|').slice(1)
    rows.push({
      codes: [...codeCell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]),
      statuses: [...statusCell.matchAll(/\d{3}/g)].map((m) => Number(m[0])),
      line,
    })
  }
  return rows
}

describe('error codes in the README', () => {
  const rows = errorTable()
  const documented = new Map(rows.flatMap((r) => r.codes.map((c) => [c, r] as const)))

  it('documents every code of src/errors.ts', () => {
    const missing = Object.keys(errorRegistry).filter((code) => !documented.has(code))
    assert.deepEqual(missing, [], `undocumented error codes (add them to README's error table): ${missing.join(', ')}`)
  })

  it('gives each code the HTTP status the registry answers with', () => {
    const wrong = [...documented].filter(([code, row]) => code in errorRegistry && !row.statuses.includes(errorRegistry[code as ErrorCode].status))
      .map(([code, row]) => `${code}: registry ${errorRegistry[code as ErrorCode].status}, README ${row.statuses.join('/') || 'none'}`)
    assert.deepEqual(wrong, [])
  })

  it('lists no code that does not exist', () => {
    const unknown = [...documented.keys()].filter((code) => !(code in errorRegistry))
    assert.deepEqual(unknown, [])
  })
})
