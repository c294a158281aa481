import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { decodeAccountSecrets, decodeEncryptionKey, encodeAccountSecrets } from '../../src/accounts/account-secrets.ts'
import { utf8 } from '../../src/crypto/bytes.ts'

describe('account secrets', () => {
  it('decodeEncryptionKey gives the encryption key decodeAccountSecrets gives, and zeroes the payload', () => {
    const ledgerKey = generatePrivateKey()
    const enc = new Uint8Array(randomBytes(32))
    const full = decodeAccountSecrets(encodeAccountSecrets(ledgerKey, enc))
    assert.equal(full.ledger.address, privateKeyToAccount(ledgerKey).address)
    assert.deepEqual(new Uint8Array(full.encryptionPrivateKey), enc)
    const payload = encodeAccountSecrets(ledgerKey, enc)
    assert.deepEqual(new Uint8Array(decodeEncryptionKey(payload)), enc)
    assert.ok(payload.every((b) => b === 0), 'the payload, which holds the ledger key too, is zeroed')
  })

  it('decodeEncryptionKey refuses a malformed payload with KEYSTORE_LOCKED, and zeroes it', () => {
    for (const text of ['not json', '{"v":1}', '{"v":1,"encryptionPrivateKey":"%%%"}']) {
      const payload = utf8(text)
      assert.throws(() => decodeEncryptionKey(payload), { code: 'KEYSTORE_LOCKED' })
      assert.ok(payload.every((b) => b === 0))
    }
  })
})
