import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { hashSha256, hashSha256Hex } from './hashes.ts'

// FIPS 180-2, Appendix B: SHA-256 examples.
const vectors = [
  { input: '', digest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
  { input: 'abc', digest: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
  { input: 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', digest: '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1' },
]

describe('hashSha256', () => {
  for (const { input, digest } of vectors) {
    it(`matches FIPS 180-2 for ${JSON.stringify(input.slice(0, 12))}`, () => {
      const bytes = new TextEncoder().encode(input)
      assert.equal(hashSha256Hex(bytes), digest)
      assert.deepEqual(hashSha256(bytes), Uint8Array.from(Buffer.from(digest, 'hex')))
      assert.equal(Object.getPrototypeOf(hashSha256(bytes)), Uint8Array.prototype)
    })
  }
})
