import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { isAppError } from '../errors.ts'
import {
  cipherSuites,
  dataKeyLength,
  decryptStream,
  encryptStream,
  generateDataKey,
  parseCipherSuite,
  parseStreamHeader,
  type CipherSuite,
} from './stream.ts'

const C = 1024 // chunk size used throughout: small keeps the tests fast
const headerLengths: Record<CipherSuite, number> = {
  'aes-256-gcm': 17,
  'aes-192-gcm': 17,
  'aes-128-gcm': 17,
  'xchacha20-poly1305': 29,
}

/** Deterministic PRNG (xorshift32) so a failing slicing can be replayed. */
function prng(seed: number) {
  let x = seed || 1
  return (n: number) => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % n
  }
}

/** `bytes` cut into random pieces (including empty ones), as a network or file read would. */
async function* sliced(bytes: Uint8Array, seed: number, maxPiece = 3 * C): AsyncGenerator<Uint8Array> {
  const next = prng(seed)
  let offset = 0
  while (offset < bytes.length) {
    const n = next(5) === 0 ? 0 : 1 + next(maxPiece)
    yield bytes.slice(offset, offset + n)
    offset += n
  }
  if (next(2) === 0) yield new Uint8Array(0)
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const part of source) parts.push(part)
  return Uint8Array.from(Buffer.concat(parts))
}

async function seal(plaintext: Uint8Array, suite: CipherSuite, key = generateDataKey(suite), seed = 1) {
  const stored = await collect(encryptStream(sliced(plaintext, seed), { key, suite, chunkSize: C }))
  return { key, stored }
}

/** Runs decryptStream to the end; returns what it yielded and what it threw. */
async function tryDecrypt(stored: Uint8Array, key: Uint8Array, seed = 7) {
  const yielded: Uint8Array[] = []
  try {
    for await (const part of decryptStream(sliced(stored, seed), { key })) yielded.push(part)
  } catch (error) {
    return { yielded: Uint8Array.from(Buffer.concat(yielded)), error }
  }
  return { yielded: Uint8Array.from(Buffer.concat(yielded)), error: undefined }
}

async function assertIntegrityError(stored: Uint8Array, key: Uint8Array, message: string) {
  const { error } = await tryDecrypt(stored, key)
  assert.ok(isAppError(error, 'RECORD_INTEGRITY'), `${message}: expected RECORD_INTEGRITY, got ${String(error)}`)
}

/** Byte range [start, end) of sealed chunk `i` in an object with header length `h`. */
function chunkRange(h: number, i: number, storedLength: number): [number, number] {
  const start = h + i * (C + 16)
  return [start, Math.min(start + C + 16, storedLength)]
}

describe('cipher suites', () => {
  it('parses the four suites and rejects others with UNKNOWN_CIPHER_SUITE', () => {
    assert.deepEqual([...cipherSuites], ['aes-256-gcm', 'aes-192-gcm', 'aes-128-gcm', 'xchacha20-poly1305'])
    for (const suite of cipherSuites) assert.equal(parseCipherSuite(suite), suite)
    for (const bad of ['', 'AES-256-GCM', 'aes-256-cbc', 'chacha20-poly1305', 'toString', '__proto__']) {
      assert.throws(() => parseCipherSuite(bad), (err) => isAppError(err, 'UNKNOWN_CIPHER_SUITE'), bad)
    }
  })

  it('generates data keys of the suite length', () => {
    assert.deepEqual(cipherSuites.map(dataKeyLength), [32, 24, 16, 32])
    for (const suite of cipherSuites) {
      const a = generateDataKey(suite)
      assert.equal(a.length, dataKeyLength(suite))
      assert.notDeepEqual(a, generateDataKey(suite))
    }
  })
})

