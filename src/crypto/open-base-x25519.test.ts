import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, randomInt } from 'node:crypto'
import { isAppError } from '../errors.ts'
import { deriveKeyPairX25519, sealBase, setupBaseR, setupBaseS, type HpkeAead } from './hpke.ts'
import { openBaseX25519 } from './open-base-x25519.ts'

const aeads: HpkeAead[] = ['aes-128-gcm', 'aes-256-gcm', 'chacha20-poly1305']

/** What `@hpke/core` itself opens (the receiver context `setupBaseR` builds on the library), or its error code. */
async function referenceOpen(p: Parameters<typeof openBaseX25519>[0]): Promise<Uint8Array | string> {
  try {
    return await (await setupBaseR(p)).open(p.aad, p.ciphertext)
  } catch (err) {
    return isAppError(err) ? err.code : String(err)
  }
}

function ours(p: Parameters<typeof openBaseX25519>[0]): Uint8Array | string {
  try {
    return openBaseX25519(p)
  } catch (err) {
    return isAppError(err) ? err.code : String(err)
  }
}

describe('openBaseX25519 against @hpke/core', () => {
  it('opens what @hpke/core seals, on random keys, info, aad and plaintexts of every AEAD, as the library opens it', async () => {
    for (let i = 0; i < 60; i++) {
      const aead = aeads[i % aeads.length]!
      const recipient = await deriveKeyPairX25519(randomBytes(32))
      const info = randomBytes(randomInt(0, 64))
      const aad = randomBytes(randomInt(0, 100))
      const plaintext = new Uint8Array(randomBytes(randomInt(0, 300)))
      const { enc, ciphertext } = await sealBase({ recipientPublicKey: recipient.publicKey, info, aad, plaintext, aead })
      const p = { recipientPrivateKey: recipient.privateKey, enc, info, aad, ciphertext, aead }
      assert.deepEqual(ours(p), plaintext, `${aead} #${i}`)
      assert.deepEqual(await referenceOpen(p), plaintext, `${aead} #${i}`)
    }
  })

  it('opens encryption 0 of a library sender context (setupBaseS), and nothing sealed later in it', async () => {
    for (const aead of aeads) {
      const recipient = await deriveKeyPairX25519(randomBytes(32))
      const info = randomBytes(20)
      const { enc, context } = await setupBaseS({ recipientPublicKey: recipient.publicKey, info, aead })
      const first = await context.seal(Uint8Array.of(1), Uint8Array.of(7, 7))
      const second = await context.seal(Uint8Array.of(1), Uint8Array.of(7, 7))
      const p = { recipientPrivateKey: recipient.privateKey, enc, info, aad: Uint8Array.of(1), aead }
      assert.deepEqual(ours({ ...p, ciphertext: first }), Uint8Array.of(7, 7))
      assert.equal(ours({ ...p, ciphertext: second }), 'RECORD_INTEGRITY')
    }
  })

  it('refuses whatever the library refuses: a random bit flipped in enc, info, aad or ciphertext, another key or AEAD', async () => {
    for (let i = 0; i < 60; i++) {
      const aead = aeads[i % aeads.length]!
      const recipient = await deriveKeyPairX25519(randomBytes(32))
      const info = randomBytes(randomInt(1, 40))
      const aad = randomBytes(randomInt(1, 40))
      const { enc, ciphertext } = await sealBase({ recipientPublicKey: recipient.publicKey, info, aad, plaintext: randomBytes(48), aead })
      const flip = (b: Uint8Array) => {
        const c = b.slice()
        c[randomInt(0, c.length)]! ^= 1 << randomInt(0, 8)
        return c
      }
      const base = { recipientPrivateKey: recipient.privateKey, enc, info, aad, ciphertext, aead }
      const variants = [
        { ...base, enc: flip(enc) },
        { ...base, info: flip(info) },
        { ...base, aad: flip(aad) },
        { ...base, ciphertext: flip(ciphertext) },
        { ...base, recipientPrivateKey: (await deriveKeyPairX25519(randomBytes(32))).privateKey },
        { ...base, aead: aeads[(i + 1) % aeads.length]! },
      ]
      for (const [n, v] of variants.entries()) {
        assert.equal(ours(v), 'RECORD_INTEGRITY', `${aead} #${i} variant ${n}`)
        assert.equal(await referenceOpen(v), 'RECORD_INTEGRITY', `${aead} #${i} variant ${n}`)
      }
    }
  })

  it('opens with the key its array holds now: an array reused for another key (or zeroed) is not answered by the key imported before', async () => {
    const [one, two] = [await deriveKeyPairX25519(randomBytes(32)), await deriveKeyPairX25519(randomBytes(32))]
    const seal = async (to: Uint8Array) => ({ info: new Uint8Array(0), aad: new Uint8Array(0), aead: 'aes-256-gcm' as const, ...(await sealBase({ recipientPublicKey: to, info: new Uint8Array(0), aad: new Uint8Array(0), plaintext: Uint8Array.of(1), aead: 'aes-256-gcm' })) })
    const [toOne, toTwo] = [await seal(one.publicKey), await seal(two.publicKey)]
    const key = one.privateKey.slice()
    assert.deepEqual(ours({ ...toOne, recipientPrivateKey: key }), Uint8Array.of(1))
    key.set(two.privateKey)
    assert.equal(ours({ ...toOne, recipientPrivateKey: key }), 'RECORD_INTEGRITY')
    assert.deepEqual(ours({ ...toTwo, recipientPrivateKey: key }), Uint8Array.of(1))
    key.fill(0)
    assert.equal(ours({ ...toTwo, recipientPrivateKey: key }), 'RECORD_INTEGRITY')
  })

  it('refuses low-order and malformed encapsulations with RECORD_INTEGRITY, malformed private keys with INVALID_KEY', async () => {
    const recipient = await deriveKeyPairX25519(randomBytes(32))
    const base = { recipientPrivateKey: recipient.privateKey, info: new Uint8Array(0), aad: new Uint8Array(0), ciphertext: randomBytes(32), aead: 'aes-256-gcm' as const }
    // u = 0, u = 1 and u = p (2^255 - 19) are of small order: the shared secret is all zeros.
    const p = Uint8Array.from(Buffer.from('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'hex'))
    for (const enc of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31)), p, new Uint8Array(31), new Uint8Array(33)]) {
      assert.equal(ours({ ...base, enc }), 'RECORD_INTEGRITY')
    }
    for (const recipientPrivateKey of [new Uint8Array(31), new Uint8Array(33)]) {
      assert.equal(ours({ ...base, enc: randomBytes(32), recipientPrivateKey }), 'INVALID_KEY')
    }
  })
})
