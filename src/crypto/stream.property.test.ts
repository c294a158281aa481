import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { swapRanges } from '../../test/helpers/swap-ranges.ts'
import { isAppError } from '../errors.ts'
import { cipherSuites, decryptStream, encryptStream, generateDataKey, minChunkSize, parseStreamHeader, type CipherSuite } from './stream.ts'

/** Fixed seeds and bounded runs: the same inputs on every run, in a time `npm test` can afford; a run that hangs fails at its timeout. */
const runs = { seed: 0x5eed_0001, numRuns: 150, timeout: 10_000 }

async function seal(plaintext: Uint8Array, suite: CipherSuite, key: Uint8Array, pieceSize = 700): Promise<Uint8Array> {
  const pieces: Uint8Array[] = []
  const source = Array.from({ length: Math.ceil(plaintext.length / pieceSize) }, (_, i) => plaintext.subarray(i * pieceSize, (i + 1) * pieceSize))
  for await (const p of encryptStream(source, { key, suite, chunkSize: minChunkSize })) pieces.push(p)
  return new Uint8Array(Buffer.concat(pieces))
}

/**
 * Decrypts `bytes` fed in `slices`-sized pieces. Answers the plaintext yielded (each piece only
 * after its chunk authenticated) and the error it ended with, if any.
 */
async function open(bytes: Uint8Array, key: Uint8Array, slice: number): Promise<{ plaintext: Buffer; error?: unknown }> {
  const source = Array.from({ length: Math.ceil(bytes.length / slice) }, (_, i) => bytes.subarray(i * slice, (i + 1) * slice))
  const out: Uint8Array[] = []
  try {
    for await (const p of decryptStream(source, { key })) out.push(p)
    return { plaintext: Buffer.concat(out) }
  } catch (error) {
    return { plaintext: Buffer.concat(out), error }
  }
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'swap'; a: number; b: number; length: number }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'chunk-size'; value: number }
  | { kind: 'overwrite'; at: number; bytes: Uint8Array }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat(), length: fc.integer({ min: 1, max: 1100 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 1100 }) }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('chunk-size' as const), value: fc.oneof(fc.constant(0xffff_ffff), fc.constant(0), fc.constant(16 << 20), fc.nat()) }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
)

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const b = new Uint8Array(bytes)
  switch (m.kind) {
    case 'flip': b[m.at % b.length]! ^= 1 << m.bit; return b
    case 'truncate': return b.subarray(0, m.at % b.length)
    case 'swap': swapRanges(b, m.a, m.b, m.length); return b
    case 'duplicate': {
      const at = m.at % b.length
      return new Uint8Array(Buffer.concat([b.subarray(0, at + m.length), b.subarray(at)]))
    }
    case 'append': return new Uint8Array(Buffer.concat([b, m.bytes]))
    case 'chunk-size': new DataView(b.buffer).setUint32(6, m.value); return b
    case 'overwrite': {
      const at = m.at % b.length
      b.set(m.bytes.subarray(0, b.length - at), at)
      return b
    }
  }
}

const isIntegrity = (err: unknown) => isAppError(err, 'RECORD_INTEGRITY')

describe('stored object format (header + chunks) under random and mutated input', () => {
  it('a mutated object ends in RECORD_INTEGRITY; only authenticated chunks of the original are ever yielded', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...cipherSuites),
      fc.uint8Array({ minLength: 0, maxLength: 4 * minChunkSize + 100 }),
      mutation,
      fc.integer({ min: 1, max: 3000 }),
      async (suite, plaintext, m, slice) => {
        const key = generateDataKey(suite)
        const sealed = await seal(plaintext, suite, key)
        const mutated = mutate(sealed, m)
        const { plaintext: out, error } = await open(mutated, key, slice)
        // Whatever was yielded is the original's start: no altered or unauthenticated byte.
        assert.ok(Buffer.from(plaintext).subarray(0, out.length).equals(out), 'yielded bytes are a prefix of the original')
        if (Buffer.from(mutated).equals(Buffer.from(sealed))) {
          assert.equal(error, undefined)
          assert.ok(out.equals(Buffer.from(plaintext)))
        } else {
          assert.ok(isIntegrity(error), `expected RECORD_INTEGRITY, got ${String(error)}`)
          assert.ok(out.length < plaintext.length || plaintext.length === 0, 'never the whole plaintext from altered bytes')
        }
      },
    ), runs)
  })

  it('random bytes, random keys and a wrong key end in RECORD_INTEGRITY with nothing yielded', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 3000 }),
        // Random bytes behind a valid-looking magic, version and suite.
        fc.tuple(fc.integer({ min: 0, max: 6 }), fc.uint8Array({ maxLength: 3000 })).map(([suite, rest]) => new Uint8Array([0x4d, 0x4c, 0x52, 0x31, 1, suite, ...rest])),
      ),
      fc.uint8Array({ minLength: 0, maxLength: 40 }),
      async (bytes, key) => {
        const { plaintext, error } = await open(bytes, key, 512)
        assert.equal(plaintext.length, 0)
        assert.ok(isIntegrity(error), `expected RECORD_INTEGRITY, got ${String(error)}`)
      },
    ), runs)
    await fc.assert(fc.asyncProperty(fc.constantFrom(...cipherSuites), fc.uint8Array({ maxLength: 3000 }), async (suite, plaintext) => {
      const sealed = await seal(plaintext, suite, generateDataKey(suite))
      const { plaintext: out, error } = await open(sealed, generateDataKey(suite), 4096)
      assert.equal(out.length, 0)
      assert.ok(isIntegrity(error))
    }), { ...runs, numRuns: 40 })
  })

  it('parseStreamHeader answers a header or RECORD_INTEGRITY for any bytes', () => {
    fc.assert(fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 40 }).map((rest) => new Uint8Array([0x4d, 0x4c, 0x52, 0x31, ...rest]))),
      (bytes) => {
        try {
          const h = parseStreamHeader(bytes)
          assert.ok(cipherSuites.includes(h.suite))
          assert.ok(h.chunkSize >= minChunkSize && h.chunkSize <= 16 << 20)
          assert.ok(h.headerLength <= bytes.length)
        } catch (err) {
          assert.ok(isIntegrity(err), `expected RECORD_INTEGRITY, got ${String(err)}`)
        }
      },
    ), { ...runs, numRuns: 1000 })
  })
})