describe('encryptStream / decryptStream round trips', () => {
  const sizes = [0, 1, C - 1, C, C + 1, 3 * C, 4 * C + 517]
  for (const suite of cipherSuites) {
    it(`${suite}: sizes ${sizes.join(', ')} with random slicing`, async () => {
      for (const [i, size] of sizes.entries()) {
        const plaintext = Uint8Array.from(randomBytes(size))
        const { key, stored } = await seal(plaintext, suite, undefined, 11 + i)
        const chunks = Math.max(1, Math.ceil(size / C))
        assert.equal(stored.length, headerLengths[suite] + size + 16 * chunks, `stored size for ${size}`)
        assert.deepEqual(parseStreamHeader(stored), { version: 1, suite, chunkSize: C, headerLength: headerLengths[suite] })
        for (const seed of [3, 5]) {
          const { yielded, error } = await tryDecrypt(stored, key, seed + i)
          assert.equal(error, undefined, `size ${size}`)
          assert.deepEqual(yielded, plaintext, `size ${size}`)
        }
      }
    })
  }

  it('decrypts a stored object handed over whole, or byte by byte', async () => {
    const plaintext = Uint8Array.from(randomBytes(2 * C + 3))
    const { key, stored } = await seal(plaintext, 'aes-256-gcm')
    assert.deepEqual(await collect(decryptStream([stored], { key })), plaintext)
    const bytes = Array.from(stored, (b) => Uint8Array.of(b))
    assert.deepEqual(await collect(decryptStream(bytes, { key })), plaintext)
  })

  it('uses a fresh nonce seed per object: same key and plaintext, different ciphertext', async () => {
    const key = generateDataKey('aes-256-gcm')
    const plaintext = new Uint8Array(100)
    const a = await seal(plaintext, 'aes-256-gcm', key)
    const b = await seal(plaintext, 'aes-256-gcm', key)
    assert.notDeepEqual(a.stored, b.stored)
  })

  it('copes with a source that reuses its buffer after each yield', async () => {
    const plaintext = Uint8Array.from(randomBytes(3 * C + 100))
    async function* reusing() {
      const buffer = new Uint8Array(300)
      for (let offset = 0; offset < plaintext.length; offset += buffer.length) {
        const n = Math.min(buffer.length, plaintext.length - offset)
        buffer.set(plaintext.subarray(offset, offset + n))
        yield buffer.subarray(0, n)
        buffer.fill(0xee) // scribble over what was handed out
      }
    }
    const key = generateDataKey('aes-128-gcm')
    const stored = await collect(encryptStream(reusing(), { key, suite: 'aes-128-gcm', chunkSize: C }))
    assert.deepEqual(await collect(decryptStream(sliced(stored, 9), { key })), plaintext)
  })

  it('streams decrypted side by side, and after one that failed or was abandoned, stay each their own', async () => {
    // The sealed-chunk buffers are reused from stream to stream: one leased to a stream is never
    // another's, whatever the interleaving, nor handed out again while its stream is still open.
    const key = generateDataKey('aes-256-gcm')
    const plains = [0, 1, 2].map((i) => Uint8Array.from(randomBytes(3 * C + 10 * i)))
    const stored = await Promise.all(plains.map(async (p) => (await seal(p, 'aes-256-gcm', key)).stored))
    const tampered = stored[0]!.slice()
    tampered[40]! ^= 1
    assert.ok(isAppError((await tryDecrypt(tampered, key)).error, 'RECORD_INTEGRITY'))
    const abandoned = decryptStream(sliced(stored[1]!, 3), { key })
    await abandoned.next()
    await abandoned.return(undefined)
    const streams = stored.map((s, i) => decryptStream(sliced(s, 11 + i), { key }))
    const parts: Uint8Array[][] = stored.map(() => [])
    for (let open = streams.length; open > 0;) {
      open = 0
      for (const [i, s] of streams.entries()) {
        const r = await s.next()
        if (!r.done) { parts[i]!.push(r.value.slice()); open++ }
      }
    }
    parts.forEach((p, i) => assert.deepEqual(Uint8Array.from(Buffer.concat(p)), plains[i]))
  })

  it('streams 256 MiB through encrypt and decrypt without holding it', async () => {
    const piece = Uint8Array.from(randomBytes(1 << 16))
    const total = 256 << 20
    async function* source() {
      for (let sent = 0; sent < total; sent += piece.length) yield piece
    }
    const key = generateDataKey('aes-256-gcm')
    const inHash = createHash('sha256')
    for (let sent = 0; sent < total; sent += piece.length) inHash.update(piece)
    const outHash = createHash('sha256')
    const before = process.memoryUsage().arrayBuffers
    let peak = 0
    let received = 0
    for await (const part of decryptStream(encryptStream(source(), { key, suite: 'aes-256-gcm' }), { key })) {
      outHash.update(part)
      received += part.length
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before)
    }
    assert.equal(received, total)
    assert.equal(outHash.digest('hex'), inHash.digest('hex'))
    // Garbage awaits collection, so allow slack, but far below the 256 MiB that went through.
    assert.ok(peak < 96 << 20, `peak external memory ${(peak / 2 ** 20).toFixed(1)} MiB`)
  })
})

