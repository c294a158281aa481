import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import { createHashWorker } from './hash-worker.ts'

const MiB = 1_048_576

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest()
}

const threads = (): number => readdirSync('/proc/self/task').length

/** Starts the worker thread (on first use) and gives it time to come up: until then hashing is local. */
async function untilOnline(hasher: ReturnType<typeof createHashWorker>): Promise<void> {
  const before = threads()
  const leased = hasher.lease(MiB)
  await hasher.hashSha256(leased)
  hasher.release(leased)
  assert.ok(threads() > before, 'a worker thread was started')
  await sleep(300)
}

describe('createHashWorker', () => {
  test('hashes leased buffers, at every alignment, in place', async () => {
    const hasher = createHashWorker()
    try {
      await untilOnline(hasher)
      for (let alignment = 0; alignment < 8; alignment++) {
        const content = randomBytes(MiB)
        const leased = hasher.lease(MiB, alignment)
        assert.equal(leased.byteOffset % 8, alignment)
        assert.equal(leased.byteLength, MiB)
        leased.set(content)
        assert.deepEqual(Buffer.from(await hasher.hashSha256(leased.subarray(17, MiB - 5))), sha256(content.subarray(17, MiB - 5)))
        assert.ok(Buffer.from(leased).equals(content), 'the bytes are left as they were')
        hasher.release(leased)
      }
    } finally {
      await hasher.close()
    }
  })

  test('hashes other bytes on the calling thread and leaves them alone', async () => {
    const hasher = createHashWorker()
    try {
      await untilOnline(hasher)
      const mine = randomBytes(2 * MiB)
      const small = hasher.lease(1000)
      for (const bytes of [mine, small, new Uint8Array(0)]) {
        assert.deepEqual(Buffer.from(await hasher.hashSha256(bytes)), sha256(bytes))
      }
      assert.equal(mine.byteLength, 2 * MiB)
    } finally {
      await hasher.close()
    }
  })

  test('many hashes at once all come back right', async () => {
    const hasher = createHashWorker()
    try {
      await untilOnline(hasher)
      const contents = Array.from({ length: 24 }, () => randomBytes(256 << 10))
      const results = await Promise.all(contents.map(async content => {
        const leased = hasher.lease(content.length)
        leased.set(content)
        return hasher.hashSha256(leased)
      }))
      results.forEach((digest, i) => assert.deepEqual(Buffer.from(digest), sha256(contents[i])))
    } finally {
      await hasher.close()
    }
  })

  test('sha256Stream: the digest of the pieces in order, on the worker, whatever the pieces\' sizes, and the caller may reuse a piece at once', async () => {
    const hasher = createHashWorker()
    try {
      await untilOnline(hasher)
      for (const size of [0, 100, MiB - 1, MiB, MiB + 1, 3 * MiB + 12_345]) {
        const input = randomBytes(size)
        // A small window too, so that update waits for the thread.
        for (const maxAheadBytes of [undefined, MiB]) {
          const stream = hasher.sha256Stream({ maxAheadBytes })
          const reused = new Uint8Array(70_000)
          for (let at = 0; at < size; at += reused.byteLength) {
            const n = Math.min(reused.byteLength, size - at)
            reused.set(input.subarray(at, at + n))
            await stream.update(reused.subarray(0, n))
            reused.fill(0xee)
          }
          assert.deepEqual(Buffer.from(await stream.digest()), sha256(input), `${size} bytes`)
        }
      }
      // Two streams at once stay apart.
      const [x, y] = [randomBytes(2 * MiB + 5), randomBytes(3 * MiB)]
      const [sx, sy] = [hasher.sha256Stream(), hasher.sha256Stream()]
      for (let at = 0; at < 3 * MiB; at += 65_536) {
        if (at < x.byteLength) await sx.update(x.subarray(at, at + 65_536))
        await sy.update(y.subarray(at, at + 65_536))
      }
      const [dx, dy] = await Promise.all([sx.digest(), sy.digest()])
      assert.deepEqual(Buffer.from(dx), sha256(x))
      assert.deepEqual(Buffer.from(dy), sha256(y))
    } finally {
      await hasher.close()
    }
  })

  test('sha256Stream announced shorter than a buffer leases none, and its digest is right even when it runs longer', async () => {
    const hasher = createHashWorker()
    try {
      await untilOnline(hasher)
      const idle = hasher.lease(MiB)
      hasher.release(idle)
      const input = randomBytes(3 * MiB)
      const stream = hasher.sha256Stream({ expectedBytes: 100 })
      await stream.update(input.subarray(0, 100))
      // The idle buffer was not taken for the stream's piece.
      const next = hasher.lease(MiB)
      assert.equal(next.buffer, idle.buffer)
      hasher.release(next)
      await stream.update(input.subarray(100))
      assert.deepEqual(Buffer.from(await stream.digest()), sha256(input))
    } finally {
      await hasher.close()
    }
  })

  test('sha256Stream fails, rather than answering a wrong digest, when the worker goes away mid-stream', async () => {
    const hasher = createHashWorker()
    await untilOnline(hasher)
    const stream = hasher.sha256Stream()
    await stream.update(randomBytes(2 * MiB))
    await hasher.close()
    await assert.rejects(async () => {
      await stream.update(randomBytes(MiB))
      await stream.digest()
    })
  })

  test('a released buffer is leased again', async () => {
    const hasher = createHashWorker()
    try {
      const first = hasher.lease(4096)
      hasher.release(first)
      const again = hasher.lease(4096, 3)
      assert.equal(again.buffer, first.buffer)
      assert.equal(again.byteOffset, 3)
      hasher.release(new Uint8Array(4096)) // not leased: ignored
      assert.notEqual(hasher.lease(4096).buffer, first.buffer)
    } finally {
      await hasher.close()
    }
  })

  test('keeps every buffer of a burst of 200 leases for reuse (none dropped to linger until both threads collect it)', async () => {
    const hasher = createHashWorker()
    try {
      const first = Array.from({ length: 200 }, () => hasher.lease(MiB))
      for (const b of first) hasher.release(b)
      const again = Array.from({ length: 200 }, () => hasher.lease(MiB))
      const kept = new Set(first.map((b) => b.buffer))
      assert.equal(again.filter((b) => kept.has(b.buffer)).length, 200, 'every lease of the second burst reuses a buffer of the first')
    } finally {
      await hasher.close()
    }
  })

  test('works again after close, and does not keep the process alive', async () => {
    const hasher = createHashWorker()
    await untilOnline(hasher)
    await hasher.close()
    await untilOnline(hasher)
    // No close here: an idle worker must not hold the test process open.
  })
})
