import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { isAppError } from '../errors.ts'
import {
  generateEncryptionKeyPair,
  keySchemeFromId,
  keySchemeId,
  keySchemes,
  parseKeyScheme,
  unwrapKey,
  wrapKey,
  type EncryptionKeyPair,
  type KeyScheme,
} from './key-wrap.ts'
import { generateDataKey } from './stream.ts'

const context = new TextEncoder().encode('record 0x5e1f…; recipient 0xabc…')
const otherContext = new TextEncoder().encode('record 0x5e20…; recipient 0xabc…')

describe('key schemes', () => {
  it('parses the two schemes and rejects others with UNKNOWN_KEY_SCHEME', () => {
    assert.deepEqual([...keySchemes], ['x25519-hpke', 'rsa-oaep-4096'])
    for (const scheme of keySchemes) assert.equal(parseKeyScheme(scheme), scheme)
    for (const bad of ['', 'rsa', 'x25519', 'constructor']) {
      assert.throws(() => parseKeyScheme(bad), (err) => isAppError(err, 'UNKNOWN_KEY_SCHEME'), bad)
    }
  })

  it('numbers the schemes for the on-chain registry, both ways', () => {
    assert.equal(keySchemeId('x25519-hpke'), 1)
    assert.equal(keySchemeId('rsa-oaep-4096'), 2)
    for (const scheme of keySchemes) assert.equal(keySchemeFromId(keySchemeId(scheme)), scheme)
    assert.equal(keySchemeFromId(2n), 'rsa-oaep-4096')
    for (const id of [0, 3, -1, 1.5]) assert.throws(() => keySchemeFromId(id), (err) => isAppError(err, 'UNKNOWN_KEY_SCHEME'))
  })
})

describe('wrapKey / unwrapKey', () => {
  // RSA-4096 key generation takes seconds: two pairs per scheme, made once, in parallel.
  const pairs = new Map<KeyScheme, [EncryptionKeyPair, EncryptionKeyPair]>()
  before(async () => {
    await Promise.all(keySchemes.map(async (scheme) => {
      pairs.set(scheme, await Promise.all([generateEncryptionKeyPair(scheme), generateEncryptionKeyPair(scheme)]))
    }))
  })

  it('x25519 key pairs are raw 32-byte keys', () => {
    const [pair] = pairs.get('x25519-hpke')!
    assert.equal(pair.scheme, 'x25519-hpke')
    assert.equal(pair.publicKey.length, 32)
    assert.equal(pair.privateKey.length, 32)
  })

  it('RSA key pairs are 4096-bit, e = 65537, SPKI and PKCS#8 DER', () => {
    const [pair] = pairs.get('rsa-oaep-4096')!
    const pub = createPublicKey({ key: Buffer.from(pair.publicKey), format: 'der', type: 'spki' })
    const priv = createPrivateKey({ key: Buffer.from(pair.privateKey), format: 'der', type: 'pkcs8' })
    assert.equal(pub.asymmetricKeyType, 'rsa')
    assert.equal(pub.asymmetricKeyDetails?.modulusLength, 4096)
    assert.equal(pub.asymmetricKeyDetails?.publicExponent, 65537n)
    assert.equal(priv.asymmetricKeyDetails?.modulusLength, 4096)
  })

  for (const scheme of keySchemes) {
    describe(scheme, () => {
      it('round trips a data key', async () => {
        const [pair] = pairs.get(scheme)!
        for (const key of [generateDataKey('aes-256-gcm'), generateDataKey('aes-128-gcm'), generateDataKey('aes-192-gcm')]) {
          const wrapped = await wrapKey({ scheme, publicKey: pair.publicKey, key, context })
          if (scheme === 'x25519-hpke') assert.equal(wrapped.length, 32 + key.length + 16)
          else assert.equal(wrapped.length, 512)
          assert.deepEqual(await unwrapKey({ scheme, privateKey: pair.privateKey, wrapped, context }), key)
        }
      })

      it('each wrap is fresh (randomised)', async () => {
        const [pair] = pairs.get(scheme)!
        const key = generateDataKey('aes-256-gcm')
        assert.notDeepEqual(
          await wrapKey({ scheme, publicKey: pair.publicKey, key, context }),
          await wrapKey({ scheme, publicKey: pair.publicKey, key, context }),
        )
      })

      it('fails with RECORD_INTEGRITY for a wrong context, a wrong private key or a flipped bit', async () => {
        const [pair, other] = pairs.get(scheme)!
        const key = generateDataKey('aes-256-gcm')
        const wrapped = await wrapKey({ scheme, publicKey: pair.publicKey, key, context })
        const flippedAt = (i: number) => {
          const w = wrapped.slice()
          w[i]! ^= 1
          return w
        }
        const cases = {
          'wrong context': { scheme, privateKey: pair.privateKey, wrapped, context: otherContext },
          'empty context': { scheme, privateKey: pair.privateKey, wrapped, context: new Uint8Array(0) },
          'wrong private key': { scheme, privateKey: other.privateKey, wrapped, context },
          'flipped first byte': { scheme, privateKey: pair.privateKey, wrapped: flippedAt(0), context },
          'flipped last byte': { scheme, privateKey: pair.privateKey, wrapped: flippedAt(wrapped.length - 1), context },
          'truncated': { scheme, privateKey: pair.privateKey, wrapped: wrapped.subarray(0, wrapped.length - 1), context },
          'empty': { scheme, privateKey: pair.privateKey, wrapped: new Uint8Array(0), context },
        }
        for (const [name, params] of Object.entries(cases)) {
          await assert.rejects(unwrapKey(params), (err) => isAppError(err, 'RECORD_INTEGRITY'), name)
        }
      })

      it('rejects keys of the other scheme or malformed keys with INVALID_KEY', async () => {
        const [pair] = pairs.get(scheme)!
        const [foreign] = pairs.get(scheme === 'x25519-hpke' ? 'rsa-oaep-4096' : 'x25519-hpke')!
        const key = generateDataKey('aes-256-gcm')
        for (const publicKey of [foreign.publicKey, new Uint8Array(0), pair.publicKey.subarray(1)]) {
          await assert.rejects(wrapKey({ scheme, publicKey, key, context }), (err) => isAppError(err, 'INVALID_KEY'))
        }
        const wrapped = await wrapKey({ scheme, publicKey: pair.publicKey, key, context })
        for (const privateKey of [foreign.privateKey, new Uint8Array(0), pair.privateKey.subarray(1)]) {
          await assert.rejects(unwrapKey({ scheme, privateKey, wrapped, context }), (err) => isAppError(err, 'INVALID_KEY'))
        }
      })
    })
  }

  it('rejects an RSA key that is not 4096 bits with INVALID_KEY', async () => {
    const { generateKeyPairSync } = await import('node:crypto')
    const small = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } })
    await assert.rejects(
      wrapKey({ scheme: 'rsa-oaep-4096', publicKey: small.publicKey, key: new Uint8Array(32), context }),
      (err) => isAppError(err, 'INVALID_KEY'),
    )
  })
})

