// The research export's DICOM de-identification on every transfer syntax it writes again:
// compressed (encapsulated) pixel data — JPEG Baseline, Extended, Lossless and Lossless SV1 (in
// several fragments), JPEG-LS lossless (near-lossless DCMTK makes of unsigned pixels only: the
// fixtures' are signed), JPEG 2000 lossless and lossy, RLE — and the deflated, big-endian and
// implicit-VR data sets.
// The files are made at run time, in a temp dir, from the fixtures by real tools: DCMTK (dcmcjpeg,
// dcmcjpls, dcmcrle, dcmconv, dcmodify; dcmj2pnm and img2dcm for a JPEG file wrapped as a
// Secondary Capture) and GDCM (gdcmconv, for JPEG 2000 and to decode), both Debian
// packages that .ci/run installs. The same files go through the upload's term extraction and the
// portal's DICOM viewer, which must answer clearly for what it cannot draw.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inflateRawSync } from 'node:zlib'
import * as dicomParserModule from 'dicom-parser'
import { deidentifyDicom } from '../../src/records/deidentify-dicom.ts'
import { extractContentTerms } from '../../src/records/search/extract-terms.ts'
import { DEFLATED, dicomString, inflateDicom, parseDicom as parseForViewer } from '../../src/web/viewers/dicom/parse-dicom.ts'
import { T } from '../../src/web/viewers/dicom/dicom-tags.ts'
import { DicomRenderError, renderDicomFrame } from '../../src/web/viewers/dicom/render-dicom.ts'
import { identifyingValues, leaks, type DS } from './identifying-strings.ts'
import { seed } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode } from '../helpers/in-process-node.ts'

const dicomParser = ((dicomParserModule as unknown as { default?: typeof dicomParserModule }).default ?? dicomParserModule)
const fixtures = '/work/shared/fixtures/dicom'
const studyKey = new Uint8Array(32).fill(3)
const params = { studyKey, patientPseudonym: 'PSEUDONYM1', year: 2026 }

interface Variant { name: string; syntax: string; encapsulated: boolean; make: (src: string, out: string) => void }
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' })
const variants: Variant[] = [
  { name: 'JPEG Baseline', syntax: '1.2.840.10008.1.2.4.50', encapsulated: true, make: (s, o) => run('dcmcjpeg', ['+eb', s, o]) },
  { name: 'JPEG Baseline wrapped from a JPEG file (Secondary Capture)', syntax: '1.2.840.10008.1.2.4.50', encapsulated: true, make: (s, o) => { run('dcmj2pnm', ['+oj', '+Wm', s, `${o}.jpg`]); run('img2dcm', ['-df', s, `${o}.jpg`, o]) } },
  { name: 'JPEG Lossless SV1, 1 KiB fragments', syntax: '1.2.840.10008.1.2.4.70', encapsulated: true, make: (s, o) => run('dcmcjpeg', ['+e1', '+fs', '1', s, o]) },
  { name: 'JPEG Extended (12 bits)', syntax: '1.2.840.10008.1.2.4.51', encapsulated: true, make: (s, o) => run('dcmcjpeg', ['+ee', s, o]) },
  { name: 'JPEG Lossless (process 14)', syntax: '1.2.840.10008.1.2.4.57', encapsulated: true, make: (s, o) => run('dcmcjpeg', ['+el', s, o]) },
  { name: 'JPEG-LS lossless', syntax: '1.2.840.10008.1.2.4.80', encapsulated: true, make: (s, o) => run('dcmcjpls', ['+el', s, o]) },
  { name: 'JPEG 2000 lossless', syntax: '1.2.840.10008.1.2.4.90', encapsulated: true, make: (s, o) => run('gdcmconv', ['--j2k', s, o]) },
  { name: 'JPEG 2000', syntax: '1.2.840.10008.1.2.4.91', encapsulated: true, make: (s, o) => run('gdcmconv', ['--j2k', '--lossy', '-q', '50', s, o]) },
  { name: 'RLE Lossless', syntax: '1.2.840.10008.1.2.5', encapsulated: true, make: (s, o) => run('dcmcrle', [s, o]) },
  { name: 'deflated explicit VR little endian', syntax: '1.2.840.10008.1.2.1.99', encapsulated: false, make: (s, o) => run('dcmconv', ['+td', s, o]) },
  { name: 'explicit VR big endian', syntax: '1.2.840.10008.1.2.2', encapsulated: false, make: (s, o) => run('dcmconv', ['+tb', s, o]) },
  { name: 'implicit VR little endian', syntax: '1.2.840.10008.1.2', encapsulated: false, make: (s, o) => run('dcmconv', ['+ti', s, o]) },
]
const images = ['CT_small.dcm', 'MR_small.dcm']
const modality: Record<string, string> = { 'CT_small.dcm': 'ct', 'MR_small.dcm': 'mr', 'waveform_ecg.dcm': 'ecg' }

