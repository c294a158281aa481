import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import type { Address, Hex } from 'viem'
import { isAppError, type ErrorCode } from '../errors.ts'
import { generateEncryptionKeyPair, unwrapKey, wrapKey, keySchemes, type EncryptionKeyPair, type KeyScheme } from '../crypto/key-wrap.ts'
import { generateDataKey } from '../crypto/stream.ts'
import { openEnvelopes, openManifest, parseEnvelopes, sealEnvelopes, type Manifest } from './envelopes.ts'

/** Fixed seeds and bounded runs: the same inputs on every run. */
const runs = { seed: 0x5eed_0002, numRuns: 200 }
const expected: ErrorCode[] = ['RECORD_INTEGRITY', 'RECORD_NOT_FOUND']

const recordId = `0x${'ab'.repeat(32)}` as Hex
const reader = '0x1111111111111111111111111111111111111111' as Address
const manifest: Manifest = { fileName: 'scan.dcm', mediaType: 'application/dicom', size: 1234, sha256: 'cd'.repeat(32), created: '2030-01-01T00:00:00.000Z' }

/** Replaces the value at a random path of `value` (objects and arrays) with `replacement`. */
function replaceAt(value: unknown, path: number[], replacement: unknown): unknown {
  if (path.length === 0 || typeof value !== 'object' || value === null) return replacement
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value)
  if (entries.length === 0) return replacement
  const [key, child] = entries[path[0]! % entries.length]!
  const copy: any = Array.isArray(value) ? [...value] : { ...value }
  copy[key] = replaceAt(child, path.slice(1), replacement)
  return copy
}

/** Opens `bytes` as the reader would; answers what came out, or the error. */
async function open(bytes: Uint8Array, keys: EncryptionKeyPair, scheme: KeyScheme): Promise<{ dataKey: Uint8Array; manifest: Manifest } | { error: unknown }> {
  try {
    return await openEnvelopes(parseEnvelopes(bytes, recordId), { address: reader, scheme, privateKey: keys.privateKey })
  } catch (error) {
    return { error }
  }
}

describe('envelopes and manifests under random and mutated input', () => {
  const keys = new Map<KeyScheme, EncryptionKeyPair>()
  const dataKey = generateDataKey('aes-256-gcm')
  const sealed = new Map<KeyScheme, Uint8Array>()
  before(async () => {
    for (const scheme of keySchemes) {
      const pair = await generateEncryptionKeyPair(scheme)
      keys.set(scheme, pair)
      sealed.set(scheme, await sealEnvelopes({ recordId, suite: 'aes-256-gcm', dataKey, manifest, recipients: [{ to: reader, for: 'patient', scheme, publicKey: pair.publicKey }] }))
    }
  })

  /** Either the original key and manifest, or a typed refusal: never a crash, never a forged manifest. */
  const check = (out: Awaited<ReturnType<typeof open>>) => {
    if ('error' in out) {
      assert.ok(isAppError(out.error, ...expected), `expected ${expected.join(' or ')}, got ${(out.error as Error)?.stack ?? String(out.error)}`)
    } else {
      assert.ok(Buffer.from(out.dataKey).equals(Buffer.from(dataKey)))
      assert.deepEqual(out.manifest, manifest)
    }
  }

  it('random JSON values and random bytes are refused with a typed error', async () => {
    for (const scheme of keySchemes) {
      await fc.assert(fc.asyncProperty(
        fc.oneof(
          fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))),
          fc.uint8Array({ maxLength: 300 }),
          fc.record({ v: fc.constant(1), type: fc.constant('medledger/record-envelopes'), recordId: fc.oneof(fc.constant(recordId), fc.jsonValue()), suite: fc.jsonValue(), manifest: fc.jsonValue(), keys: fc.array(fc.jsonValue(), { maxLength: 4 }) })
            .map((o) => new TextEncoder().encode(JSON.stringify(o))),
        ),
        async (bytes) => check(await open(bytes, keys.get(scheme)!, scheme)),
      ), runs)
    }
  })

  it('a valid envelopes object with any one value replaced opens to the original or is refused', async () => {
    for (const scheme of keySchemes) {
      const original = JSON.parse(Buffer.from(sealed.get(scheme)!).toString('utf8'))
      await fc.assert(fc.asyncProperty(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.oneof(fc.jsonValue(), fc.string(), fc.constant(null), fc.constant(reader)), async (path, replacement) => {
        const bytes = new TextEncoder().encode(JSON.stringify(replaceAt(original, path, replacement)))
        check(await open(bytes, keys.get(scheme)!, scheme))
      }), { ...runs, numRuns: scheme === 'rsa-oaep-4096' ? 60 : 300 })
    }
  })

  it('bit flips and truncations of the serialised object open to the original or are refused', async () => {
    for (const scheme of keySchemes) {
      const bytes = sealed.get(scheme)!
      await fc.assert(fc.asyncProperty(fc.nat(), fc.integer({ min: 0, max: 7 }), fc.boolean(), async (at, bit, truncate) => {
        const b = new Uint8Array(bytes)
        const mutated = truncate ? b.subarray(0, at % b.length) : (b[at % b.length]! ^= 1 << bit, b)
        check(await open(mutated, keys.get(scheme)!, scheme))
      }), { ...runs, numRuns: scheme === 'rsa-oaep-4096' ? 60 : 300 })
    }
  })

  it('a manifest under a wrong or random key is refused', () => {
    const env = parseEnvelopes(sealed.get('x25519-hpke')!, recordId)
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (key) => {
      try {
        openManifest(env, key)
        assert.fail('opened under a random key')
      } catch (err) {
        assert.ok(isAppError(err, 'RECORD_INTEGRITY'), String(err))
      }
    }), runs)
  })

  it('unwrapKey refuses random and mutated wrapped keys with RECORD_INTEGRITY', async () => {
    const context = new TextEncoder().encode('context')
    for (const scheme of keySchemes) {
      const pair = keys.get(scheme)!
      const key = new Uint8Array(randomBytes(32))
      const wrapped = await wrapKey({ scheme, publicKey: pair.publicKey, key, context })
      await fc.assert(fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }),
          fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([at, bit]) => { const w = new Uint8Array(wrapped); w[at % w.length]! ^= 1 << bit; return w }),
          fc.nat().map((at) => wrapped.subarray(0, at % wrapped.length)),
        ),
        async (bytes) => {
          try {
            const out = await unwrapKey({ scheme, privateKey: pair.privateKey, wrapped: bytes, context })
            assert.ok(Buffer.from(bytes).equals(Buffer.from(wrapped)) && Buffer.from(out).equals(Buffer.from(key)), 'only the original opens')
          } catch (err) {
            assert.ok(isAppError(err, 'RECORD_INTEGRITY'), String(err))
          }
        },
      ), { ...runs, numRuns: scheme === 'rsa-oaep-4096' ? 60 : 300 })
    }
  })
})
