import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as dicomParserModule from 'dicom-parser'
import { deidentifyDicom } from '../../src/records/deidentify-dicom.ts'
import { deidentifiedQuasi } from '../../src/records/deidentified-quasi.ts'
import { identifyingValues, leaks, type DS } from './identifying-strings.ts'

const dicomParser = ((dicomParserModule as unknown as { default?: typeof dicomParserModule }).default ?? dicomParserModule)
const dir = '/work/shared/fixtures/dicom'
const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort()
const studyKey = new Uint8Array(32).fill(3)

const bytesOf = (ds: DS, tag: string) => { const e = ds.elements[tag]!; return Buffer.from(ds.byteArray.subarray(e.dataOffset, e.dataOffset + e.length)) }

describe('de-identification of DICOM files (PS3.15 Annex E basic profile)', () => {
  for (const file of files) {
    it(`${file}: no identifying value of the original remains; pixel and waveform data do`, () => {
      const bytes = new Uint8Array(readFileSync(join(dir, file)))
      const original = dicomParser.parseDicom(bytes) as unknown as DS
      const secret = identifyingValues(original)
      assert.ok(secret.size >= 5, `the scan found identifying values in ${file} (${secret.size})`)
      const out = deidentifyDicom(bytes, { studyKey, patientPseudonym: 'PSEUDONYM1', year: 2026 })?.bytes
      assert.ok(out, `${file} was left out`)
      const text = Buffer.from(out).toString('latin1')
      assert.deepEqual(leaks(secret, text), [], `identifying values left in ${file}`)
      const parsed = dicomParser.parseDicom(out) as unknown as DS
      assert.equal(parsed.string('x00100010'), 'PSEUDONYM1')
      assert.equal(parsed.string('x00080016'), original.string('x00080016'))
      assert.equal(parsed.string('x00080060'), original.string('x00080060'))
      assert.ok(parsed.string('x00080018')!.startsWith('2.25.'))
      assert.equal(parsed.string('x00020003'), parsed.string('x00080018'))
      assert.equal(deidentifyDicom(bytes, { studyKey, patientPseudonym: 'PSEUDONYM1', year: 2026 })!.sopInstanceUid, parsed.string('x00080018'))
      if (original.elements.x7fe00010) assert.ok(bytesOf(parsed, 'x7fe00010').equals(bytesOf(original, 'x7fe00010')))
      if (original.elements.x54000100) {
        const items = (d: DS) => d.elements.x54000100!.items!.map((i) => bytesOf(i.dataSet, 'x54001010'))
        assert.deepEqual(items(parsed), items(original))
      }
      assert.equal(Object.keys(parsed.elements).some((t) => parseInt(t.slice(1, 5), 16) % 2 === 1), false, 'no private attribute')
      // what k counts of a DICOM-only patient: the sex and birth year the output still shows, no ZIP
      const sex = { M: 'male', F: 'female', O: 'other' }[original.string('x00100040') ?? ''] ?? '*'
      assert.deepEqual(deidentifiedQuasi('dicom', out), { birthYear: parsed.string('x00100030')?.slice(0, 4) ?? '*', sex, zip3: '*' })
      // the same study, the same UIDs; another study, others
      const again = dicomParser.parseDicom(deidentifyDicom(bytes, { studyKey, patientPseudonym: 'PSEUDONYM1', year: 2026 })!.bytes) as unknown as DS
      assert.equal(again.string('x0020000d'), parsed.string('x0020000d'))
      const other = dicomParser.parseDicom(deidentifyDicom(bytes, { studyKey: new Uint8Array(32).fill(4), patientPseudonym: 'P2', year: 2026 })!.bytes) as unknown as DS
      assert.notEqual(other.string('x0020000d'), parsed.string('x0020000d'))
    })
  }

  it('an image with burned-in annotation is left out', () => {
    const bytes = Buffer.from(readFileSync(join(dir, 'CT_small.dcm')))
    // a copy with BurnedInAnnotation YES: (0028,0301) inserted just before the pixel data of a
    // written file (explicit VR little endian, elements in tag order)
    const clean = Buffer.from(deidentifyDicom(new Uint8Array(bytes), { studyKey, patientPseudonym: 'X', year: 2026 })!.bytes)
    const ds = dicomParser.parseDicom(new Uint8Array(clean)) as unknown as DS
    const pixel = ds.elements.x7fe00010!.dataOffset - 12
    const burned = Buffer.from([0x28, 0x00, 0x01, 0x03, 0x43, 0x53, 0x04, 0x00, 0x59, 0x45, 0x53, 0x20]) // (0028,0301) CS "YES "
    const withBurned = Buffer.concat([clean.subarray(0, pixel), burned, clean.subarray(pixel)])
    assert.equal((dicomParser.parseDicom(new Uint8Array(withBurned)) as unknown as DS).string('x00280301'), 'YES')
    assert.equal(deidentifyDicom(new Uint8Array(withBurned), { studyKey, patientPseudonym: 'X', year: 2026 }), undefined)
  })
  it('acquisition attributes that Annex E removes go too: contrast agent text, secondary capture and X-ray detector ids and labels, frame and presentation comments', () => {
    // A minimal Part 10 file, explicit VR little endian, with those attributes holding identifying text.
    const el = (group: number, element: number, vr: string, value: string) => {
      const v = Buffer.from(value.length % 2 ? `${value} ` : value, 'latin1')
      const long = vr === 'UT' // a 4-byte length after two reserved bytes
      const head = Buffer.alloc(long ? 12 : 8)
      head.writeUInt16LE(group, 0); head.writeUInt16LE(element, 2); head.write(vr, 4, 'latin1')
      if (long) head.writeUInt32LE(v.length, 8); else head.writeUInt16LE(v.length, 6)
      return Buffer.concat([head, v])
    }
    const secrets: [number, number, string, string][] = [
      [0x0018, 0x0010, 'LO', 'Omnipaque by nurse Hansen'], [0x0018, 0x1010, 'LO', 'SC-DEV-778812'], [0x0018, 0x9371, 'LO', 'XRD-ID-5521'],
      [0x0018, 0x9373, 'ST', 'Detector of Ward Hansen'], [0x0018, 0x9367, 'LO', 'SRC-ID-9912'], [0x0018, 0x11bb, 'LO', 'FOV of Hansen'],
      [0x0018, 0xa003, 'ST', 'Contributed by Dr Nowak'], [0x0018, 0x937b, 'UT', 'Energy notes Nowak'], [0x0018, 0x9185, 'ST', 'Breath hold by Nowak'],
      [0x0020, 0x9158, 'LT', 'Frame comment Wojcik'], [0x0028, 0x4000, 'LT', 'Presentation comment Wojcik'],
    ]
    const file = Buffer.concat([
      Buffer.alloc(128), Buffer.from('DICM'), el(0x0002, 0x0010, 'UI', '1.2.840.10008.1.2.1\0'),
      el(0x0008, 0x0016, 'UI', '1.2.840.10008.5.1.4.1.1.2\0'), el(0x0008, 0x0018, 'UI', '1.2.3.4.5\0'), el(0x0008, 0x0060, 'CS', 'CT'),
      ...secrets.map(([g, e, vr, v]) => el(g, e, vr, v)), el(0x0018, 0x0050, 'DS', '5.0'), el(0x0028, 0x0301, 'CS', 'NO'),
    ])
    const out = deidentifyDicom(new Uint8Array(file), { studyKey, patientPseudonym: 'PSEUDONYM1', year: 2026 })
    assert.ok(out)
    const text = Buffer.from(out.bytes).toString('latin1')
    assert.deepEqual(leaks(secrets.map(([, , , v]) => v), text), [])
    const parsed = dicomParser.parseDicom(out.bytes) as unknown as DS
    assert.equal(parsed.string('x00180050'), '5.0', 'the technical acquisition attributes stay')
    assert.equal(parsed.string('x00080060'), 'CT')
  })
})
