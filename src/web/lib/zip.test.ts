import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { crc32 as zlibCrc32 } from 'node:zlib'
import { crc32, zipStored } from './zip.ts'
import { unzip } from '../../../test/helpers/unzip.ts'

describe('the portal\'s ZIP of an export (stored)', () => {
  it('holds every file byte for byte under its name, each with a CRC-32 as zlib computes it', () => {
    const files = [
      { name: 'Patient.ndjson', bytes: new TextEncoder().encode('{"resourceType":"Patient","id":"ä"}\n') },
      { name: 'dicom/2.25.123.dcm', bytes: new Uint8Array(randomBytes(70_000)) },
      { name: 'hl7v2/0123456789abcdef0123456789abcdef.hl7', bytes: new Uint8Array(0) },
      { name: 'manifest.json', bytes: new TextEncoder().encode('{}\n') },
    ]
    const got = unzip(zipStored(files))
    assert.deepEqual([...got.keys()], files.map((f) => f.name))
    for (const f of files) assert.ok(got.get(f.name)!.equals(Buffer.from(f.bytes)), f.name)
    assert.deepEqual(zipStored(files), zipStored(files), 'the same files, the same bytes')
  })

  it('computes CRC-32 as zlib does, and refuses names that leave the archive\'s folder', () => {
    for (const n of [0, 1, 31, 1000]) {
      const b = new Uint8Array(randomBytes(n))
      assert.equal(crc32(b), zlibCrc32(b))
    }
    assert.throws(() => zipStored([{ name: '../x', bytes: new Uint8Array(1) }]))
    assert.throws(() => zipStored([{ name: '/etc/x', bytes: new Uint8Array(1) }]))
  })
})
