import type { Worker } from 'node:worker_threads'
import { startWorkerThread } from '../../worker-thread.ts'
import { TermExtractor, maxExtractBytes } from './term-extractor.ts'
import { tokenBytes } from './search-key.ts'
import type { ContentTermStream, Services, TermWorkerPart } from '../../services.ts'

/**
 * Most plaintext bytes gathered on the calling thread before they are posted to the thread, in
 * one message (1 MiB): one message for most uploads instead of one per chunk streamed.
 */
export const termBatchBytes = 1024 * 1024

/** A message to the thread (term-worker-thread.ts): a piece of upload `id`'s plaintext, or its end. */
export interface TermJob {
  id: number
  /** The upload's cap (`maxExtractBytes`), sent with its first message. */
  cap?: number
  /** Plaintext in an ArrayBuffer of its own, transferred: its first `bytes` bytes (all of it without `bytes`). */
  chunk?: ArrayBuffer
  bytes?: number
  /** The cap was passed: nothing more comes, and only a DICOM file's head is kept. */
  over?: boolean
  /** The plaintext is complete: the content terms are wanted. */
  end?: boolean
  /** The upload failed: what was collected is dropped. */
  drop?: boolean
  /** A record's index entry is wanted: its terms under the search key (a copy, transferred; zeroed once used). */
  entry?: { key: ArrayBuffer; recordId: string; terms: readonly string[] }
}

/**
 * The thread's answer: to an `end`, the content terms; to an `entry`, the tokens (one after the
 * other, `tokenBytes` each) and the sealed term list; or the name of the error that stopped them.
 */
export interface TermReply {
  id: number
  terms?: string[]
  /** With `terms`: the upload's `termBatchBytes` buffers, zeroed, transferred back for the next uploads. */
  spare?: ArrayBuffer[]
  tokens?: ArrayBuffer
  sealed?: string
  error?: string
}

/** The term worker: the node's thread that extracts uploads' content terms off the main thread. */
export interface TermWorker extends TermWorkerPart {
  /** As TermWorkerPart's; `timeoutMs` overrides the worker's for this upload. */
  begin(p: { recordId: string; cap?: number; timeoutMs?: number }): ContentTermStream
  indexEntry(p: { key: Uint8Array; recordId: string; terms: readonly string[] }): Promise<{ tokens: Buffer[]; sealed: string } | undefined>
  /** Starts the thread now (a `new Worker`, tens of ms compiled, ~0.3 s through tsx), rather than on the next upload. */
  start(): void
  /** Stops the thread for good (until `start`): uploads then extract on the calling thread. Safe to call twice. */
  close(): Promise<void>
  /** The thread's id while it is up and answering, else undefined. */
  readonly threadId: number | undefined
}

export interface CreateTermWorkerOptions {
  log: Services['log']
  /**
   * Longest wait for an upload's terms after its plaintext ended (default 10 s): then the upload
   * is indexed by its file name and tags only, and the thread, busy with a hostile or pathological
   * file, is terminated and started again.
   */
  timeoutMs?: number
}

/** One thread's state: its uploads awaiting terms, by id. */
interface Thread {
  worker: Worker
  online: boolean
  gone: boolean
  pending: Map<number, (reply: TermReply) => void>
  /**
   * Empty `termBatchBytes` buffers the thread gave back (two at most): reused, their pages are
   * already mapped, where a fresh one costs a page fault per 4 KiB written on the upload's thread
   * (0.41 against 0.06 ms of that thread for a 453 KiB bundle, measured).
   */
  spare: ArrayBuffer[]
  /** Takes the thread out of use at once: its pending uploads are answered `why`. */
  stop(why: string): void
}

/**
 * The term worker. Each upload's plaintext is copied, as it streams, into buffers of its own of
 * `termBatchBytes`, each transferred to the thread once full and the last at the stream's end (a
 * Buffer view of the caller's is never posted: that would clone its whole backing store), so
 * parsing runs while the main thread seals, stores and pins. Until the
 * thread is up, or once `close`d, an upload extracts on the calling thread instead. When the
 * thread crashes or times out, the uploads it held are indexed by file name and tags only (a
 * warning names the record and the reason, never a term), and a thread that had come up is
 * started again at once (one that never did, on the next upload).
 */
export function createTermWorker({ log, timeoutMs = 10_000 }: CreateTermWorkerOptions): TermWorker {
  let thread: Thread | undefined
  let closed = false
  let nextId = 0

  const spawn = (): Thread => spawnThread((t, why, wasOnline) => {
    if (thread !== t) return
    thread = undefined
    if (closed) return
    log('warn', `search: the term worker stopped (${why})${wasOnline ? '; started again' : ''}`)
    if (wasOnline) thread = spawn()
  })

  return {
    begin({ recordId, cap = maxExtractBytes, timeoutMs: wait = timeoutMs }) {
      const t = thread ?? (closed ? undefined : (thread = spawn()))
      if (t !== undefined && t.online) return threadStream(t, { id: nextId++, recordId, cap, timeoutMs: wait, log })
      log('warn', `record ${recordId}: the term worker is not running; terms extracted on the calling thread`)
      return onCallingThread({ cap, recordId, log })
    },
    start() {
      closed = false
      thread ??= spawn()
    },
    async close() {
      closed = true
      const t = thread
      thread = undefined
      if (t !== undefined) {
        t.stop('the term worker was closed')
        await t.worker.terminate()
      }
    },
    async indexEntry({ key, recordId, terms }) {
      const t = thread
      if (t === undefined || !t.online) return undefined
      const copy = new Uint8Array(key)
      const reply = await askThread(t, { id: nextId++, entry: { key: copy.buffer, recordId, terms } }, timeoutMs, [copy.buffer])
      if (reply.tokens === undefined || reply.sealed === undefined) {
        log('warn', `record ${recordId}: index entry made on the calling thread (${reply.error})`)
        return undefined
      }
      const tokens = reply.tokens
      return { tokens: Array.from({ length: tokens.byteLength / tokenBytes }, (_, i) => Buffer.from(tokens, i * tokenBytes, tokenBytes)), sealed: reply.sealed }
    },
    get threadId() {
      return thread?.online ? thread.worker.threadId : undefined
    },
  }
}