describe('encryptStream parameters', () => {
  it('rejects a key that does not fit the suite with INVALID_KEY', async () => {
    await assert.rejects(collect(encryptStream([], { key: new Uint8Array(16), suite: 'aes-256-gcm' })), (err) => isAppError(err, 'INVALID_KEY'))
    await assert.rejects(collect(encryptStream([], { key: new Uint8Array(32), suite: 'aes-128-gcm' })), (err) => isAppError(err, 'INVALID_KEY'))
  })

  it('rejects an unknown suite with UNKNOWN_CIPHER_SUITE', async () => {
    const suite = 'aes-256-cbc' as CipherSuite
    await assert.rejects(collect(encryptStream([], { key: new Uint8Array(32), suite })), (err) => isAppError(err, 'UNKNOWN_CIPHER_SUITE'))
  })

  it('rejects chunk sizes outside 1 KiB … 16 MiB with BAD_REQUEST', async () => {
    const key = generateDataKey('aes-256-gcm')
    for (const chunkSize of [0, 1023, 1024.5, (16 << 20) + 1]) {
      await assert.rejects(collect(encryptStream([], { key, suite: 'aes-256-gcm', chunkSize })), (err) => isAppError(err, 'BAD_REQUEST'), String(chunkSize))
    }
    for (const chunkSize of [1024, 16 << 20]) {
      const stored = await collect(encryptStream([new Uint8Array(10)], { key, suite: 'aes-256-gcm', chunkSize }))
      assert.equal(parseStreamHeader(stored).chunkSize, chunkSize)
    }
  })

  it('stops when the signal aborts', async () => {
    const key = generateDataKey('aes-256-gcm')
    const controller = new AbortController()
    async function* endless() {
      for (;;) yield new Uint8Array(C)
    }
    let n = 0
    await assert.rejects(async () => {
      for await (const _ of encryptStream(endless(), { key, suite: 'aes-256-gcm', chunkSize: C, signal: controller.signal })) {
        if (++n === 5) controller.abort()
      }
    }, (err: Error) => err.name === 'AbortError')
    const { stored } = await seal(new Uint8Array(5 * C), 'aes-256-gcm', key)
    await assert.rejects(collect(decryptStream([stored], { key, signal: AbortSignal.abort() })), (err: Error) => err.name === 'AbortError')
  })
})

