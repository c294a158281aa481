import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isAppError } from '../errors.ts'
import { createAead, hchacha20, type AeadAlgorithm } from './aead.ts'

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'))

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B: the test cases
// with 96-bit IVs (the spec's 1–4, 7–10, 13–16).
const P64 = 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255'
const P60 = 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39'
const A20 = 'feedfacedeadbeeffeedfacedeadbeefabaddad2'
const IV = 'cafebabefacedbaddecaf888'
const Z12 = '000000000000000000000000'
const K128 = 'feffe9928665731c6d6a8f9467308308'
const K192 = 'feffe9928665731c6d6a8f9467308308feffe9928665731c'
const K256 = 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'

const gcmCases: { n: number; alg: AeadAlgorithm; k: string; iv: string; p: string; a: string; c: string; t: string }[] = [
  { n: 1, alg: 'aes-128-gcm', k: '00'.repeat(16), iv: Z12, p: '', a: '', c: '', t: '58e2fccefa7e3061367f1d57a4e7455a' },
  { n: 2, alg: 'aes-128-gcm', k: '00'.repeat(16), iv: Z12, p: '00'.repeat(16), a: '', c: '0388dace60b6a392f328c2b971b2fe78', t: 'ab6e47d42cec13bdf53a67b21257bddf' },
  { n: 3, alg: 'aes-128-gcm', k: K128, iv: IV, p: P64, a: '', c: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985', t: '4d5c2af327cd64a62cf35abd2ba6fab4' },
  { n: 4, alg: 'aes-128-gcm', k: K128, iv: IV, p: P60, a: A20, c: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091', t: '5bc94fbc3221a5db94fae95ae7121a47' },
  { n: 7, alg: 'aes-192-gcm', k: '00'.repeat(24), iv: Z12, p: '', a: '', c: '', t: 'cd33b28ac773f74ba00ed1f312572435' },
  { n: 8, alg: 'aes-192-gcm', k: '00'.repeat(24), iv: Z12, p: '00'.repeat(16), a: '', c: '98e7247c07f0fe411c267e4384b0f600', t: '2ff58d80033927ab8ef4d4587514f0fb' },
  { n: 9, alg: 'aes-192-gcm', k: K192, iv: IV, p: P64, a: '', c: '3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256', t: '9924a7c8587336bfb118024db8674a14' },
  { n: 10, alg: 'aes-192-gcm', k: K192, iv: IV, p: P60, a: A20, c: '3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710', t: '2519498e80f1478f37ba55bd6d27618c' },
  { n: 13, alg: 'aes-256-gcm', k: '00'.repeat(32), iv: Z12, p: '', a: '', c: '', t: '530f8afbc74536b9a963b4f1c4cb738b' },
  { n: 14, alg: 'aes-256-gcm', k: '00'.repeat(32), iv: Z12, p: '00'.repeat(16), a: '', c: 'cea7403d4d606b6e074ec5d3baf39d18', t: 'd0d1c8a799996bf0265b98b5d48ab919' },
  { n: 15, alg: 'aes-256-gcm', k: K256, iv: IV, p: P64, a: '', c: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad', t: 'b094dac5d93471bdec1a502270e3cc6c' },
  { n: 16, alg: 'aes-256-gcm', k: K256, iv: IV, p: P60, a: A20, c: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662', t: '76fc6ece0f4e1768cddf8853bb2d551b' },
]

describe('AES-GCM: GCM spec test cases', () => {
  for (const tc of gcmCases) {
    it(`test case ${tc.n} (${tc.alg})`, () => {
      const aead = createAead(tc.alg, hex(tc.k))
      const { ciphertext, tag } = aead.sealDetached(hex(tc.iv), hex(tc.a), hex(tc.p))
      assert.equal(Buffer.from(ciphertext).toString('hex'), tc.c)
      assert.equal(Buffer.from(tag).toString('hex'), tc.t)
      assert.deepEqual(aead.openDetached(hex(tc.iv), hex(tc.a), hex(tc.c), hex(tc.t)), hex(tc.p))
      assert.deepEqual(aead.open(hex(tc.iv), hex(tc.a), hex(tc.c + tc.t)), hex(tc.p))
      const badTag = hex(tc.t)
      badTag[15]! ^= 1
      assert.equal(aead.openDetached(hex(tc.iv), hex(tc.a), hex(tc.c), badTag), undefined)
    })
  }
})

describe('XChaCha20-Poly1305: draft-irtf-cfrg-xchacha-03', () => {
  it('HChaCha20 matches §2.2.1', () => {
    const subkey = hchacha20(
      hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
      hex('000000090000004a0000000031415927'),
    )
    assert.equal(Buffer.from(subkey).toString('hex'), '82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc')
  })

  it('AEAD matches §A.3.1', () => {
    const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f')
    const nonce = hex('404142434445464748494a4b4c4d4e4f5051525354555657')
    const aad = hex('50515253c0c1c2c3c4c5c6c7')
    const plaintext = new TextEncoder().encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    )
    const ciphertext = `bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
      731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
      2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
      21f9664c97637da9768812f615c68b13b52e`.replace(/\s+/g, '')
    const tag = 'c0875924c1c7987947deafd8780acf49'
    const aead = createAead('xchacha20-poly1305', key)
    const sealed = aead.sealDetached(nonce, aad, plaintext)
    assert.equal(Buffer.from(sealed.ciphertext).toString('hex'), ciphertext)
    assert.equal(Buffer.from(sealed.tag).toString('hex'), tag)
    assert.deepEqual(aead.open(nonce, aad, hex(ciphertext + tag)), plaintext)
    assert.equal(aead.open(nonce, hex('50515253c0c1c2c3c4c5c6c8'), hex(ciphertext + tag)), undefined)
  })

  it('a different nonce prefix gives a different subkey (cache is per prefix)', () => {
    const aead = createAead('xchacha20-poly1305', new Uint8Array(32).fill(7))
    const n1 = new Uint8Array(24)
    const n2 = new Uint8Array(24)
    n2[0] = 1
    const a = aead.seal(n1, new Uint8Array(0), new Uint8Array(32))
    const b = aead.seal(n2, new Uint8Array(0), new Uint8Array(32))
    assert.notDeepEqual(a, b)
    assert.deepEqual(aead.open(n1, new Uint8Array(0), a), new Uint8Array(32))
    assert.equal(aead.open(n1, new Uint8Array(0), b), undefined)
  })
})

describe('createAead', () => {
  it('rejects a key of the wrong length with INVALID_KEY', () => {
    for (const [alg, length] of [['aes-128-gcm', 32], ['aes-192-gcm', 16], ['aes-256-gcm', 16], ['xchacha20-poly1305', 16]] as const) {
      assert.throws(() => createAead(alg, new Uint8Array(length)), (err) => isAppError(err, 'INVALID_KEY'))
    }
  })

  it('returns plain Uint8Arrays, not Buffers', () => {
    const { ciphertext, tag } = createAead('aes-256-gcm', new Uint8Array(32)).sealDetached(new Uint8Array(12), new Uint8Array(0), new Uint8Array(5))
    assert.equal(Object.getPrototypeOf(ciphertext), Uint8Array.prototype)
    assert.equal(Object.getPrototypeOf(tag), Uint8Array.prototype)
  })
})
