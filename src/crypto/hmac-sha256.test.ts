import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { hmacSha256 } from './hmac-sha256.ts'

const hex = (s: string) => Buffer.from(s, 'hex')

describe('hmacSha256', () => {
  // RFC 4231, test cases 1, 2, 3, 4, 6 and 7 (5 truncates its output).
  const vectors = [
    { key: hex('0b'.repeat(20)), data: Buffer.from('Hi There'), mac: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7' },
    { key: Buffer.from('Jefe'), data: Buffer.from('what do ya want for nothing?'), mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' },
    { key: hex('aa'.repeat(20)), data: hex('dd'.repeat(50)), mac: '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe' },
    { key: hex('0102030405060708090a0b0c0d0e0f10111213141516171819'), data: hex('cd'.repeat(50)), mac: '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b' },
    { key: hex('aa'.repeat(131)), data: Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'), mac: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54' },
    {
      key: hex('aa'.repeat(131)),
      data: Buffer.from('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
      mac: '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    },
  ]
  for (const [i, v] of vectors.entries()) {
    it(`RFC 4231 vector ${i + 1}`, () => {
      assert.equal(hmacSha256(v.key)(v.data).toString('hex'), v.mac)
    })
  }

  it('equals createHmac for random keys and strings (multi-byte, surrogates, many blocks), one keyed function reused', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.oneof(fc.string({ maxLength: 80, unit: 'binary' }), fc.string({ maxLength: 300 }), fc.string({ maxLength: 4 })), { maxLength: 12 }), (key, messages) => {
      const mac = hmacSha256(key)
      for (const m of messages) assert.ok(mac(m).equals(createHmac('sha256', key).update(m, 'utf8').digest()), JSON.stringify(m))
    }), { numRuns: 400 })
  })

  it('equals createHmac at every message length around the block boundaries', () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef')
    const mac = hmacSha256(key)
    for (let n = 0; n <= 200; n++) {
      const bytes = Buffer.alloc(n, n)
      assert.ok(mac(bytes).equals(createHmac('sha256', key).update(bytes).digest()), `bytes ${n}`)
      assert.ok(mac('é'.repeat(n)).equals(createHmac('sha256', key).update('é'.repeat(n), 'utf8').digest()), `string ${n}`)
    }
  })

  it('encodes lone surrogates as Node does (U+FFFD) and pairs as one code point', () => {
    const key = Buffer.alloc(32, 9)
    const mac = hmacSha256(key)
    for (const m of ['\ud800', 'a\udc00b', '\ud83d\ude00', '\udbff\udfff', 'x\ud83d', '\udc00\ud800', 'Hämoglobin', '糖尿病']) {
      assert.ok(mac(m).equals(createHmac('sha256', key).update(m, 'utf8').digest()), JSON.stringify(m))
    }
  })

  it('does not change with what the caller does to its key afterwards', () => {
    const key = Buffer.alloc(32, 7)
    const mac = hmacSha256(key)
    const before = createHmac('sha256', key).update('diabetes').digest()
    key.fill(0)
    assert.ok(mac('diabetes').equals(before))
  })
})
