import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { deidentifyHl7 } from '../../src/records/deidentify-hl7.ts'
import { identifyingHl7Strings, leaks } from './identifying-strings.ts'

const dir = '/work/shared/fixtures/hl7v2'
const files = readdirSync(dir).filter((f) => f.endsWith('.hl7')).sort()

/** Every observation and order code (OBX-3, OBR-4: code^text^system), split on the message's own separators: clinical content that must survive. */
const codes = (text: string) => {
  const sep = text[3]!
  return new Set(text.split(/\r\n|\r|\n/).map((s) => s.split(sep)).filter((f) => f[0] === 'OBX' || f[0] === 'OBR')
    .map((f) => (f[0] === 'OBX' ? f[3] : f[4])!.split(text[4]!).slice(0, 3).join('|')))
}

describe('de-identification of HL7 v2 messages (HIPAA Safe Harbor)', () => {
  for (const file of files) {
    it(`${file}: no identifying string of the original remains; every observation code and numeric value does`, () => {
      const original = readFileSync(join(dir, file), 'utf8')
      const secret = identifyingHl7Strings(original)
      assert.ok(secret.size >= 10, `the scan found identifying strings in ${file} (${secret.size})`)
      const out = deidentifyHl7(original, { patientPseudonym: 'PSEUDONYM1', year: 2026 })
      assert.ok(out)
      assert.deepEqual(leaks(secret, out), [], `identifying strings left in ${file}`)
      assert.doesNotMatch(out, /\d{6,}/, 'a full date, time or long number')
      assert.deepEqual([...codes(original)].filter((c) => !codes(out).has(c)), [])
      const numeric = (t: string) => t.split('\r').filter((s) => /^OBX\|\d*\|NM\|/.test(s)).map((s) => s.split('|')[5])
      assert.deepEqual(numeric(out), numeric(original.replace(/\r\n|\n/g, '\r')))
      const pid = out.split('\r').find((s) => s.startsWith('PID|'))!.split('|')
      assert.equal(pid[3], 'PSEUDONYM1^^^STUDY')
      assert.match(pid[7]!, /^\d{4}$/, 'the birth date kept to its year')
      assert.ok(!/^NTE\|/m.test(out.replace(/\r/g, '\n')), 'notes removed')
      assert.equal(out.split('\r')[0]!.split('|')[8], original.split(/\r|\n/)[0]!.split('|')[8], 'the message type kept')
    })
  }

  it('a birth date older than 89 years goes; names, phones and ids of next of kin go; not HL7 v2: undefined', () => {
    const msg = 'MSH|^~\\&|APP|FAC|||19991231||ADT^A01|X1|P|2.5\rPID|1||MRN123^^^H||Old^Person||19300102|F|||1 Main St^^Springfield^IL^62704^USA||555-123-4567\rNK1|1|Kin^Next|SPO|2 Side St^^Springfield^IL^62704|555-987-6543\r'
    const out = deidentifyHl7(msg, { patientPseudonym: 'P', year: 2026 })!
    const pid = out.split('\r')[1]!.split('|')
    assert.equal(pid[7], '')
    assert.equal(pid[11], '^^^IL^627^USA')
    assert.equal(out.split('\r')[2], 'NK1|1||SPO')
    assert.deepEqual(leaks(['MRN123', 'Person', 'Springfield', '555-123-4567', '555-987-6543', 'Side St', '62704', 'X1', '19991231', 'APP'], out), [])
    assert.equal(deidentifyHl7('{"resourceType":"Patient"}', { patientPseudonym: 'P', year: 2026 }), undefined)
  })
  it('a coded value or observation id keeps its codes and texts, not its original text (CWE-9) nor anything after', () => {
    const message = ['MSH|^~\\&|LAB|HOSP|EHR|HOSP|202305061200||ORU^R01|CTRL-7788|P|2.5.1',
      'OBX|1|CWE|94500-6^SARS-CoV-2 RNA^LN||260373001^Detected^SCT^^^^^^Result phoned to Kari Larsen at 555-0101||||||F',
      'OBX|2|CE|8302-2^Height^LN^^^^^^Measured by Ola Nordmann||170^cm^UCUM^^^^^^Nordmann measured||||||F',
      'DG1|1||I48.0^Atrial fibrillation^I10^^^^^^told by daughter Ingrid Berg',
    ].join('\r')
    const out = deidentifyHl7(message, { patientPseudonym: 'P', year: 2026 })!
    assert.deepEqual(leaks(['Kari Larsen', '555-0101', 'Ola Nordmann', 'Nordmann', 'Ingrid Berg'], out), [])
    for (const code of ['94500-6^SARS-CoV-2 RNA^LN', '260373001^Detected^SCT', '8302-2^Height^LN', '170^cm^UCUM', 'I48.0^Atrial fibrillation^I10']) assert.ok(out.includes(code), code)
  })
})
