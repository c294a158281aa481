import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { DicomParseError, dicomNumber, dicomString, formatDicomDate, formatPersonName, isDicom, parseDicom } from './parse-dicom.ts'
import { DicomRenderError, renderDicomFrame } from './render-dicom.ts'
import { T, tag } from './dicom-tags.ts'

const fixture = (name: string) => new Uint8Array(readFileSync(fileURLToPath(new URL(`../../../../../shared/fixtures/dicom/${name}`, import.meta.url))))

/** A Part 10 file built by hand: meta group, then `body` in the given transfer syntax. */
function part10(transferSyntax: string, body: number[]): Uint8Array {
  const uid = [...transferSyntax].map((c) => c.charCodeAt(0))
  if (uid.length % 2) uid.push(0)
  const meta = [0x02, 0x00, 0x10, 0x00, 0x55, 0x49, uid.length, 0x00, ...uid]
  return new Uint8Array([...new Array(128).fill(0), 0x44, 0x49, 0x43, 0x4d, ...meta, ...body])
}
const le16 = (n: number) => [n & 0xff, n >> 8]
const le32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff]
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0))

describe('DICOM Part 10 header reader', () => {
  it('reads the CT fixture: patient, modality, study date, image size', () => {
    const file = parseDicom(fixture('CT_small.dcm'))
    assert.equal(file.transferSyntax, '1.2.840.10008.1.2.1')
    assert.equal(file.explicitVr, true)
    assert.equal(dicomString(file, T.PatientName), 'CompressedSamples^CT1')
    assert.equal(formatPersonName(dicomString(file, T.PatientName)!), 'CompressedSamples, CT1')
    assert.equal(dicomString(file, T.Modality), 'CT')
    assert.equal(formatDicomDate(dicomString(file, T.StudyDate)!), '2004-01-19')
    assert.equal(dicomNumber(file, T.Rows), 128)
    assert.equal(dicomNumber(file, T.Columns), 128)
    assert.equal(dicomNumber(file, T.BitsAllocated), 16)
    assert.equal(dicomNumber(file, T.RescaleIntercept), -1024)
    assert.equal(dicomString(file, T.Manufacturer), 'GE MEDICAL SYSTEMS')
  })

  it('reads the MR fixture and the ECG waveform fixture', () => {
    const mr = parseDicom(fixture('MR_small.dcm'))
    assert.equal(dicomString(mr, T.Modality), 'MR')
    assert.equal(dicomString(mr, T.PatientName), 'CompressedSamples^MR1')
    assert.equal(dicomNumber(mr, T.Rows), 64)
    assert.equal(dicomNumber(mr, T.WindowCenter), 600)
    const ecg = parseDicom(fixture('waveform_ecg.dcm'))
    assert.equal(dicomString(ecg, T.Modality), 'ECG')
    assert.equal(dicomString(ecg, T.StudyDate), '20130125')
    assert.ok(ecg.elements.has(T.WaveformSequence), 'the waveform sequence is found, and elements after it too')
    assert.equal(dicomString(ecg, T.PatientSex), 'F')
  })

  it('renders the 16-bit signed MONOCHROME2 images to RGBA, with the file\'s window when it has one', () => {
    const ct = renderDicomFrame(parseDicom(fixture('CT_small.dcm')))
    assert.equal(ct.width, 128)
    assert.equal(ct.height, 128)
    assert.equal(ct.rgba.length, 128 * 128 * 4)
    assert.equal(ct.window?.source, 'auto')
    const grey = new Set<number>()
    for (let i = 0; i < ct.rgba.length; i += 4) {
      assert.equal(ct.rgba[i], ct.rgba[i + 1])
      assert.equal(ct.rgba[i + 3], 255)
      grey.add(ct.rgba[i])
    }
    assert.ok(grey.size > 100, `a real image has many grey levels (${grey.size})`)
    const mr = renderDicomFrame(parseDicom(fixture('MR_small.dcm')))
    assert.deepEqual(mr.window, { center: 600, width: 1600, source: 'file' })
  })

  it('says why a waveform has no image', () => {
    assert.throws(() => renderDicomFrame(parseDicom(fixture('waveform_ecg.dcm'))), (e: unknown) => e instanceof DicomRenderError && /waveform/.test(e.message))
  })

  it('walks implicit VR little endian with a sequence of undefined length', () => {
    const bytes = part10('1.2.840.10008.1.2', [
      ...le16(0x0008), ...le16(0x0060), ...le32(2), ...ascii('MR'),
      // (0008,1115) a sequence of undefined length holding one item of undefined length
      ...le16(0x0008), ...le16(0x1115), ...le32(0xffffffff),
      ...le16(0xfffe), ...le16(0xe000), ...le32(0xffffffff),
      ...le16(0x0020), ...le16(0x000e), ...le32(4), ...ascii('1.2\0'),
      ...le16(0xfffe), ...le16(0xe00d), ...le32(0),
      ...le16(0xfffe), ...le16(0xe0dd), ...le32(0),
      ...le16(0x0010), ...le16(0x0010), ...le32(8), ...ascii('Doe^Ann '),
      ...le16(0x0028), ...le16(0x0010), ...le32(2), ...le16(2),
      ...le16(0x0028), ...le16(0x0011), ...le32(2), ...le16(2),
      ...le16(0x0028), ...le16(0x0100), ...le32(2), ...le16(8),
      ...le16(0x7fe0), ...le16(0x0010), ...le32(4), 0, 85, 170, 255,
    ])
    assert.ok(isDicom(bytes))
    const file = parseDicom(bytes)
    assert.equal(file.explicitVr, false)
    assert.equal(dicomString(file, T.Modality), 'MR')
    assert.equal(dicomString(file, T.PatientName), 'Doe^Ann')
    assert.equal(file.elements.has(T.SeriesInstanceUID), false, 'elements inside a sequence are not top-level')
    assert.ok(file.elements.has(tag(0x0008, 0x1115)))
    const img = renderDicomFrame(file)
    const grey = [...img.rgba].filter((_, i) => i % 4 === 0)
    ;[0, 85, 170, 255].forEach((v, i) => assert.ok(Math.abs(grey[i] - v) <= 1, `${grey[i]} ≈ ${v}`))
  })

  it('reads explicit VR little endian 8-bit RGB, interleaved and planar, to the same RGBA', () => {
    // Explicit VR little endian element: tag, VR, 16-bit length (32-bit after two zero bytes for OB/OW).
    const short = (g: number, e: number, vr: string, value: number[]) => [...le16(g), ...le16(e), ...ascii(vr), ...le16(value.length), ...value]
    const long = (g: number, e: number, vr: string, value: number[]) => [...le16(g), ...le16(e), ...ascii(vr), 0, 0, ...le32(value.length), ...value]
    const rgb = (planar: number, pixels: number[]) => part10('1.2.840.10008.1.2.1', [
      ...short(0x0008, 0x0060, 'CS', ascii('OT')),
      ...short(0x0028, 0x0002, 'US', le16(3)),
      ...short(0x0028, 0x0004, 'CS', ascii('RGB ')),
      ...short(0x0028, 0x0006, 'US', le16(planar)),
      ...short(0x0028, 0x0010, 'US', le16(1)),
      ...short(0x0028, 0x0011, 'US', le16(2)),
      ...short(0x0028, 0x0100, 'US', le16(8)),
      ...long(0x7fe0, 0x0010, 'OB', pixels),
    ])
    const expected = [255, 0, 0, 255, 0, 0, 255, 255] // a red pixel, then a blue one
    const interleaved = renderDicomFrame(parseDicom(rgb(0, [255, 0, 0, 0, 0, 255])))
    assert.deepEqual([...interleaved.rgba], expected)
    const planar = renderDicomFrame(parseDicom(rgb(1, [255, 0, 0, 0, 0, 255])))
    assert.deepEqual([...planar.rgba], expected)
    assert.equal(dicomString(parseDicom(rgb(0, [1, 2, 3, 4, 5, 6])), T.PhotometricInterpretation), 'RGB')
  })

  it('reads explicit VR big endian 16-bit monochrome with the right byte order', () => {
    const be16 = (n: number) => [n >> 8, n & 0xff]
    const be32 = (n: number) => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
    const short = (g: number, e: number, vr: string, value: number[]) => [...be16(g), ...be16(e), ...ascii(vr), ...be16(value.length), ...value]
    const bytes = part10('1.2.840.10008.1.2.2', [
      ...short(0x0008, 0x0060, 'CS', ascii('MR')),
      ...short(0x0028, 0x0002, 'US', be16(1)),
      ...short(0x0028, 0x0004, 'CS', ascii('MONOCHROME2 ')),
      ...short(0x0028, 0x0010, 'US', be16(1)),
      ...short(0x0028, 0x0011, 'US', be16(3)),
      ...short(0x0028, 0x0100, 'US', be16(16)),
      ...short(0x0028, 0x0101, 'US', be16(12)),
      ...[...be16(0x7fe0), ...be16(0x0010), ...ascii('OW'), 0, 0, ...be32(6), ...be16(0), ...be16(256), ...be16(4095)],
    ])
    const file = parseDicom(bytes)
    assert.equal(file.littleEndian, false)
    assert.equal(file.truncated, false)
    assert.equal(dicomString(file, T.Modality), 'MR')
    assert.equal(dicomNumber(file, T.Columns), 3)
    const grey = [...renderDicomFrame(file).rgba].filter((_, i) => i % 4 === 0)
    assert.equal(grey[0], 0)
    assert.ok(Math.abs(grey[1]! - (256 / 4095) * 255) <= 1, `256 of 4095 is about 16, got ${grey[1]}`)
    assert.equal(grey[2], 255)
  })

  it('refuses a sequence of defined length that holds no items with DicomParseError (the library reads it; the old reader skipped it unread)', () => {
    // An explicit sequence of defined length whose content is not an item.
    const bad = part10('1.2.840.10008.1.2.1', [...le16(0x0008), ...le16(0x1115), ...ascii('SQ'), 0, 0, ...le32(8), ...le16(0x0010), ...le16(0x0010), ...le32(0), ...le16(0x0008), ...le16(0x0060), ...ascii('CS'), ...le16(2), ...ascii('MR')])
    assert.throws(() => parseDicom(bad), (e: unknown) => e instanceof DicomParseError && !/dicomParser/.test(e.message))
  })

  it('refuses what is not Part 10; reads what there is of a file cut short, and says so', () => {
    assert.throws(() => parseDicom(new TextEncoder().encode('<ClinicalDocument/>')), DicomParseError)
    const ct = fixture('CT_small.dcm')
    assert.equal(parseDicom(ct).truncated, false)
    const head = parseDicom(ct.subarray(0, 300))
    assert.equal(head.truncated, true)
    assert.equal(head.transferSyntax, '1.2.840.10008.1.2.1')
    // Cut inside the pixel data: the header is still read, the image is not drawn.
    const cut = parseDicom(ct.subarray(0, ct.length - 1000))
    assert.equal(cut.truncated, true)
    assert.equal(dicomString(cut, T.Modality), 'CT')
    assert.throws(() => renderDicomFrame(cut), DicomRenderError)
    // A sequence that never ends is malformed.
    const open = part10('1.2.840.10008.1.2.1', [...le16(0x0008), ...le16(0x1115), ...ascii('SQ'), 0, 0, ...le32(0xffffffff), ...le16(0xfffe), ...le16(0xe000), ...le32(4), 1, 2, 3, 4])
    assert.throws(() => parseDicom(open), DicomParseError)
  })
})
