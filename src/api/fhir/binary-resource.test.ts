import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { binaryResource } from './binary-resource.ts'

const fhir = '/work/shared/fixtures/fhir'
const binary = (resourceType: string) => Buffer.from(`{"resourceType":"${resourceType}","contentType":"text/plain","securityContext":{"reference":"Patient/p1"},"data":"aGVsbG8="}`)

describe('binaryResource (POST /fhir/R4/Binary: which bodies are a Binary resource)', () => {
  it('a Binary resource with a Patient securityContext, its resourceType written plainly or with \\u escapes', () => {
    for (const type of ['Binary', '\\u0042inary', '\\u0042\\u0069\\u006e\\u0061\\u0072\\u0079']) {
      const r = binaryResource(binary(type))
      assert.deepEqual(r && { ...r, bytes: r.bytes.toString() }, { patient: 'p1', contentType: 'text/plain', bytes: 'hello' }, type)
    }
  })

  it('every fixture bundle or resource, and other resources and non-JSON, are not one', () => {
    for (const f of readdirSync(fhir)) assert.equal(binaryResource(readFileSync(join(fhir, f))), undefined, f)
    assert.equal(binaryResource(binary('Bundle')), undefined)
    assert.equal(binaryResource(binary('Binaryx')), undefined)
    assert.equal(binaryResource(Buffer.from('{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Binary"}}]}')), undefined, 'a Binary inside a Bundle')
    assert.equal(binaryResource(Buffer.from('Binary, not JSON')), undefined)
    assert.equal(binaryResource(Buffer.from('{"resourceType":"\\u0042inary"')), undefined, 'cut short')
  })

  it('a Binary resource without its contentType or data is refused with its code', () => {
    assert.throws(() => binaryResource(Buffer.from('{"resourceType":"Binary","securityContext":{"reference":"Patient/p1"},"data":"aGVsbG8="}')), { code: 'VALIDATION_FAILED' })
    assert.throws(() => binaryResource(Buffer.from('{"resourceType":"Bin\\u0061ry","contentType":"text/plain","securityContext":{"reference":"Patient/p1"}}')), { code: 'MISSING_FILE' })
  })
})