/**
 * dicom-parser's parse of a file; a deflated data set inflated here and parsed on its own
 * (dicom-parser's own deflate path parses from the preamble on).
 */
function parse(bytes: Uint8Array): DS {
  const meta = dicomParser.readPart10Header(bytes) as unknown as DS & { position: number }
  if (meta.string('x00020010') !== '1.2.840.10008.1.2.1.99') return dicomParser.parseDicom(bytes) as unknown as DS
  return dicomParser.parseDicom(inflateRawSync(bytes.subarray(meta.position)), { TransferSyntaxUID: '1.2.840.10008.1.2.1' }) as unknown as DS
}
const valueOf = (ds: DS, tag: string) => { const e = ds.elements[tag]!; return Buffer.from(ds.byteArray.subarray(e.dataOffset, e.dataOffset + e.length)) }
type Encapsulated = { fragments?: { position: number; length: number }[]; dataOffset: number }
/** The basic offset table item and each fragment, as bytes. */
function fragmentsOf(ds: DS): Buffer[] {
  const e = ds.elements.x7fe00010 as unknown as Encapsulated
  const table = Buffer.from(ds.byteArray.subarray(e.dataOffset, e.dataOffset + 8 + Buffer.from(ds.byteArray.buffer, ds.byteArray.byteOffset).readUInt32LE(e.dataOffset + 4)))
  return [table, ...(e.fragments ?? []).map((f) => Buffer.from(ds.byteArray.subarray(f.position, f.position + f.length)))]
}

let dir: string
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'medledger-dicom-'))
  for (const tool of ['dcmcjpeg', 'dcmcjpls', 'dcmcrle', 'dcmconv', 'dcmodify', 'dcmj2pnm', 'img2dcm', 'dcmdump', 'gdcmconv']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'pipe' })
    } catch {
      throw new Error(`${tool} is missing: apt-get install -y dcmtk libgdcm-tools (.ci/run does)`)
    }
  }
})
after(() => rmSync(dir, { recursive: true, force: true }))

/** The variant of a fixture, made once; with the identifying values of the original and of the variant (a lossy tool adds its own UIDs). */
function made(file: string, v: Variant): { path: string; bytes: Uint8Array; secrets: Set<string> } {
  const path = join(dir, `${file}-${variants.indexOf(v)}.dcm`)
  v.make(join(fixtures, file), path)
  const bytes = new Uint8Array(readFileSync(path))
  // identifyingValues reads VRs: an implicit-VR variant is read through DCMTK's explicit copy of it
  const explicit = join(dir, `${file}-${variants.indexOf(v)}-explicit.dcm`)
  if (!v.encapsulated) run('dcmconv', ['+te', path, explicit])
  const secrets = new Set([...identifyingValues(parse(new Uint8Array(readFileSync(join(fixtures, file))))), ...identifyingValues(parse(v.encapsulated ? bytes : new Uint8Array(readFileSync(explicit))))])
  return { path, bytes, secrets }
}

