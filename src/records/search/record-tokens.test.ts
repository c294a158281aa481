import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { TermExtractor } from './term-extractor.ts'
import { recordTokens, searchToken, termPrefixes } from './search-key.ts'

const fixtures = '/work/shared/fixtures'

describe('recordTokens', () => {
  it('gives, for every fixture, exactly the tokens searchToken gives its terms\' prefixes (what a query looks up)', () => {
    let files = 0
    for (const folder of ['fhir', 'ccda', 'hl7v2', 'dicom']) {
      for (const name of readdirSync(join(fixtures, folder))) {
        const bytes = new Uint8Array(readFileSync(join(fixtures, folder, name)))
        const x = new TermExtractor()
        for (let at = 0; at < bytes.byteLength; at += 65536) x.push(bytes.subarray(at, at + 65536))
        const terms = x.terms(name, ['Kardiologie', 'follow-up', 'Hämoglobin'])
        const key = randomBytes(32)
        const expected = [...new Set(terms.flatMap(termPrefixes))].map((p) => searchToken(key, p).toString('hex')).sort()
        assert.deepEqual(recordTokens(key, terms).map((t) => t.toString('hex')).sort(), expected, name)
        assert.ok(recordTokens(key, terms).every((t) => t.length === 16))
        files++
      }
    }
    assert.ok(files >= 10, `${files} fixtures`)
  })
})
