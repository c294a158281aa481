import { createHash } from 'node:crypto'
import { Worker } from 'node:worker_threads'

// Plain JS, run with `eval`: a worker does not inherit the tsx loader that bin/medledger.js
// registers through its API, so it could not load a .ts file. It hashes ranges of the shared
// buffers it was shown once each: alone (a block), or as the next piece of a stream (`stream`:
// its id; `end`: the digest is wanted). A port delivers in order, so a stream's pieces are
// hashed in the order they were sent.
const workerSource = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const buffers = new Map()
const streams = new Map()
parentPort.on('message', ({ id, slot, buffer, offset, length, forget, stream, end }) => {
  if (forget !== undefined) return void buffers.delete(forget)
  if (buffer !== undefined) buffers.set(slot, buffer)
  try {
    if (stream === undefined) {
      const digest = new Uint8Array(createHash('sha256').update(new Uint8Array(buffers.get(slot), offset, length)).digest())
      return void parentPort.postMessage({ id, digest }, [digest.buffer])
    }
    let hash = streams.get(stream)
    if (hash === undefined) streams.set(stream, hash = createHash('sha256'))
    if (slot !== undefined) hash.update(new Uint8Array(buffers.get(slot), offset, length))
    if (!end) return void parentPort.postMessage({ id })
    streams.delete(stream)
    const digest = new Uint8Array(hash.digest())
    parentPort.postMessage({ id, digest }, [digest.buffer])
  } catch (err) {
    if (stream !== undefined) streams.delete(stream)
    parentPort.postMessage({ id, error: String(err && err.message || err) })
  }
})
`

interface Reply { id: number; digest?: Uint8Array; error?: string }

/** SHA-256 over a sequence of pieces, computed off the calling thread (see HashWorker.sha256Stream). */
export interface StreamHash {
  /**
   * Adds `bytes` (copied at once: the caller may reuse them). Resolves at once, or once the
   * thread has caught up when `maxAheadBytes` are waiting for it.
   */
  update(bytes: Uint8Array): Promise<void>
  /** The digest of everything added; the stream is done. */
  digest(): Promise<Uint8Array>
}

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
  /**
   * A SHA-256 of a stream whose pieces are copied into leased buffers of 1 MiB and hashed on
   * the worker thread, so that hashing a plaintext overlaps its encryption. A stream shorter
   * than one buffer, or one begun before the thread is up, is hashed on the calling thread;
   * one announced shorter than a buffer (`expectedBytes`, e.g. an upload's content-length) also
   * leases none (the digest is right whatever the stream's real length).
   */
  sha256Stream(options?: { maxAheadBytes?: number; expectedBytes?: number }): StreamHash
  /** Starts the worker thread now (it takes tens of ms), rather than on the first large hash. */
  start(): void
  /** Stops the worker thread (a later hash starts a new one); safe to call twice. */
  close(): Promise<void>
}

export interface CreateHashWorkerOptions {
  /**
   * Released buffers kept for reuse, per size (default 256; only as many as were ever leased at
   * once). A buffer dropped instead is freed only once both threads collected it, and the worker
   * thread, which allocates little, seldom does: under 64 clients' uploads, 32 left ~460 MiB of
   * dropped 1 MiB buffers alive and an RSS peak of 614–921 MiB, 256 left 146–203 MiB and 461–484 MiB.
   */
  maxIdleBuffers?: number
}

/** Below this size a block is hashed on the calling thread: a round trip to the worker costs more. */
const MIN_OFF_THREAD_BYTES = 64 << 10

/**
 * A HashWorker whose thread starts on the first off-thread hash and holds the process open only
 * while hashes are pending. Until the thread is up (tens of ms), hashes run on the calling thread.
 */
export function createHashWorker({ maxIdleBuffers = 256 }: CreateHashWorkerOptions = {}): HashWorker {
  const pool = createBufferPool(maxIdleBuffers)
  const slots = pool.slots
  /** The slots the current worker has been shown. */
  let shown = new Set<number>()
  let worker: Worker | undefined
  let online = false
  let nextId = 0
  const pending: Pending = new Map()
  let nextStream = 0

  const start = (): Worker => {
    const w = new Worker(workerSource, { eval: true })
    shown = new Set()
    w.once('online', () => {
      if (worker === w) online = true
    })
    w.on('message', settleReply(pending, w))
    const gone = (err: Error): void => {
      if (worker === w) {
        worker = undefined
        online = false
      }
      for (const { reject } of pending.values()) reject(err)
      pending.clear()
    }
    w.on('error', gone)
    w.on('exit', (code) => gone(new Error(`hash worker exited with code ${code}`)))
    // After the listeners: adding a 'message' listener refs the worker's port again.
    w.unref()
    return w
  }

  /** Posts one job to the worker; its reply's digest (none for a stream's piece). */
  const send = (job: { slot?: number; buffer?: SharedArrayBuffer; offset?: number; length?: number; stream?: number; end?: boolean }): Promise<Uint8Array | undefined> => {
    const w = worker
    if (w === undefined || !online) return Promise.reject(new Error('hash worker: not running'))
    const id = nextId++
    const reply = new Promise<Uint8Array | undefined>((resolve, reject) => pending.set(id, { resolve, reject }))
    if (pending.size === 1) w.ref()
    let buffer: SharedArrayBuffer | undefined
    if (job.slot !== undefined && !shown.has(job.slot)) {
      shown.add(job.slot)
      buffer = job.buffer
    }
    w.postMessage({ id, slot: job.slot, buffer, offset: job.offset, length: job.length, stream: job.stream, end: job.end })
    return reply
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
      return (await send({ slot, buffer: buffer as SharedArrayBuffer, offset: bytes.byteOffset, length: bytes.byteLength }))!
    },
    sha256Stream({ maxAheadBytes = 8 * STREAM_PIECE, expectedBytes } = {}) {
      // A stream announced shorter than one piece would be hashed here at the end anyway: no piece leased.
      if (!online || (expectedBytes !== undefined && expectedBytes < STREAM_PIECE)) return localStream()
      return workerStream({ lease: pool.lease, release: (b) => pool.release(b), slotOf: (b) => slots.get(b), send, stream: nextStream++, maxAheadBytes })
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

/** Jobs posted to the worker and not yet answered, by id. */
type Pending = Map<number, { resolve: (digest: Uint8Array | undefined) => void; reject: (err: Error) => void }>

/** Settles the pending job a reply answers; the worker stops holding the process once none is left. */
function settleReply(pending: Pending, w: Worker): (reply: Reply) => void {
  return ({ id, digest, error }) => {
    const job = pending.get(id)
    if (job === undefined) return
    pending.delete(id)
    if (pending.size === 0) w.unref()
    if (error === undefined) job.resolve(digest)
    else job.reject(new Error(`hash worker: ${error}`))
  }
}

/** The size of the pieces a stream hash sends to the worker. */
const STREAM_PIECE = 1 << 20

function localStream(): StreamHash {
  const hash = createHash('sha256')
  return {
    async update(bytes) { hash.update(bytes) },
    async digest() { return new Uint8Array(hash.digest()) },
  }
}

/**
 * A stream hash on the worker: pieces gathered into leased 1 MiB buffers, each sent once full
 * and released once hashed. A stream that never filled one is hashed here at `digest` (a round
 * trip would cost more).
 */
function workerStream({ lease, release, slotOf, send, stream, maxAheadBytes }: {
  lease: HashWorker['lease']
  release: (bytes: Uint8Array) => unknown
  slotOf: (buffer: SharedArrayBuffer) => number | undefined
  send: (job: { slot?: number; buffer?: SharedArrayBuffer; offset?: number; length?: number; stream?: number; end?: boolean }) => Promise<Uint8Array | undefined>
  stream: number
  maxAheadBytes: number
}): StreamHash {
  let piece: Uint8Array | undefined
  let filled = 0
  let sent = 0
  let ahead = 0
  let failure: unknown
  const waiting: Array<Promise<unknown>> = []
  const flush = (): void => {
    const full = piece!.subarray(0, filled)
    const buffer = full.buffer as SharedArrayBuffer
    const done = send({ slot: slotOf(buffer), buffer, offset: full.byteOffset, length: full.byteLength, stream })
    sent++
    ahead += full.byteLength
    const length = full.byteLength
    const settled = done.then(() => { release(full); ahead -= length }, (err: unknown) => { failure ??= err; ahead -= length })
    waiting.push(settled)
    piece = undefined
    filled = 0
  }
  return {
    async update(bytes) {
      if (failure !== undefined) throw failure
      for (let offset = 0; offset < bytes.byteLength;) {
        piece ??= lease(STREAM_PIECE, (bytes.byteOffset + offset) & 7)
        const n = Math.min(STREAM_PIECE - filled, bytes.byteLength - offset)
        piece.set(bytes.subarray(offset, offset + n), filled)
        filled += n
        offset += n
        if (filled === STREAM_PIECE) flush()
      }
      while (ahead > maxAheadBytes && waiting.length > 0) await waiting.shift()
      if (failure !== undefined) throw failure
    },
    async digest() {
      if (sent === 0) {
        const digest = new Uint8Array(createHash('sha256').update(piece?.subarray(0, filled) ?? new Uint8Array(0)).digest())
        if (piece !== undefined) release(piece)
        return digest
      }
      if (filled > 0) flush()
      const digest = await send({ stream, end: true })
      await Promise.all(waiting)
      if (failure !== undefined) throw failure
      return digest!
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