describe('DICOM de-identification in every transfer syntax (files made by DCMTK and GDCM)', () => {
  for (const file of [...images, 'waveform_ecg.dcm']) {
    for (const v of variants) {
      if (v.encapsulated && !images.includes(file)) continue
      it(`${file} as ${v.name}: same transfer syntax and pixel data, no identifying value left; indexed at upload; the viewer answers`, async () => {
        const { path, bytes, secrets } = made(file, v)
        const original = parse(bytes)
        assert.equal((dicomParser.readPart10Header(bytes) as unknown as DS).string('x00020010'), v.syntax, 'the tool wrote the transfer syntax asked for')
        assert.ok(secrets.size >= 5, `the scan found identifying values (${secrets.size})`)

        const out = deidentifyDicom(bytes, params)
        assert.ok(out, `${file} as ${v.name} was left out`)
        const parsed = parse(out.bytes)
        assert.equal((dicomParser.readPart10Header(out.bytes) as unknown as DS).string('x00020010'), v.syntax)
        assert.equal(parsed.string('x00100010'), 'PSEUDONYM1')
        assert.equal(parsed.string('x00080060'), original.string('x00080060'))
        assert.ok(parsed.string('x00080018')!.startsWith('2.25.'))
        assert.equal((dicomParser.readPart10Header(out.bytes) as unknown as DS).string('x00020003'), out.sopInstanceUid)
        // the file's bytes, and for a deflated one its inflated data set, hold none of the original's identifying values
        assert.deepEqual(leaks(secrets, Buffer.from(out.bytes).toString('latin1')), [])
        assert.deepEqual(leaks(secrets, Buffer.from(parsed.byteArray).toString('latin1')), [])
        assert.equal(Object.keys(parsed.elements).some((t) => parseInt(t.slice(1, 5), 16) % 2 === 1), false, 'no private attribute')

        if (v.encapsulated) {
          const before = fragmentsOf(original)
          const after = fragmentsOf(parsed)
          assert.equal(after.length, before.length)
          before.forEach((f, i) => assert.ok(after[i]!.equals(f), `fragment ${i} byte for byte`))
          if (v.syntax === '1.2.840.10008.1.2.4.70') assert.ok(before.length > 2, 'several fragments')
          // GDCM decodes both to the same pixels
          writeFileSync(`${path}.out.dcm`, out.bytes)
          run('gdcmconv', ['--raw', path, `${path}.raw.dcm`])
          run('gdcmconv', ['--raw', `${path}.out.dcm`, `${path}.out.raw.dcm`])
          const decoded = (p: string) => valueOf(parse(new Uint8Array(readFileSync(p))), 'x7fe00010')
          assert.ok(decoded(`${path}.out.raw.dcm`).equals(decoded(`${path}.raw.dcm`)), 'decoded pixels alike')
        } else if (original.elements.x7fe00010) {
          assert.ok(valueOf(parsed, 'x7fe00010').equals(valueOf(original, 'x7fe00010')), 'pixel data byte for byte')
        } else {
          const items = (d: DS) => d.elements.x54000100!.items!.map((i) => valueOf(i.dataSet, 'x54001010'))
          assert.deepEqual(items(parsed), items(original), 'waveform data byte for byte')
        }
        // DCMTK reads the de-identified file without an error
        writeFileSync(`${path}.deid.dcm`, out.bytes)
        assert.doesNotThrow(() => run('dcmdump', ['-q', '-E', `${path}.deid.dcm`]))

        // the upload's index reads its header in every transfer syntax (the upload hands it a Buffer),
        // whatever the 128-byte preamble holds (dicom-parser's own deflate path parsed it as elements)
        assert.ok(extractContentTerms(Buffer.from(bytes)).has(modality[file]!), 'Modality indexed')
        const preamble = Buffer.from(bytes)
        for (let i = 0; i < 128; i++) preamble[i] = (i * 37 + 11) & 0xff
        assert.ok(extractContentTerms(preamble).has(modality[file]!), 'Modality indexed, any preamble')
        assert.equal(deidentifyDicom(preamble, params)?.sopInstanceUid, out.sopInstanceUid, 'de-identified alike, any preamble')
        // the portal's viewer draws a native image (a deflated one once inflated), and says why it cannot draw the others
        let viewed = parseForViewer(bytes)
        if (v.syntax === DEFLATED) {
          assert.throws(() => renderDicomFrame(viewed), /not inflated yet/)
          viewed = parseForViewer(await inflateDicom(bytes), { inflated: true })
          assert.equal(dicomString(viewed, T.PatientName), original.string('x00100010'), 'the header read once inflated')
        }
        if (v.encapsulated || !original.elements.x7fe00010) {
          assert.throws(() => renderDicomFrame(viewed), (e: unknown) => e instanceof DicomRenderError && /compressed|waveform/.test((e as Error).message))
        } else {
          const columns = valueOf(original, 'x00280011')
          assert.equal(renderDicomFrame(viewed).width, v.syntax === '1.2.840.10008.1.2.2' ? columns.readUInt16BE(0) : columns.readUInt16LE(0))
        }
      })
    }
  }

  it('a compressed image with burned-in annotation is left out', () => {
    const path = join(dir, 'burned.dcm')
    run('dcmcjpeg', ['+e1', join(fixtures, 'CT_small.dcm'), path])
    run('dcmodify', ['-nb', '-i', '(0028,0301)=YES', path])
    const bytes = new Uint8Array(readFileSync(path))
    assert.equal(parse(bytes).string('x00280301'), 'YES')
    assert.equal(deidentifyDicom(bytes, params), undefined)
    run('dcmodify', ['-nb', '-m', '(0028,0301)=NO', path])
    assert.ok(deidentifyDicom(new Uint8Array(readFileSync(path)), params), 'with NO it is exported')
  })

  it('an attribute marked UN is judged by its dictionary VR: a UID remapped, a date to its year, a name left out, an over-long value left out', () => {
    const ct = Buffer.from(readFileSync(join(fixtures, 'CT_small.dcm')))
    const ds = parse(new Uint8Array(ct))
    const un = (group: number, el: number, value: Buffer) => {
      const head = Buffer.alloc(12)
      head.writeUInt16LE(group); head.writeUInt16LE(el, 2); head.write('UN', 4, 'latin1'); head.writeUInt32LE(value.length, 8)
      return Buffer.concat([head, value])
    }
    const at = ds.elements.x7fe00010!.dataOffset - 12
    const extra = Buffer.concat([
      un(0x0018, 0x1012, Buffer.from('20240517')), // DateOfSecondaryCapture, DA
      un(0x0018, 0x1014, Buffer.from('101112')), // TimeOfSecondaryCapture, TM
      un(0x0020, 0x0200, Buffer.from('1.2.3.4.5.6.7.8.9\0')), // SynchronizationFrameOfReferenceUID, UI
      un(0x0028, 0x1050, Buffer.alloc(70_000, '1')), // WindowCenter, DS: 70,000 bytes do not fit a DS
    ])
    const bytes = new Uint8Array(Buffer.concat([ct.subarray(0, at), extra, ct.subarray(at)]))
    const out = deidentifyDicom(bytes, params)
    assert.ok(out, 'exported')
    const parsed = parse(out.bytes)
    assert.equal(parsed.string('x00181012'), '20240101')
    assert.equal(parsed.elements.x00181014, undefined)
    assert.ok(parsed.string('x00200200')!.startsWith('2.25.'))
    assert.equal(parsed.elements.x00281050, undefined)
    assert.deepEqual(leaks(['20240517', '1.2.3.4.5.6.7.8.9'], Buffer.from(out.bytes).toString('latin1')), [])
  })

  it('the viewer refuses a deflated data set that does not inflate with a clear error, not a crash', async () => {
    const path = join(dir, 'bad-deflate.dcm')
    run('dcmconv', ['+td', join(fixtures, 'CT_small.dcm'), path])
    const bytes = new Uint8Array(readFileSync(path))
    const offset = parseForViewer(bytes).dataSetOffset
    bytes.fill(0xff, offset + 10, offset + 400)
    await assert.rejects(inflateDicom(bytes), (e: unknown) => (e as Error).name === 'DicomParseError' && /does not inflate/.test((e as Error).message))
    assert.equal(deidentifyDicom(bytes, params), undefined, 'left out of an export')
    assert.doesNotThrow(() => extractContentTerms(Buffer.from(bytes)), 'indexed by name and tags only')
  })

  it('a transfer syntax it does not write (JPIP referenced: no pixel data but a URL) is left out', () => {
    const path = join(dir, 'jpip.dcm')
    run('dcmcjpeg', ['+e1', join(fixtures, 'CT_small.dcm'), path])
    // the meta group's transfer syntax swapped for another of the same length
    const bytes = Buffer.from(readFileSync(path))
    const at = bytes.indexOf('1.2.840.10008.1.2.4.70')
    assert.ok(at > 132 && at < 400)
    bytes.write('1.2.840.10008.1.2.4.94', at, 'latin1')
    assert.equal((dicomParser.readPart10Header(new Uint8Array(bytes)) as unknown as DS).string('x00020010'), '1.2.840.10008.1.2.4.94')
    assert.equal(deidentifyDicom(new Uint8Array(bytes), params), undefined)
  })
})

