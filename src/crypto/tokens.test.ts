import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isAppError } from '../errors.ts'
import { generateRecordId, generateToken, hashToken, parseRecordId } from './tokens.ts'

describe('tokens', () => {
  it('generateToken gives 32 random bytes as unpadded base64url', () => {
    const tokens = new Set(Array.from({ length: 100 }, generateToken))
    assert.equal(tokens.size, 100)
    for (const token of tokens) {
      assert.match(token, /^[A-Za-z0-9_-]{43}$/)
      assert.equal(Buffer.from(token, 'base64url').length, 32)
    }
  })

  it('hashToken is the SHA-256 of the token, lowercase hex', () => {
    assert.equal(hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    assert.equal(hashToken(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    const token = generateToken()
    assert.equal(hashToken(token), hashToken(token))
    assert.notEqual(hashToken(token), hashToken(generateToken()))
  })
})

describe('record ids', () => {
  it('generateRecordId gives 32 random bytes as 0x-prefixed lowercase hex', () => {
    const ids = new Set(Array.from({ length: 100 }, generateRecordId))
    assert.equal(ids.size, 100)
    for (const id of ids) assert.match(id, /^0x[0-9a-f]{64}$/)
  })

  it('parseRecordId accepts 64 hex characters with or without 0x, and lowercases', () => {
    const hex = 'AbCdEf0123456789'.repeat(4)
    assert.equal(parseRecordId(hex), `0x${hex.toLowerCase()}`)
    assert.equal(parseRecordId(`0x${hex}`), `0x${hex.toLowerCase()}`)
    const id = generateRecordId()
    assert.equal(parseRecordId(id), id)
  })

  it('parseRecordId rejects anything else with INVALID_RECORD_ID', () => {
    const hex = 'ab'.repeat(32)
    for (const bad of ['', '0x', hex.slice(1), `${hex}0`, `0X${hex}`, `0x${hex.slice(2)}zz`, ` ${hex}`, `${hex}\n`, `0x0x${hex.slice(4)}`, 42 as unknown as string]) {
      assert.throws(() => parseRecordId(bad), (err) => isAppError(err, 'INVALID_RECORD_ID'), String(bad))
    }
  })
})