describe('decryptStream rejects every defect with RECORD_INTEGRITY', () => {
  for (const suite of ['aes-256-gcm', 'xchacha20-poly1305'] as const) {
    describe(suite, () => {
      const h = headerLengths[suite]
      const plaintext = Uint8Array.from(randomBytes(3 * C + 300)) // chunks 0, 1, 2 full; 3 partial
      const sealing = seal(plaintext, suite)

      it('a flipped bit anywhere in the header', async () => {
        const { key, stored } = await sealing
        for (let i = 0; i < h; i++) {
          const bad = stored.slice()
          bad[i]! ^= 0x01 << (i % 8)
          await assertIntegrityError(bad, key, `header byte ${i}`)
        }
      })

      it('a flipped bit in ciphertext or tag of any chunk, without serving that chunk', async () => {
        const { key, stored } = await sealing
        for (let chunk = 0; chunk < 4; chunk++) {
          const [start, end] = chunkRange(h, chunk, stored.length)
          for (const at of [start, start + 100, end - 17, end - 16, end - 1]) {
            const bad = stored.slice()
            bad[at]! ^= 0x80
            const { yielded, error } = await tryDecrypt(bad, key)
            assert.ok(isAppError(error, 'RECORD_INTEGRITY'), `chunk ${chunk} byte ${at}`)
            // Only the chunks before the damaged one were served, and they are intact.
            assert.deepEqual(yielded, plaintext.subarray(0, chunk * C), `chunk ${chunk} byte ${at}`)
          }
        }
      })

      it('truncation at a chunk boundary, mid-chunk, inside the header, to nothing', async () => {
        const { key, stored } = await sealing
        for (const chunk of [1, 2, 3]) await assertIntegrityError(stored.slice(0, chunkRange(h, chunk, stored.length)[0]), key, `cut before chunk ${chunk}`)
        for (const cut of [stored.length - 1, stored.length - 16, stored.length - 17, h + C + 16 + 500, h + 10, h + 1]) {
          await assertIntegrityError(stored.slice(0, cut), key, `cut at ${cut}`)
        }
        for (const cut of [h, h - 1, 10, 9, 4, 0]) await assertIntegrityError(stored.slice(0, cut), key, `cut at ${cut}`)
      })

      it('a dropped, swapped or duplicated chunk', async () => {
        const { key, stored } = await sealing
        const chunks = [0, 1, 2, 3].map((i) => stored.slice(...chunkRange(h, i, stored.length)))
        const header = stored.slice(0, h)
        const rebuild = (order: number[]) => Uint8Array.from(Buffer.concat([header, ...order.map((i) => chunks[i]!)]))
        assert.deepEqual((await tryDecrypt(rebuild([0, 1, 2, 3]), key)).yielded, plaintext)
        await assertIntegrityError(rebuild([0, 2, 3]), key, 'dropped chunk 1')
        await assertIntegrityError(rebuild([1, 2, 3]), key, 'dropped chunk 0')
        await assertIntegrityError(rebuild([0, 1, 2]), key, 'dropped final chunk')
        await assertIntegrityError(rebuild([1, 0, 2, 3]), key, 'swapped chunks 0 and 1')
        await assertIntegrityError(rebuild([0, 1, 1, 2, 3]), key, 'duplicated chunk 1')
        await assertIntegrityError(rebuild([0, 1, 2, 3, 3]), key, 'duplicated final chunk')
      })

      it('trailing bytes after the final chunk', async () => {
        const { key, stored } = await sealing
        for (const extra of [1, 15, 16, 17, C + 16, 2 * C]) {
          await assertIntegrityError(Uint8Array.from(Buffer.concat([stored, randomBytes(extra)])), key, `${extra} trailing bytes`)
        }
        await assertIntegrityError(Uint8Array.from(Buffer.concat([stored, new Uint8Array(1)])), key, 'one trailing zero')
      })

      it('a wrong key, a key of the wrong size, or the header of another object', async () => {
        const { key, stored } = await sealing
        await assertIntegrityError(stored, generateDataKey(suite), 'wrong key')
        await assertIntegrityError(stored, key.subarray(0, 16), 'short key')
        const other = await seal(plaintext, suite, key, 99)
        const spliced = Uint8Array.from(Buffer.concat([other.stored.subarray(0, h), stored.subarray(h)]))
        await assertIntegrityError(spliced, key, 'header of another object')
      })
    })
  }

  it('a full final chunk is told apart from a truncated stream', async () => {
    // Exactly 2 chunks: the second is full and final; dropping it leaves a full non-final chunk.
    const plaintext = Uint8Array.from(randomBytes(2 * C))
    const { key, stored } = await seal(plaintext, 'aes-128-gcm')
    assert.deepEqual((await tryDecrypt(stored, key)).yielded, plaintext)
    await assertIntegrityError(stored.slice(0, 17 + C + 16), key, 'final full chunk dropped')
  })

  it('a downgraded suite id in the header', async () => {
    const { key, stored } = await seal(new Uint8Array(10), 'aes-256-gcm')
    for (const id of [2, 3, 4, 0, 5, 255]) {
      const bad = stored.slice()
      bad[5] = id
      await assertIntegrityError(bad, key, `suite id ${id}`)
    }
  })

  it('parseStreamHeader rejects what is not a header', () => {
    for (const bytes of [new Uint8Array(0), new Uint8Array(17), Uint8Array.from(Buffer.from('MLR1\x02\x01\x00\x00\x04\x00' + 'x'.repeat(7), 'latin1'))]) {
      assert.throws(() => parseStreamHeader(bytes), (err) => isAppError(err, 'RECORD_INTEGRITY'))
    }
  })
})
