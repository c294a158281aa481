import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { deidentifyFhir, pseudonymOf, zip3 } from '../../src/records/deidentify-fhir.ts'
import { clinicalCodes, identifyingStrings, leaks } from './identifying-strings.ts'

const dir = '/work/shared/fixtures/fhir'
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
const studyKey = new Uint8Array(32).fill(7)

function exportedCodes(resources: Record<string, unknown>[]): Set<string> {
  return clinicalCodes({ entry: resources.map((resource) => ({ resource })) })
}

describe('de-identification of FHIR bundles (HIPAA Safe Harbor)', () => {
  for (const file of fixtures) {
    it(`${file}: no identifying string of the original remains; every clinical code does`, () => {
      const original = JSON.parse(readFileSync(join(dir, file), 'utf8'))
      const secret = identifyingStrings(original)
      assert.ok(secret.size > 10, `the scan found identifying strings in ${file} (${secret.size})`)
      const { resources } = deidentifyFhir(original, { studyKey, patientPseudonym: pseudonymOf(studyKey, file), year: 2026 })
      const text = resources.map((r) => JSON.stringify(r)).join('\n')
      const leaked = leaks(secret, text)
      assert.deepEqual(leaked, [], `identifying strings left in the export of ${file}`)
      // no full date, no narrative, no identifier, no telecom anywhere
      assert.doesNotMatch(text, /\d{4}-\d{2}-\d{2}/)
      assert.doesNotMatch(text, /"(div|identifier|telecom|photo)"/)
      const codes = clinicalCodes(original)
      assert.deepEqual([...codes].filter((c) => !exportedCodes(resources).has(c)), [])
      assert.equal(resources.length, original.entry.length)
    })
  }

  it('the patient is named by the study pseudonym, and every reference to them too', () => {
    const file = fixtures.find((f) => !f.startsWith('hospital') && !f.startsWith('practitioner'))!
    const original = JSON.parse(readFileSync(join(dir, file), 'utf8'))
    const pseudonym = pseudonymOf(studyKey, 'patient-1')
    const { resources, quasi } = deidentifyFhir(original, { studyKey, patientPseudonym: pseudonym, year: 2026 })
    const patient = resources[0]!
    assert.equal(patient.resourceType, 'Patient')
    assert.equal(patient.id, pseudonym)
    const birth = (original.entry[0].resource.birthDate as string).slice(0, 4)
    assert.equal(patient.birthDate, birth)
    assert.deepEqual(quasi, { birthYear: birth, sex: original.entry[0].resource.gender, zip3: zip3(original.entry[0].resource.address[0].postalCode) })
    const subjects = resources.filter((r) => r.resourceType === 'Condition').map((r) => (r.subject as { reference: string }).reference)
    assert.ok(subjects.length > 0)
    assert.deepEqual(new Set(subjects), new Set([`Patient/${pseudonym}`]))
    // another study: other pseudonyms for every resource
    const other = deidentifyFhir(original, { studyKey: new Uint8Array(32).fill(8), patientPseudonym: pseudonymOf(new Uint8Array(32).fill(8), 'patient-1'), year: 2026 })
    const ids = new Set(resources.map((r) => r.id))
    assert.equal(other.resources.filter((r) => ids.has(r.id)).length, 0)
    // the same study again: the same pseudonyms
    assert.deepEqual(deidentifyFhir(original, { studyKey, patientPseudonym: pseudonym, year: 2026 }).resources.map((r) => r.id), resources.map((r) => r.id))
  })

  it('a subject older than 89 keeps no birth year; small ZIP areas become 000', () => {
    const patient = { resourceType: 'Patient', id: 'p1', birthDate: '1931-02-03', gender: 'male', address: [{ line: ['1 Main St'], city: 'Tiny', state: 'NH', postalCode: '03601' }] }
    const { resources, quasi } = deidentifyFhir(patient, { studyKey, patientPseudonym: 'x', year: 2026 })
    assert.equal(resources[0]!.birthDate, undefined)
    assert.deepEqual(resources[0]!._birthDate, { extension: [{ url: 'urn:medledger:deidentified-age', valueString: '90 or older' }] })
    assert.deepEqual(resources[0]!.address, [{ state: 'NH', postalCode: '000' }])
    assert.deepEqual(quasi, { birthYear: '90+', sex: 'male', zip3: '000' })
    assert.equal(zip3('01581-1234'), '015')
    // Not a US ZIP (5 digits, or ZIP+4): nothing of it is kept, not even a Swiss 8001's "800".
    for (const other of ['8001', '80331 München', 'IC70 7VT', '015812']) assert.equal(zip3(other), '000', other)
  })

  it('free text outside the listed keys goes too: a conclusion, a dosage text, [x]String choices, titles, summaries; a coverage group number, a signature', () => {
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [
      { fullUrl: 'urn:uuid:p', resource: { resourceType: 'Patient', id: 'p', gender: 'male', birthDate: '1961-07-23', extension: [{ url: 'http://example.org/maiden', valueHumanName: { family: 'Maidenname', given: ['Gisela'] } }] } },
      { fullUrl: 'urn:uuid:x', resource: { resourceType: 'DocumentReference', id: 'x', status: 'current', masterIdentifier: { system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.3.99812' }, subject: { reference: 'urn:uuid:p' } } },
      { fullUrl: 'urn:uuid:d', resource: { resourceType: 'DiagnosticReport', id: 'd', status: 'final', subject: { reference: 'urn:uuid:p' }, code: { coding: [{ system: 'http://loinc.org', code: '24323-8' }] }, conclusion: 'Discussed with José Ñúñez by phone', conclusionCode: [{ coding: [{ system: 'http://snomed.info/sct', code: '281900007' }] }] } },
      { fullUrl: 'urn:uuid:m', resource: { resourceType: 'MedicationRequest', id: 'm', status: 'active', intent: 'order', subject: { reference: 'urn:uuid:p' }, medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '860975' }], text: 'Metformin' }, dosageInstruction: [{ text: 'call 802-555-0199 if dizzy', timing: { code: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation', code: 'BID' }], text: 'twice a day' } } }] } },
      { fullUrl: 'urn:uuid:c', resource: { resourceType: 'Condition', id: 'c', subject: { reference: 'urn:uuid:p' }, code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003' }] }, onsetString: 'since Mariñe Bergström left 12 Rue des Écoles', abatementString: 'when Keiko moved' } },
      { fullUrl: 'urn:uuid:r', resource: { resourceType: 'RiskAssessment', id: 'r', status: 'final', subject: { reference: 'urn:uuid:p' }, mitigation: 'ask neighbour Ingrid Lindqvist', prediction: [{ rationale: 'per Dr. Tanaka Keiko' }] } },
      { fullUrl: 'urn:uuid:k', resource: { resourceType: 'ClinicalImpression', id: 'k', status: 'completed', subject: { reference: 'urn:uuid:p' }, summary: 'Jose Angel seems well' } },
      { fullUrl: 'urn:uuid:o', resource: { resourceType: 'Communication', id: 'o', status: 'completed', subject: { reference: 'urn:uuid:p' }, payload: [{ contentString: 'Hello Mr Nunez-Yamada' }] } },
      { fullUrl: 'urn:uuid:q', resource: { resourceType: 'CarePlan', id: 'q', status: 'active', intent: 'plan', subject: { reference: 'urn:uuid:p' }, title: 'Plan for Yamada Taro' } },
      { fullUrl: 'urn:uuid:v', resource: { resourceType: 'Coverage', id: 'v', status: 'active', beneficiary: { reference: 'urn:uuid:p' }, class: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code: 'group' }] }, value: 'GRP-99812' }] } },
      { fullUrl: 'urn:uuid:s', resource: { resourceType: 'Provenance', id: 's', target: [{ reference: 'urn:uuid:c' }], recorded: '2023-01-02T10:00:00Z', signature: [{ type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.1' }], who: { reference: 'urn:uuid:p' }, sigFormat: 'image/png', data: 'U2lnbmVkIEpvc2UgTnVuZXo=' }] } },
    ] }
    const secret = ['José Ñúñez', '802-555-0199', 'Mariñe Bergström', 'Keiko', 'Ingrid Lindqvist', 'Tanaka Keiko', 'Jose Angel', 'Nunez-Yamada', 'Yamada Taro', 'GRP-99812', 'U2lnbmVkIEpvc2UgTnVuZXo=', 'Maidenname', 'Gisela', '1.2.3.99812']
    const { resources } = deidentifyFhir(bundle, { studyKey, patientPseudonym: 'x', year: 2026 })
    const text = JSON.stringify(resources)
    assert.deepEqual(leaks(secret, text), [])
    // coded content stays, a CodeableConcept's text (the concept's name) too
    for (const code of ['24323-8', '281900007', '860975', '38341003', '"text":"Metformin"', '"text":"twice a day"']) assert.ok(text.includes(code), code)
  })

  it('coordinates and device identifiers go; a location keeps its state', () => {
    const bundle = { resourceType: 'Bundle', entry: [
      { fullUrl: 'urn:uuid:l1', resource: { resourceType: 'Location', id: 'l1', name: 'Ward 7', position: { latitude: 42.3, longitude: -71.5 }, address: { city: 'Boston', state: 'MA', postalCode: '02130' } } },
      { fullUrl: 'urn:uuid:d1', resource: { resourceType: 'Device', id: 'd1', udiCarrier: [{ deviceIdentifier: '00844588003288', carrierHRF: '(01)00844588003288(17)141120' }], serialNumber: 'SN-123456', distinctIdentifier: 'DI-99', type: { coding: [{ system: 'http://snomed.info/sct', code: '706004007' }] } } },
    ] }
    const secret = identifyingStrings(bundle)
    const text = JSON.stringify(deidentifyFhir(bundle, { studyKey, patientPseudonym: 'x', year: 2026 }).resources)
    assert.deepEqual(leaks([...secret, '42.3', '-71.5', '00844588003288', 'SN-123456', 'DI-99', 'Ward 7'], text), [])
    assert.match(text, /"state":"MA"/)
    assert.match(text, /706004007/)
  })
})
