import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { deidentifyCcda } from '../../src/records/deidentify-ccda.ts'
import { identifyingCcdaStrings, leaks } from './identifying-strings.ts'

const dir = '/work/shared/fixtures/ccda'
const files = readdirSync(dir).filter((f) => f.endsWith('.xml')).sort()

/** Every coded entry's code@code: clinical content that must survive. */
const codes = (xml: string) => new Set([...xml.matchAll(/<(?:code|value|translation)\b[^>]*\bcode="([^"]+)"[^>]*codeSystem="([^"]+)"/g)].map((m) => `${m[2]}|${m[1]}`))

describe('de-identification of C-CDA documents (HIPAA Safe Harbor)', () => {
  for (const file of files) {
    it(`${file}: no identifying string of the original remains; every coded entry does`, () => {
      const original = readFileSync(join(dir, file), 'utf8')
      const secret = identifyingCcdaStrings(original)
      assert.ok(secret.size >= 10, `the scan found identifying strings in ${file} (${secret.size})`)
      const out = deidentifyCcda(original, { patientPseudonym: 'PSEUDONYM1', year: 2026 })
      assert.ok(out)
      assert.deepEqual(leaks(secret, out), [], `identifying strings left in ${file}`)
      assert.doesNotMatch(out, /value="\d{5,}/, 'a full date or time')
      assert.deepEqual([...codes(original)].filter((c) => !codes(out).has(c)), [])
      assert.match(out, /<id root="2\.25" extension="PSEUDONYM1"/)
      // still well-formed enough to read back: every element opened is closed
      const opened = (out.match(/<[A-Za-z][^>]*[^/]>/g) ?? []).length
      const closed = (out.match(/<\/[A-Za-z][^>]*>/g) ?? []).length
      assert.equal(opened, closed)
    })
  }

  it('a birth time of someone older than 89 is masked; not a C-CDA: undefined', () => {
    const out = deidentifyCcda('<ClinicalDocument><recordTarget><patientRole><patient><birthTime value="19300102"/></patient></patientRole></recordTarget></ClinicalDocument>', { patientPseudonym: 'P', year: 2026 })!
    assert.match(out, /<birthTime nullFlavor="MSK"\/>/)
    assert.equal(deidentifyCcda('{"resourceType":"Patient"}', { patientPseudonym: 'P', year: 2026 }), undefined)
  })
  it('entry texts, descriptions, references and links (URLs) and observation media (photos) go; codes and values stay', () => {
    const xml = `<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><component><structuredBody><component><section><title>Results</title>
<entry><observation classCode="OBS" moodCode="EVN"><code code="8302-2" codeSystem="2.16.840.1.113883.6.1"/><text>Patient Jo Hendrikse said neighbour Pieter helps</text><value xsi:type="PQ" value="170" unit="cm"/>
<reference value="https://ehr.example.org/patients/8812345"/><entryRelationship><observationMedia><value mediaType="image/jpeg" representation="B64">UGhvdG9PZkpvSGVuZHJpa3Nl</value></observationMedia></entryRelationship>
<participant><participantRole><playingEntity><code code="91936005" codeSystem="2.16.840.1.113883.6.96"/><desc>Neighbour Pieter, 06-12345678</desc></playingEntity></participantRole></participant></observation></entry>
<entry><act classCode="ACT" moodCode="EVN"><code code="48767-8" codeSystem="2.16.840.1.113883.6.1"/><text><reference value="#note1"/>Call Mrs Hendrikse on 06-98765432</text><linkHtml href="http://portal.example/jo">x</linkHtml></act></entry>
</section></component></structuredBody></component></ClinicalDocument>`
    const out = deidentifyCcda(xml, { patientPseudonym: 'P', year: 2026 })!
    assert.deepEqual(leaks(['Hendrikse', 'Pieter', '06-12345678', '06-98765432', 'ehr.example.org', '8812345', 'UGhvdG9PZkpvSGVuZHJpa3Nl', 'portal.example'], out), [])
    assert.deepEqual([...codes(out)].sort(), [...codes(xml)].sort())
    assert.match(out, /<value xsi:type="PQ" value="170" unit="cm"\/>/)
  })
})
