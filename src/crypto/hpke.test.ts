import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { isAppError } from '../errors.ts'
import { deriveKeyPairX25519, openBase, sealBase, setupBaseR, setupBaseS, x25519PublicKey, type HpkeAead } from './hpke.ts'

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')

const info = hex('4f6465206f6e2061204772656369616e2055726e') // "Ode on a Grecian Urn"
const pt = hex('4265617574792069732074727574682c20747275746820626561757479') // "Beauty is truth, truth beauty"

interface Vector {
  name: string
  aead: HpkeAead
  ikmE?: string
  ikmR?: string
  skEm: string
  pkEm: string
  skRm: string
  pkRm: string
  encryptions: { seq: number; aad: string; ct: string }[]
  exports?: { context: string; value: string }[]
}

const vectors: Vector[] = [
  {
    // RFC 9180 Appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode.
    name: 'RFC 9180 A.1.1 (AES-128-GCM)',
    aead: 'aes-128-gcm',
    ikmE: '7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234',
    ikmR: '6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037',
    skEm: '52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736',
    pkEm: '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431',
    skRm: '4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8',
    pkRm: '3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d',
    encryptions: [
      { seq: 0, aad: '436f756e742d30', ct: 'f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a' },
      { seq: 1, aad: '436f756e742d31', ct: 'af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84' },
      { seq: 2, aad: '436f756e742d32', ct: '498dfcabd92e8acedc281e85af1cb4e3e31c7dc394a1ca20e173cb72516491588d96a19ad4a683518973dcc180' },
      { seq: 4, aad: '436f756e742d34', ct: '583bd32bc67a5994bb8ceaca813d369bca7b2a42408cddef5e22f880b631215a09fc0012bc69fccaa251c0246d' },
    ],
    exports: [
      { context: '', value: '3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee' },
      { context: '00', value: '2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5' },
      { context: '54657374436f6e74657874', value: 'e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931' },
    ],
  },
  {
    // CFRG test-vectors.json (RFC 9180 final), mode 0, kem_id 32, kdf_id 1, aead_id 2, as
    // carried in BoringSSL / AWS-LC crypto/hpke/hpke_test_vectors.txt.
    name: 'CFRG vectors: X25519, HKDF-SHA256, AES-256-GCM',
    aead: 'aes-256-gcm',
    skEm: '179d4b53b6365c45b600c4163b61d95cbc2f4d9e36f1695558dce265ab8bab11',
    pkEm: '6c93e09869df3402d7bf231bf540fadd35cd56be14f97178f0954db94b7fc256',
    skRm: '497b4502664cfea5d5af0b39934dac72242a74f8480451e1aee7d6a53320333d',
    pkRm: '430f4b9859665145a6b1ba274024487bd66f03a2dd577d7753c68d7d7d00c00c',
    encryptions: [
      { seq: 0, aad: '436f756e742d30', ct: 'e5d84cd531cfb583096e7cfa9641bd3079cf3a91cda813c52deb5f512be9931980a41de125a925cdad859d5b7a' },
      { seq: 1, aad: '436f756e742d31', ct: '2c43aff25343fdbff864506f0818b9d87df84ea01b1a2144d23b4d40c26bf655fdf197fe40297a8aebeed5cc2d' },
      { seq: 2, aad: '436f756e742d32', ct: 'e0a8f2cf92ff61215edbb8c55dc31fe9e2eb42a5685867bb6854211542099f9e940c4b41c192bc390835b1a5f7' },
      { seq: 3, aad: '436f756e742d33', ct: 'a8ea1deafbe4935d0d484a026301a339d4668c43c37f5e289bf758c7aeb3e2812d0321c12b71978855883420c0' },
    ],
  },
  {
    // RFC 9180 Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305, base mode.
    name: 'RFC 9180 A.2.1 (ChaCha20Poly1305)',
    aead: 'chacha20-poly1305',
    ikmE: '909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b',
    ikmR: '1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df',
    skEm: 'f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600',
    pkEm: '1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a',
    skRm: '8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb',
    pkRm: '4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a',
    encryptions: [
      { seq: 0, aad: '436f756e742d30', ct: '1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28' },
      { seq: 1, aad: '436f756e742d31', ct: '6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c' },
    ],
  },
]