describe('compressed, deflated and implicit-VR DICOM through the upload (one node in process, real chain, Helia and SQLite)', () => {
  it('each is stored (201), found by its Modality and read back byte for byte', async () => {
    const node = await startInProcessNode()
    try {
      const api = new InjectApi(node.app, node.url)
      const a = await seed(api, { hospitalName: 'Imaging Hospital', tag: 'img' })
      const uploaded = new Map<string, Buffer>()
      for (const v of variants.filter((x) => ['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.5', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2'].includes(x.syntax))) {
        const path = join(dir, `upload-${variants.indexOf(v)}.dcm`)
        v.make(join(fixtures, 'MR_small.dcm'), path)
        const bytes = readFileSync(path)
        const up = await api.upload(a.doctor.token, a.patient.email, `image${uploaded.size}.dcm`, bytes) // no "mr" in the name
        assert.equal(up.status, 201, `${v.name}: ${JSON.stringify(up.body)}`)
        uploaded.set(up.body.recordId, bytes)
      }
      const found = await api.json('GET', '/records?q=mr&limit=100', undefined, a.patient.token)
      assert.equal(found.status, 200, JSON.stringify(found.body))
      assert.deepEqual((found.body.records as { recordId: string }[]).map((r) => r.recordId).sort(), [...uploaded.keys()].sort(), 'each found by its Modality (MR)')
      for (const [id, bytes] of uploaded) {
        const read = await api.download(a.patient.token, id)
        assert.equal(read.status, 200)
        assert.ok(read.bytes.equals(bytes), 'read back byte for byte')
      }
    } finally {
      await node.stop()
    }
  })
})
