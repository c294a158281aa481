import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { generateEncryptionKeyPair, type KeyScheme } from '../crypto/key-wrap.ts'
import { isAppError } from '../errors.ts'
import { openExportPart, sealExportPart } from './export-part-box.ts'

describe('an export part encrypted for the researcher', () => {
  for (const scheme of ['x25519-hpke', 'rsa-oaep-4096'] as KeyScheme[]) {
    test(`${scheme}: opens with the researcher's key for its export and hospital only`, async () => {
      const researcher = await generateEncryptionKeyPair(scheme)
      const other = await generateEncryptionKeyPair(scheme)
      const plaintext = randomBytes(5000)
      const at = { exportId: `0x${'ab'.repeat(32)}`, hospital: `0x${'12'.repeat(20)}` }
      const sealed = await sealExportPart({ scheme, publicKey: researcher.publicKey, ...at, plaintext })
      assert.equal(Buffer.from(sealed).includes(plaintext.subarray(0, 64)), false, 'no plaintext in the sealed part')
      assert.deepEqual(Buffer.from(await openExportPart({ scheme, privateKey: researcher.privateKey, ...at, sealed })), plaintext)
      const refused = (err: unknown) => isAppError(err, 'RECORD_INTEGRITY') || isAppError(err, 'INVALID_KEY')
      await assert.rejects(openExportPart({ scheme, privateKey: other.privateKey, ...at, sealed }), refused)
      await assert.rejects(openExportPart({ scheme, privateKey: researcher.privateKey, ...at, hospital: `0x${'34'.repeat(20)}`, sealed }), refused)
      await assert.rejects(openExportPart({ scheme, privateKey: researcher.privateKey, ...at, exportId: `0x${'cd'.repeat(32)}`, sealed }), refused)
      const tampered = Uint8Array.from(sealed)
      tampered[tampered.length - 1]! ^= 1
      await assert.rejects(openExportPart({ scheme, privateKey: researcher.privateKey, ...at, sealed: tampered }), refused)
      await assert.rejects(openExportPart({ scheme, privateKey: researcher.privateKey, ...at, sealed: sealed.subarray(0, 10) }), refused)
    })
  }
})
