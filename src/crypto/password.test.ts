import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { hashPassword, verifyPassword } from './password.ts'

describe('hashPassword / verifyPassword', () => {
  it('produces an Argon2id PHC string with the OWASP parameters and a fresh salt', async () => {
    const a = await hashPassword('correct horse battery staple')
    const b = await hashPassword('correct horse battery staple')
    assert.match(a, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    assert.notEqual(a, b)
  })

  it('verifies the right password and nothing else', async () => {
    const phc = await hashPassword('correct horse battery staple', { m: 1024, t: 1 })
    assert.match(phc, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/)
    assert.equal(await verifyPassword(phc, 'correct horse battery staple'), true)
    for (const wrong of ['Correct horse battery staple', 'correct horse battery staple ', '']) {
      assert.equal(await verifyPassword(phc, wrong), false, JSON.stringify(wrong))
    }
  })

  it('matches the same password in another Unicode normal form', async () => {
    const phc = await hashPassword('Ångström-ñ'.normalize('NFD'), { m: 1024, t: 1 })
    assert.equal(await verifyPassword(phc, 'Ångström-ñ'.normalize('NFC')), true)
  })

  it('never matches a malformed or empty stored hash', async () => {
    for (const phc of ['', 'garbage', '$argon2id$v=19$m=1024,t=1,p=1$bad', '$2b$10$abcdefghijklmnopqrstuv']) {
      assert.equal(await verifyPassword(phc, ''), false, phc)
      assert.equal(await verifyPassword(phc, 'x'), false, phc)
    }
  })
})