/** A new thread; `gone` is told once when it crashes, exits or is stopped, after its pending uploads were answered. */
function spawnThread(gone: (t: Thread, why: string, wasOnline: boolean) => void): Thread {
  const worker = startWorkerThread(import.meta.url, 'term-worker-thread')
  const t: Thread = {
    worker,
    online: false,
    gone: false,
    pending: new Map(),
    spare: [],
    stop(why) {
      if (t.gone) return
      t.gone = true
      const wasOnline = t.online
      t.online = false
      for (const settle of t.pending.values()) settle({ id: -1, error: why })
      t.pending.clear()
      gone(t, why, wasOnline)
    },
  }
  worker.once('online', () => { t.online = true })
  worker.on('message', (reply: TermReply) => {
    const settle = t.pending.get(reply.id)
    if (settle === undefined) return
    t.pending.delete(reply.id)
    if (t.pending.size === 0) worker.unref()
    settle(reply)
  })
  worker.on('error', (err: Error & { code?: string }) => t.stop(`${err.name}${err.code ? ` ${err.code}` : ''}`))
  worker.on('exit', (code) => t.stop(`exit code ${code}`))
  // After the listeners: adding a 'message' listener refs the worker's port again.
  worker.unref()
  return t
}

/** Sends `job` (an upload's `end`, or an `entry`) to thread `t` and waits `timeoutMs` at most for its answer: then the thread, busy with it (or stuck), is stopped and terminated. */
function askThread(t: Thread, job: TermJob, timeoutMs: number, transfer: ArrayBuffer[] = []): Promise<TermReply> {
  const { id } = job
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      t.pending.delete(id)
      resolve({ id, error: `no answer within ${timeoutMs} ms` })
      t.stop(`no answer within ${timeoutMs} ms: terminated`)
      void t.worker.terminate()
    }, timeoutMs)
    t.pending.set(id, (reply) => { clearTimeout(timer); resolve(reply) })
    if (t.pending.size === 1) t.worker.ref()
    t.worker.postMessage(job, transfer)
  })
}

/** Upload `id`'s extraction on thread `t`. */
function threadStream(t: Thread, { id, recordId, cap, timeoutMs, log }: { id: number; recordId: string; cap: number; timeoutMs: number; log: Services['log'] }): ContentTermStream {
  let held = 0
  let first = true
  let stopped = false
  /** Plaintext copied and not yet posted: its first `used` bytes (uninitialized past them, never read there). */
  let batch: Buffer | undefined
  let used = 0
  const post = (job: TermJob, transfer: ArrayBuffer[] = []): void => {
    if (t.gone) return
    if (first) job.cap = cap
    first = false
    t.worker.postMessage(job, transfer)
  }
  const flush = (): void => {
    if (batch === undefined || used === 0) return
    // allocUnsafeSlow's Buffer has an ArrayBuffer of its own, never a SharedArrayBuffer.
    const buffer = batch.buffer as ArrayBuffer
    const bytes = used
    batch = undefined
    used = 0
    post({ id, chunk: buffer, bytes }, [buffer])
  }
  return {
    push(chunk) {
      if (stopped || t.gone) return
      if (held + chunk.byteLength > cap) {
        stopped = true
        flush()
        if (held > 0) post({ id, over: true })
        return
      }
      held += chunk.byteLength
      for (let at = 0; at < chunk.byteLength;) {
        // An ArrayBuffer of its own (allocUnsafeSlow: not from Buffer's shared pool), so it can be transferred.
        batch ??= cap >= termBatchBytes && t.spare.length > 0 ? Buffer.from(t.spare.pop()!) : Buffer.allocUnsafeSlow(Math.min(termBatchBytes, cap))
        const n = Math.min(chunk.byteLength - at, batch.byteLength - used)
        batch.set(chunk.subarray(at, at + n), used)
        used += n
        at += n
        if (used === batch.byteLength) flush()
      }
    },
    async end() {
      if (held === 0) return new Set<string>()
      flush()
      const reply: TermReply = t.gone ? { id, error: 'the term worker stopped' } : await askThread(t, { id, end: true }, timeoutMs)
      for (const b of reply.spare ?? []) if (t.spare.length < 2 && b.byteLength === termBatchBytes) t.spare.push(b)
      if (reply.terms !== undefined) return new Set(reply.terms)
      log('warn', `record ${recordId}: content terms not extracted (${reply.error}); indexed by file name and tags only`)
      return new Set()
    },
    discard() {
      batch = undefined
      used = 0
      if (!first) post({ id, drop: true })
      held = 0
      stopped = true
    },
  }
}

/**
 * An upload's extraction on the calling thread (no term worker, or it is down or not up yet).
 * Its `end` never rejects either: a failure is logged (when given `log`) without any term.
 */
export function onCallingThread({ cap = maxExtractBytes, recordId, log }: { cap?: number; recordId?: string; log?: Services['log'] } = {}): ContentTermStream {
  const x = new TermExtractor(cap)
  return {
    push: (chunk) => x.push(chunk),
    async end() {
      try {
        return x.contentTerms()
      } catch (err) {
        log?.('warn', `record ${recordId}: content terms not extracted (${(err as Error).name}); indexed by file name and tags only`)
        return new Set<string>()
      }
    },
    discard: () => x.discard(),
  }
}
