import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Secret, TOTP, URI } from 'otpauth'
import { generateTotpSecret, matchTotp, totpStep, totpUri } from './totp.ts'

// RFC 6238 Appendix B, SHA-1 seed "12345678901234567890"; authenticator apps show the last 6 digits.
const rfcSecret = Secret.fromLatin1('12345678901234567890').base32
const rfcVectors: [number, string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
]

describe('TOTP (RFC 6238: SHA-1, 6 digits, 30 s)', () => {
  it('accepts the RFC 6238 SHA-1 test vectors, truncated to 6 digits, at their own time step', () => {
    for (const [t, code] of rfcVectors) {
      assert.equal(matchTotp({ secret: rfcSecret, code: code.slice(-6), nowMs: t * 1000 }), Math.floor(t / 30), `T=${t}`)
    }
  })

  it('accepts a code one step early or late, and nothing further out', () => {
    const now = 1_700_000_000_000
    const at = (offsetSteps: number) => TOTP.generate({ secret: Secret.fromBase32(rfcSecret), timestamp: now + offsetSteps * 30_000 })
    assert.equal(matchTotp({ secret: rfcSecret, code: at(-1), nowMs: now }), totpStep(now) - 1)
    assert.equal(matchTotp({ secret: rfcSecret, code: at(0), nowMs: now }), totpStep(now))
    assert.equal(matchTotp({ secret: rfcSecret, code: at(1), nowMs: now }), totpStep(now) + 1)
    assert.equal(matchTotp({ secret: rfcSecret, code: at(-2), nowMs: now }), undefined)
    assert.equal(matchTotp({ secret: rfcSecret, code: at(2), nowMs: now }), undefined)
  })

  it('refuses anything that is not six digits', () => {
    for (const code of ['', '12345', '1234567', 'abcdef', ' 287082', '287082\n']) {
      assert.equal(matchTotp({ secret: rfcSecret, code, nowMs: 59_000 }), undefined, JSON.stringify(code))
    }
  })

  it('makes a 160-bit secret and an otpauth:// URI an authenticator app reads back', () => {
    const secret = generateTotpSecret()
    assert.equal(Secret.fromBase32(secret).bytes.length, 20)
    assert.notEqual(secret, generateTotpSecret())
    const uri = totpUri({ secret, label: 'ann@example.org' })
    assert.match(uri, /^otpauth:\/\/totp\/MedLedger:ann%40example\.org\?/)
    const parsed = URI.parse(uri) as TOTP
    assert.ok(parsed instanceof TOTP)
    assert.equal(parsed.issuer, 'MedLedger')
    assert.equal(parsed.label, 'ann@example.org')
    assert.equal(parsed.algorithm, 'SHA1')
    assert.equal(parsed.digits, 6)
    assert.equal(parsed.period, 30)
    assert.equal(parsed.secret.base32, secret)
  })
})