describe('x25519-hpke envelopes written before the move to @hpke/core', () => {
  // Wrapped on 2026-12-07 by the hand-written RFC 9180 code this module used until then (fresh
  // ephemeral key, info "medledger/key-wrap/v1", aad = context): records stored before the
  // change must still open, so the wire format enc (32) || AES-256-GCM ciphertext is fixed.
  const fixed = {
    privateKey: 'dabe19457d2e7ad43e8920b41beb10ee7f7008d707c69f408c05eb6f2343f142',
    publicKey: 'e886b80360291909fd06a84d254074de579a1ee4788a7dbcd29b4a44b5568e7a',
    key: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    context: 'medledger/data-key/v1|0x00000000000000000000000000000000000000000000000000000000000000aa|0x00000000000000000000000000000000000000bb',
    wrapped: '86b45a627576f0eae9186c30fdf1e20afc051c23e19484c7256c329d8cf81c19aa0f0894dc2bf72dbcbf49ace3f3952467a8b2960996ab608705a57e2c5cae039ab243d14e737d7522cf066727835f6d',
  }
  const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'))

  it('unwraps an envelope produced by the old implementation', async () => {
    const key = await unwrapKey({ scheme: 'x25519-hpke', privateKey: hex(fixed.privateKey), wrapped: hex(fixed.wrapped), context: new TextEncoder().encode(fixed.context) })
    assert.equal(Buffer.from(key).toString('hex'), fixed.key)
  })

  it('refuses it under another context, and new envelopes keep the same layout', async () => {
    await assert.rejects(
      unwrapKey({ scheme: 'x25519-hpke', privateKey: hex(fixed.privateKey), wrapped: hex(fixed.wrapped), context }),
      (err) => isAppError(err, 'RECORD_INTEGRITY'),
    )
    const wrapped = await wrapKey({ scheme: 'x25519-hpke', publicKey: hex(fixed.publicKey), key: hex(fixed.key), context })
    assert.equal(wrapped.length, hex(fixed.wrapped).length)
    assert.deepEqual(await unwrapKey({ scheme: 'x25519-hpke', privateKey: hex(fixed.privateKey), wrapped, context }), hex(fixed.key))
  })
})
