import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { isAppError } from '../errors.ts'
import {
  changeKeystorePassword,
  generateRecoveryCode,
  openKeystore,
  openKeystoreWithKey,
  sealKeystore,
  type Keystore,
} from './keystore.ts'

const kdf = { m: 1024, t: 1, p: 1 } // cheap Argon2id for tests; production uses 19456/2/1
const payload = Uint8Array.from(randomBytes(100))
const password = 'correct horse battery staple'

describe('generateRecoveryCode', () => {
  it('is 8 groups of 4 Crockford base32 characters (160 bits), fresh each time', () => {
    const codes = new Set(Array.from({ length: 50 }, generateRecoveryCode))
    assert.equal(codes.size, 50)
    for (const code of codes) assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$/)
  })
})

describe('keystore', async () => {
  const recoveryCode = generateRecoveryCode()
  const { keystore, key } = await sealKeystore({ payload, password, recoveryCode, kdf })

  it('is plain JSON with base64url fields and the KDF parameters', () => {
    const json = JSON.parse(JSON.stringify(keystore)) as Keystore
    assert.deepEqual(json, keystore)
    assert.equal(keystore.v, 1)
    assert.deepEqual(keystore.kdf, { alg: 'argon2id', m: 1024, t: 1, p: 1 })
    for (const value of [keystore.password.salt, keystore.recovery.wrapped, keystore.payload.ciphertext]) assert.match(value, /^[A-Za-z0-9_-]+$/)
    assert.equal(key.length, 32)
    assert.notEqual(keystore.password.salt, keystore.recovery.salt)
  })

  it('opens with the password', async () => {
    assert.deepEqual(await openKeystore(keystore, { password }), { key, payload })
  })

  it('opens with the recovery code, however it is typed', async () => {
    assert.deepEqual(await openKeystore(keystore, { recoveryCode }), { key, payload })
    const sloppy = ` ${recoveryCode.toLowerCase().replaceAll('-', ' ').replaceAll('0', 'o').replaceAll('1', 'l')} `
    assert.deepEqual((await openKeystore(keystore, { recoveryCode: sloppy })).payload, payload)
  })

  it('opens with the keystore key alone (session unlock)', () => {
    assert.deepEqual(openKeystoreWithKey(keystore, key), payload)
  })

  it('rejects a wrong password or recovery code with INVALID_CREDENTIALS', async () => {
    for (const wrong of ['Correct horse battery staple', '', `${password} `]) {
      await assert.rejects(openKeystore(keystore, { password: wrong }), (err) => isAppError(err, 'INVALID_CREDENTIALS'))
    }
    for (const code of [generateRecoveryCode(), 'not a code', recoveryCode.slice(0, -1)]) {
      await assert.rejects(openKeystore(keystore, { recoveryCode: code }), (err) => isAppError(err, 'INVALID_CREDENTIALS'))
    }
    // The password does not open the recovery slot, nor the other way round.
    await assert.rejects(openKeystore(keystore, { password: recoveryCode }), (err) => isAppError(err, 'INVALID_CREDENTIALS'))
  })

  it('treats the password in its NFC form', async () => {
    const composed = 'pässwörd-ñ'.normalize('NFC')
    const decomposed = composed.normalize('NFD')
    assert.notEqual(composed, decomposed)
    const sealed = await sealKeystore({ payload, password: decomposed, recoveryCode, kdf })
    assert.deepEqual((await openKeystore(sealed.keystore, { password: composed })).payload, payload)
  })

  it('rejects a wrong keystore key with KEYSTORE_LOCKED', () => {
    assert.throws(() => openKeystoreWithKey(keystore, new Uint8Array(32)), (err) => isAppError(err, 'KEYSTORE_LOCKED'))
    assert.throws(() => openKeystoreWithKey(keystore, key.subarray(1)), (err) => isAppError(err, 'KEYSTORE_LOCKED'))
  })

  it('changes the password: the new one opens, the old one no longer does, the recovery code still does', async () => {
    const changed = await changeKeystorePassword(keystore, key, 'a new and better passphrase')
    assert.deepEqual(await openKeystore(changed, { password: 'a new and better passphrase' }), { key, payload })
    await assert.rejects(openKeystore(changed, { password }), (err) => isAppError(err, 'INVALID_CREDENTIALS'))
    assert.deepEqual((await openKeystore(changed, { recoveryCode })).payload, payload)
    assert.deepEqual(openKeystoreWithKey(changed, key), payload)
    // The original object is untouched.
    assert.deepEqual((await openKeystore(keystore, { password })).payload, payload)
    await assert.rejects(changeKeystorePassword(keystore, new Uint8Array(32), 'x'), (err) => isAppError(err, 'KEYSTORE_LOCKED'))
  })

  it('a forgotten password: recover with the code, then set a new password', async () => {
    const { key: recovered } = await openKeystore(keystore, { recoveryCode })
    const changed = await changeKeystorePassword(keystore, recovered, 'fresh start passphrase')
    assert.deepEqual((await openKeystore(changed, { password: 'fresh start passphrase' })).payload, payload)
  })

  it('detects tampering: lowered KDF parameters or an altered payload', async () => {
    const lowered = { ...keystore, kdf: { ...keystore.kdf, m: 512 } }
    await assert.rejects(openKeystore(lowered, { password }), (err) => isAppError(err, 'INVALID_CREDENTIALS'))
    assert.throws(() => openKeystoreWithKey(lowered, key), (err) => isAppError(err, 'KEYSTORE_LOCKED'))
    const ciphertext = Buffer.from(keystore.payload.ciphertext, 'base64url')
    ciphertext[0]! ^= 1
    const altered = { ...keystore, payload: { ...keystore.payload, ciphertext: ciphertext.toString('base64url') } }
    await assert.rejects(openKeystore(altered, { password }), (err) => isAppError(err, 'KEYSTORE_LOCKED'))
  })

  it('rejects malformed keystores with KEYSTORE_LOCKED', async () => {
    const bad: unknown[] = [
      null,
      { ...keystore, v: 2 },
      { ...keystore, kdf: { ...keystore.kdf, alg: 'scrypt' } },
      { ...keystore, kdf: { ...keystore.kdf, m: 2 ** 31 } },
      { ...keystore, password: { ...keystore.password, salt: 'bad*chars' } },
      { ...keystore, payload: { nonce: keystore.payload.nonce } },
    ]
    for (const ks of bad) {
      await assert.rejects(openKeystore(ks as Keystore, { password }), (err) => isAppError(err, 'KEYSTORE_LOCKED'))
    }
  })

  it('rejects out-of-range KDF parameters when sealing with BAD_REQUEST', async () => {
    for (const k of [{ m: 4, t: 1, p: 1 }, { m: 1024, t: 0, p: 1 }, { m: 1024, t: 1, p: 0 }, { m: 1024.5, t: 1, p: 1 }]) {
      await assert.rejects(sealKeystore({ payload, password, recoveryCode, kdf: k }), (err) => isAppError(err, 'BAD_REQUEST'))
    }
  })

  it('uses the OWASP parameters by default', async () => {
    const sealed = await sealKeystore({ payload, password, recoveryCode })
    assert.deepEqual(sealed.keystore.kdf, { alg: 'argon2id', m: 19456, t: 2, p: 1 })
    assert.deepEqual((await openKeystore(sealed.keystore, { password })).payload, payload)
  })
})