describe('HPKE base mode known answers', () => {
  for (const v of vectors) {
    describe(v.name, () => {
      if (v.ikmE !== undefined && v.ikmR !== undefined) {
        it('DeriveKeyPair reproduces the ephemeral and recipient key pairs', async () => {
          assert.deepEqual(await deriveKeyPairX25519(hex(v.ikmE!)), { privateKey: hex(v.skEm), publicKey: hex(v.pkEm) })
          assert.deepEqual(await deriveKeyPairX25519(hex(v.ikmR!)), { privateKey: hex(v.skRm), publicKey: hex(v.pkRm) })
        })
      }

      it('public keys follow from private keys', () => {
        assert.equal(toHex(x25519PublicKey(hex(v.skEm))), v.pkEm)
        assert.equal(toHex(x25519PublicKey(hex(v.skRm))), v.pkRm)
      })

      it('sender and receiver derive the key schedule; encryptions and exports match in sequence', async () => {
        const { enc, context: sender } = await setupBaseS({ recipientPublicKey: hex(v.pkRm), info, aead: v.aead, ephemeralPrivateKey: hex(v.skEm) })
        assert.equal(toHex(enc), v.pkEm)
        const receiver = await setupBaseR({ recipientPrivateKey: hex(v.skRm), enc, info, aead: v.aead })
        // The key, base nonce and exporter secret stay inside the library: the ciphertexts at
        // each sequence number and the exported values check them.
        for (const context of [sender, receiver]) {
          for (const e of v.exports ?? []) assert.equal(toHex(await context.export(hex(e.context), 32)), e.value)
        }
        let seq = 0
        for (const e of v.encryptions) {
          for (; seq < e.seq; seq++) await receiver.open(new Uint8Array(0), await sender.seal(new Uint8Array(0), pt)) // skip ahead together
          assert.equal(toHex(await sender.seal(hex(e.aad), pt)), e.ct, `seq ${e.seq}`)
          assert.deepEqual(await receiver.open(hex(e.aad), hex(e.ct)), pt, `seq ${e.seq}`)
          seq++
        }
      })

      it('single-shot sealBase / openBase give encryption 0', async () => {
        const e0 = v.encryptions[0]!
        const { enc, ciphertext } = await sealBase({
          recipientPublicKey: hex(v.pkRm), info, aad: hex(e0.aad), plaintext: pt, aead: v.aead, ephemeralPrivateKey: hex(v.skEm),
        })
        assert.equal(toHex(enc), v.pkEm)
        assert.equal(toHex(ciphertext), e0.ct)
        assert.deepEqual(await openBase({ recipientPrivateKey: hex(v.skRm), enc, info, aad: hex(e0.aad), ciphertext, aead: v.aead }), pt)
      })
    })
  }
})

describe('HPKE sealBase / openBase', () => {
  const aad = new TextEncoder().encode('record 0x01')
  const recipientOf = () => deriveKeyPairX25519(randomBytes(32))

  it('round trips with a fresh ephemeral key each time', async () => {
    const recipient = await recipientOf()
    for (const aead of ['aes-128-gcm', 'aes-256-gcm', 'chacha20-poly1305'] as const) {
      const a = await sealBase({ recipientPublicKey: recipient.publicKey, info, aad, plaintext: pt, aead })
      const b = await sealBase({ recipientPublicKey: recipient.publicKey, info, aad, plaintext: pt, aead })
      assert.notDeepEqual(a.enc, b.enc)
      assert.deepEqual(await openBase({ recipientPrivateKey: recipient.privateKey, enc: a.enc, info, aad, ciphertext: a.ciphertext, aead }), pt)
    }
  })

  it('fails with RECORD_INTEGRITY for a wrong key, info, aad, enc, AEAD or a flipped bit', async () => {
    const recipient = await recipientOf()
    const { enc, ciphertext } = await sealBase({ recipientPublicKey: recipient.publicKey, info, aad, plaintext: pt, aead: 'aes-256-gcm' })
    const base = { recipientPrivateKey: recipient.privateKey, enc, info, aad, ciphertext, aead: 'aes-256-gcm' as const }
    const flipped = ciphertext.slice()
    flipped[0]! ^= 1
    const otherEnc = enc.slice()
    otherEnc[3]! ^= 1
    const cases = {
      'wrong private key': { ...base, recipientPrivateKey: (await recipientOf()).privateKey },
      'wrong info': { ...base, info: new Uint8Array(0) },
      'wrong aad': { ...base, aad: new TextEncoder().encode('record 0x02') },
      'other enc': { ...base, enc: otherEnc },
      'short enc': { ...base, enc: enc.subarray(0, 31) },
      'other AEAD': { ...base, aead: 'chacha20-poly1305' as const },
      'flipped bit': { ...base, ciphertext: flipped },
      'truncated': { ...base, ciphertext: ciphertext.subarray(0, 15) },
      'low-order enc (all zero)': { ...base, enc: new Uint8Array(32) },
    }
    for (const [name, params] of Object.entries(cases)) {
      await assert.rejects(openBase(params), (err) => isAppError(err, 'RECORD_INTEGRITY'), name)
    }
  })

  it('rejects malformed or low-order recipient keys with INVALID_KEY', async () => {
    for (const recipientPublicKey of [new Uint8Array(31), new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      await assert.rejects(
        sealBase({ recipientPublicKey, info, aad, plaintext: pt, aead: 'aes-256-gcm' }),
        (err) => isAppError(err, 'INVALID_KEY'),
      )
    }
    assert.throws(() => x25519PublicKey(new Uint8Array(16)), (err) => isAppError(err, 'INVALID_KEY'))
    await assert.rejects(deriveKeyPairX25519(new Uint8Array(16)), (err) => isAppError(err, 'INVALID_KEY'))
  })
})
