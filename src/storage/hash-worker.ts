import { createHash } from 'node:crypto'
import { Worker } from 'node:worker_threads'

// Plain JS, run with `eval`: a worker does not inherit the tsx loader that bin/medledger.js
// registers through its API, so it could not load a .ts file. It hashes ranges of the shared
// buffers it was shown once each.
const workerSource = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const buffers = new Map()
parentPort.on('message', ({ id, slot, buffer, offset, length, forget }) => {
  if (forget !== undefined) return void buffers.delete(forget)
  if (buffer !== undefined) buffers.set(slot, buffer)
  try {
    const digest = new Uint8Array(createHash('sha256').update(new Uint8Array(buffers.get(slot), offset, length)).digest())
    parentPort.postMessage({ id, digest }, [digest.buffer])
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) })
  }
})
`

interface Reply { id: number; digest?: Uint8Array; error?: string }

/**
 * SHA-256 on a second thread, so hashing large blocks overlaps the main thread's work. The bytes
 * reach the thread without a copy or a transfer: they are written into buffers in shared memory
 * that this leases (and reuses), and each buffer is shown to the thread once.
 */
export interface HashWorker {
  /**
   * `size` bytes of shared memory that `hashSha256` reads in place, starting at an address
   * `alignment` bytes past a multiple of 8. V8 copies into shared memory byte by byte unless
   * source and target are 8-byte aligned alike (≈ 4 GB/s instead of ≈ 30), so give the
   * alignment (byteOffset % 8) of what will be copied in. Reused after `release`.
   */
  lease(size: number, alignment?: number): Uint8Array
  /** Hands back a buffer from `lease` (or a view of part of one) for reuse; others are ignored. */
  release(bytes: Uint8Array): void
  /**
   * The SHA-256 digest of `bytes`: on the worker thread for a view of a leased buffer of 64 KiB
   * or more (which must not change until the promise settles), else on the calling thread.
   */
  hashSha256(bytes: Uint8Array): Promise<Uint8Array>
  /** Starts the worker thread now (it takes tens of ms), rather than on the first large hash. */
  start(): void
  /** Stops the worker thread (a later hash starts a new one); safe to call twice. */
  close(): Promise<void>
}

export interface CreateHashWorkerOptions {
  /** Released buffers kept for reuse, per size (default 32). */
  maxIdleBuffers?: number
}

/** Below this size a block is hashed on the calling thread: a round trip to the worker costs more. */
const MIN_OFF_THREAD_BYTES = 64 << 10

/**
 * A HashWorker whose thread starts on the first off-thread hash and holds the process open only
 * while hashes are pending. Until the thread is up (tens of ms), hashes run on the calling thread.
 */
export function createHashWorker({ maxIdleBuffers = 32 }: CreateHashWorkerOptions = {}): HashWorker {
  const pool = createBufferPool(maxIdleBuffers)
  const slots = pool.slots
  /** The slots the current worker has been shown. */
  let shown = new Set<number>()
  let worker: Worker | undefined
  let online = false
  let nextId = 0
  const pending = new Map<number, { resolve: (digest: Uint8Array) => void; reject: (err: Error) => void }>()

  const failAll = (err: Error): void => {
    for (const { reject } of pending.values()) reject(err)
    pending.clear()
  }

  const start = (): Worker => {
    const w = new Worker(workerSource, { eval: true })
    shown = new Set()
    w.once('online', () => {
      if (worker === w) online = true
    })
    w.on('message', ({ id, digest, error }: Reply) => {
      const job = pending.get(id)
      if (job === undefined) return
      pending.delete(id)
      if (pending.size === 0) w.unref()
      if (digest !== undefined) job.resolve(digest)
      else job.reject(new Error(`hash worker: ${error}`))
    })
    const gone = (err: Error): void => {
      if (worker === w) {
        worker = undefined
        online = false
      }
      failAll(err)
    }
    w.on('error', gone)
    w.on('exit', (code) => gone(new Error(`hash worker exited with code ${code}`)))
    // After the listeners: adding a 'message' listener refs the worker's port again.
    w.unref()
    return w
  }

  return {
    lease: pool.lease,
    release(bytes) {
      const dropped = pool.release(bytes)
      if (dropped !== undefined && shown.delete(dropped)) worker?.postMessage({ forget: dropped })
    },
    async hashSha256(bytes) {
      const buffer = bytes.buffer
      const slot = buffer instanceof SharedArrayBuffer ? slots.get(buffer) : undefined
      const offThread = slot !== undefined && bytes.byteLength >= MIN_OFF_THREAD_BYTES
      if (offThread) worker ??= start()
      if (!offThread || !online) return new Uint8Array(createHash('sha256').update(bytes).digest())
      const w = worker!
      const id = nextId++
      const digest = new Promise<Uint8Array>((resolve, reject) => pending.set(id, { resolve, reject }))
      if (pending.size === 1) w.ref()
      const first = !shown.has(slot)
      shown.add(slot)
      w.postMessage({ id, slot, buffer: first ? buffer : undefined, offset: bytes.byteOffset, length: bytes.byteLength })
      return digest
    },
    start() {
      worker ??= start()
    },
    async close() {
      pool.clear()
      const w = worker
      worker = undefined
      online = false
      if (w !== undefined) await w.terminate()
    },
  }
}

/** The shared buffers a HashWorker leases, each numbered (its slot, what the worker knows it by), and those released kept for reuse. */
function createBufferPool(maxIdleBuffers: number): {
  /** Every leased buffer, by its slot. */
  slots: Map<SharedArrayBuffer, number>
  lease: HashWorker['lease']
  /** Keeps the buffer of `bytes` for reuse; the slot of a buffer dropped for good (too many idle), else undefined. */
  release(bytes: Uint8Array): number | undefined
  clear(): void
} {
  const slots = new Map<SharedArrayBuffer, number>()
  const idle = new Map<number, SharedArrayBuffer[]>()
  let nextSlot = 0
  return {
    slots,
    lease(size, alignment = 0) {
      const padded = size + 7
      let buffer = idle.get(padded)?.pop()
      if (buffer === undefined) {
        buffer = new SharedArrayBuffer(padded)
        slots.set(buffer, nextSlot++)
      }
      return new Uint8Array(buffer, alignment & 7, size)
    },
    release(bytes) {
      const buffer = bytes.buffer
      const slot = buffer instanceof SharedArrayBuffer ? slots.get(buffer) : undefined
      if (slot === undefined) return undefined
      let list = idle.get(buffer.byteLength)
      if (list === undefined) idle.set(buffer.byteLength, list = [])
      if (list.includes(buffer as SharedArrayBuffer)) return undefined
      if (list.length < maxIdleBuffers) {
        list.push(buffer as SharedArrayBuffer)
        return undefined
      }
      slots.delete(buffer as SharedArrayBuffer)
      return slot
    },
    clear() {
      idle.clear()
      slots.clear()
    },
  }
}
