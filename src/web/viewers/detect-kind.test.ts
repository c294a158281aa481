import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { detectKind } from './detect-kind.ts'

const fixtures = fileURLToPath(new URL('../../../../shared/fixtures/', import.meta.url))
const head = (path: string) => new Uint8Array(readFileSync(path)).subarray(0, 4096)

describe('record kind detection', () => {
  it('recognises every fixture by its content, whatever media type it was uploaded with', () => {
    const expected: Record<string, string> = { dicom: 'dicom', ccda: 'xml', fhir: 'json', hl7v2: 'hl7' }
    for (const [dir, kind] of Object.entries(expected)) {
      for (const name of readdirSync(`${fixtures}${dir}`)) {
        assert.equal(detectKind(head(`${fixtures}${dir}/${name}`), 'application/octet-stream', 'upload').kind, kind, `${dir}/${name}`)
      }
    }
  })

  it('gives images and PDF a media type from their magic bytes, never from the record', () => {
    assert.deepEqual(detectKind(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]), 'text/html', 'x.html'), { kind: 'image', blobType: 'image/png' })
    assert.deepEqual(detectKind(new TextEncoder().encode('%PDF-1.7\n'), 'text/html', 'a.pdf'), { kind: 'pdf', blobType: 'application/pdf' })
    assert.equal(detectKind(new TextEncoder().encode('<html><script>alert(1)</script>'), 'text/html', 'a.html').kind, 'xml', 'markup is shown as text, never rendered')
    assert.equal(detectKind(new TextEncoder().encode('plain words'), 'text/plain', 'a.txt').kind, 'text')
    assert.equal(detectKind(new Uint8Array([1, 2, 0, 4]), 'application/octet-stream', 'a.bin').kind, 'binary')
  })
})
