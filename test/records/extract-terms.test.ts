import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { extractContentTerms, extractLabelTerms, fhirCodedTypes } from '../../src/records/search/extract-terms.ts'
import { TermExtractor } from '../../src/records/search/term-extractor.ts'
import { normalizeTerm, termWords } from '../../src/text/normalize-term.ts'
import { prefixTokenLength, probeEntry, recordTokens, searchToken, termPrefixes } from '../../src/records/search/search-key.ts'
import { queryWords } from '../../src/records/search/match-records.ts'
import { dicomString, parseDicom } from '../../src/web/viewers/dicom/parse-dicom.ts'
import { T } from '../../src/web/viewers/dicom/dicom-tags.ts'

const dir = (d: string) => readdirSync(join('/work/shared/fixtures', d)).map((f) => join('/work/shared/fixtures', d, f))
const words = (texts: Iterable<string>) => new Set([...texts].flatMap(termWords))

describe('term extraction per format, checked against an independent parse of each fixture', () => {
  it('FHIR bundles: every resource type, and the codes and display texts of Condition, Observation, Procedure, MedicationRequest, DiagnosticReport', () => {
    for (const f of dir('fhir')) {
      const doc = JSON.parse(readFileSync(f, 'utf8'))
      const resources: any[] = doc.resourceType === 'Bundle' ? doc.entry.map((e: any) => e.resource) : [doc]
      const texts: string[] = []
      for (const r of resources) {
        texts.push(r.resourceType)
        if (!fhirCodedTypes.includes(r.resourceType)) continue
        for (const cc of [r.code, r.medicationCodeableConcept].filter(Boolean)) {
          if (cc.text) texts.push(cc.text)
          for (const c of cc.coding ?? []) texts.push(...[c.code, c.display].filter(Boolean))
        }
      }
      assert.deepEqual([...extractContentTerms(readFileSync(f))].sort(), [...words(texts)].sort(), f)
      // Each condition's SNOMED code is findable as such.
      for (const r of resources.filter((x) => x.resourceType === 'Condition')) assert.ok(extractContentTerms(readFileSync(f)).has(r.code.coding[0].code))
    }
  })

  it('C-CDA: section titles and coded entries (code and displayName)', () => {
    for (const f of dir('ccda')) {
      const xml = readFileSync(f, 'utf8')
      const body = xml.split('<structuredBody')[1]!
      const texts: string[] = []
      for (const section of body.split('<section').slice(1)) {
        const title = section.split('<title>')[1]?.split('</title>')[0]
        if (title) texts.push(title.replace(/&amp;/g, '&'))
      }
      for (const el of body.split('<').filter((s) => /^(code|value|translation)[\s/>]/.test(s))) {
        const attr = (n: string) => el.split('>')[0]!.split(` ${n}="`)[1]?.split('"')[0]
        if (attr('code') === undefined) continue
        texts.push(attr('code')!, ...(attr('displayName') !== undefined ? [attr('displayName')!] : []))
      }
      const got = extractContentTerms(readFileSync(f))
      const want = words(texts.map((t) => t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'")))
      assert.deepEqual([...got].filter((t) => !want.has(t)), [], `${f}: nothing beyond titles and codes`)
      assert.deepEqual([...want].filter((t) => !got.has(t)), [], `${f}: every title and code`)
    }
  })

  it('HL7 v2: the message type (MSH-9) and each OBX-3 observation identifier', () => {
    for (const f of dir('hl7v2')) {
      const texts: string[] = []
      for (const seg of readFileSync(f, 'utf8').split(/[\r\n]+/)) {
        const fields = seg.split('|')
        if (fields[0] === 'MSH') texts.push(fields[8]!)
        if (fields[0] === 'OBX') texts.push(...fields[3]!.split('^').filter((_, i) => i !== 2 && i !== 5))
      }
      assert.deepEqual([...extractContentTerms(readFileSync(f))].sort(), [...words(texts)].sort(), f)
      assert.ok(texts.length > 0)
    }
  })

  it('DICOM: Modality, BodyPartExamined, StudyDescription, SeriesDescription of the header (read by the portal\'s own parser)', () => {
    for (const f of dir('dicom')) {
      const file = parseDicom(new Uint8Array(readFileSync(f)))
      const texts = [T.Modality, T.BodyPartExamined, T.StudyDescription, T.SeriesDescription].map((t) => dicomString(file, t)).filter((v): v is string => Boolean(v))
      assert.ok(texts.length > 0, f)
      assert.deepEqual([...extractContentTerms(readFileSync(f))].sort(), [...words(texts)].sort(), f)
    }
  })

  it('DICOM: texts decoded in the file\'s Specific Character Set (UTF-8, Latin-1, ISO 2022 Japanese), not byte by byte', () => {
    // A minimal Part 10 file, explicit VR little endian: (0008,0005), Modality, SeriesDescription.
    const el = (group: number, element: number, vr: string, value: Buffer) => {
      const v = value.length % 2 ? Buffer.concat([value, Buffer.from(' ')]) : value
      const head = Buffer.alloc(8)
      head.writeUInt16LE(group, 0); head.writeUInt16LE(element, 2); head.write(vr, 4, 'latin1'); head.writeUInt16LE(v.length, 6)
      return Buffer.concat([head, v])
    }
    const file = (charset: string, description: Buffer) => Buffer.concat([
      Buffer.alloc(128), Buffer.from('DICM'), el(0x0002, 0x0010, 'UI', Buffer.from('1.2.840.10008.1.2.1\0', 'latin1')),
      el(0x0008, 0x0005, 'CS', Buffer.from(charset, 'latin1')), el(0x0008, 0x0060, 'CS', Buffer.from('MR')), el(0x0008, 0x103e, 'LO', description),
    ])
    assert.deepEqual([...extractContentTerms(file('ISO_IR 192', Buffer.from('T2 Knöchel 膝', 'utf8')))].sort(), ['knochel', 'mr', 't2', '膝'])
    assert.deepEqual([...extractContentTerms(file('ISO_IR 100', Buffer.from('Knöchel', 'latin1')))].sort(), ['knochel', 'mr'])
    // JIS X 0208 "膝" (0x49 0x28) between the escapes to and from it
    assert.deepEqual([...extractContentTerms(file('\\ISO 2022 IR 87', Buffer.from('1b244249281b2842', 'hex')))].sort(), ['mr', '膝'])
  })

  it('file name words and tags; anything else (random bytes) gives only those', () => {
    assert.deepEqual([...extractLabelTerms('MRT_Knie-links 2026.pdf', ['Orthopädie'])].sort(), ['2026', '2026.pdf', 'knie-links', 'knie', 'links', 'mrt', 'orthopadie', 'pdf'].sort())
    assert.equal(extractContentTerms(randomBytes(4096)).size, 0)
    assert.equal(extractContentTerms(Buffer.from('{"resourceType": "Bundle", "entry": [')).size, 0, 'a cut-off bundle gives nothing, without throwing')
  })

  it('C-CDA: a tag left open does not make the scan run to the document\'s end for each one (80,000 of them, then a closed code)', () => {
    // With `[^>]*` each open tag rescanned the rest of the document: ~30 s for these 480 KB, hours for 64 MiB.
    const xml = `<ClinicalDocument><structuredBody>${'<code '.repeat(80_000)}<code code="L0INC1" displayName="Late find"/></structuredBody></ClinicalDocument>`
    assert.deepEqual([...extractContentTerms(Buffer.from(xml))].sort(), ['find', 'l0inc1', 'late'])
  })

  it('the upload\'s extractor buffers at most its cap: above it, only name and tags (a DICOM file keeps its head)', () => {
    const bundle = readFileSync(dir('fhir')[0]!)
    const small = new TermExtractor(bundle.byteLength)
    for (let i = 0; i < bundle.byteLength; i += 1000) small.push(bundle.subarray(i, i + 1000))
    assert.ok(small.terms('a.json').includes('condition'))
    const capped = new TermExtractor(bundle.byteLength - 1)
    for (let i = 0; i < bundle.byteLength; i += 1000) capped.push(bundle.subarray(i, i + 1000))
    assert.deepEqual(capped.terms('a.json', ['x-ray']), ['a', 'a.json', 'json', 'ray', 'x', 'x-ray'])
    const dcm = readFileSync(dir('dicom').find((f) => f.endsWith('CT_small.dcm'))!)
    const head = new TermExtractor(20_000)
    for (let i = 0; i < dcm.byteLength; i += 4096) head.push(dcm.subarray(i, i + 4096))
    assert.ok(head.terms('ct.dcm').includes('ct'))
  })
})

describe('normalization and prefix tokens', () => {
  it('NFKC, case folding and accents removed, the same for terms and queries', () => {
    assert.equal(normalizeTerm('Hämoglobin'), 'hamoglobin')
    assert.equal(normalizeTerm('ＣＨＯＬＥＳＴＥＲＯＬ'), 'cholesterol')
    assert.equal(normalizeTerm('ﬁbrose'), 'fibrose')
    assert.equal(normalizeTerm('CAFE\u0301'), 'cafe')
    assert.deepEqual(termWords('Diabetes mellitus type 2 (disorder)'), ['diabetes', 'mellitus', 'type', '2', 'disorder'])
    assert.deepEqual(termWords('LOINC 8302-2'), ['loinc', '8302-2', '8302', '2'])
    assert.deepEqual(queryWords('Ｄｉａｂ  ÉTES'), ['diab', 'etes'])
  })

  it('a term of 3+ characters gives its prefixes of 3 to prefixTokenLength; a query word is looked up by its prefix of that length at most', () => {
    assert.equal(prefixTokenLength, 5)
    assert.deepEqual(termPrefixes('diabetes'), ['dia', 'diab', 'diabe'])
    assert.deepEqual(termPrefixes('ecg'), ['ecg'])
    assert.deepEqual(termPrefixes('ct'), ['ct'])
    assert.equal(termPrefixes('x'.repeat(50)).length, 3)
    assert.deepEqual(['diabetes', 'diab', 'ct'].map(probeEntry), ['diabe', 'diab', 'ct'])
    const key = randomBytes(32)
    const tokens = recordTokens(key, ['diabetes']).map((t) => t.toString('hex'))
    assert.ok(tokens.includes(searchToken(key, 'diab').toString('hex')))
    assert.ok(!tokens.includes(searchToken(key, 'di').toString('hex')), 'two letters match whole terms only')
    assert.ok(!tokens.includes(searchToken(randomBytes(32), 'diab').toString('hex')), 'another patient\'s key gives other tokens')
    assert.equal(searchToken(key, 'diab').byteLength, 16)
  })
})
