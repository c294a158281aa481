import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

// Plain JS, run with `eval`: a worker does not inherit the tsx loader that bin/medledger.js
// registers through its API, so it could not load a .ts file (the same way as the hash worker).
// Its own connection to the database file, with the main connection's pragmas. A group runs as
// `#commitGroup` in open-sqlite.ts did on the main connection: one BEGIN IMMEDIATE / COMMIT, a
// failing statement answered alone, the others run again each alone if a failure ended the
// transaction. `state[0]` is set to 1 before anything of the group can become durable (a COMMIT
// or a statement committed alone), so that a thread that dies mid-group tells the main thread
// whether the group may be run again.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
const state = new Int32Array(workerData.state)
let conn
try {
  conn = new Database(workerData.path)
  conn.pragma('journal_mode = WAL')
  conn.pragma('synchronous = FULL')
  conn.pragma('busy_timeout = 5000')
  conn.pragma('foreign_keys = ON')
} catch (err) {
  parentPort.postMessage({ failed: String(err && err.message || err) })
  throw err
}
const statements = new Map()
const statement = (sql) => {
  let s = statements.get(sql)
  if (!s) statements.set(sql, s = conn.prepare(sql))
  return s
}
// Structured clone turns a Buffer into a plain Uint8Array: a Buffer again over the same bytes.
const bind = (params) => params.map((p) => p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p)
const failure = (err) => ({ error: { message: String(err && err.message || err), code: err && typeof err.code === 'string' ? err.code : undefined } })
const runAlone = (item) => {
  Atomics.store(state, 0, 1)
  try { return { changes: statement(item.sql).run(...bind(item.params)).changes } } catch (err) { return failure(err) }
}
function commitGroup(group) {
  if (group.length === 1) return [runAlone(group[0])]
  const results = new Array(group.length)
  try {
    conn.exec('BEGIN IMMEDIATE')
  } catch {
    return group.map(runAlone)
  }
  for (let i = 0; i < group.length; i++) {
    try {
      results[i] = { changes: statement(group[i].sql).run(...bind(group[i].params)).changes }
    } catch (err) {
      results[i] = failure(err)
      if (!conn.inTransaction) break
    }
  }
  try {
    if (!conn.inTransaction) throw new Error('ended early')
    Atomics.store(state, 0, 1)
    conn.exec('COMMIT')
  } catch {
    if (conn.inTransaction) conn.exec('ROLLBACK')
    return group.map((item, i) => results[i] && results[i].error ? results[i] : runAlone(item))
  }
  return group.map((item, i) => results[i] ?? runAlone(item))
}
parentPort.on('message', ({ id, group, close }) => {
  if (close) {
    conn.close()
    return void parentPort.postMessage({ closed: true })
  }
  parentPort.postMessage({ id, results: commitGroup(group) })
})
parentPort.postMessage({ ready: true })
`

/** One statement of a group, as `run` was called. */
export interface GroupStatement { sql: string; params: unknown[] }

/** A statement's outcome: its changes, or its error's message and SQLite code. */
export type StatementResult = { changes: number } | { error: { message: string; code?: string } }

/**
 * The thread that commits groups of single statements for an SQLite database, on a connection of
 * its own, so that a `COMMIT`'s fsync does not block the event loop.
 */
export interface CommitThread {
  /**
   * Commits `group` on the thread; resolves with each statement's outcome once the group's
   * COMMIT returned. Resolves undefined when the thread is not up (starting, closed, or it died
   * before any of the group could be durable): the caller commits the group itself. Rejects
   * when the thread died after the group's COMMIT began (its outcome unknown).
   * One group at a time: the caller awaits each before it sends the next.
   */
  commit(group: readonly GroupStatement[]): Promise<StatementResult[] | undefined>
  /** Closes the thread's connection and stops it for good. */
  close(): Promise<void>
  /** Stops the thread at once, whatever it is doing, as a crash would (tests); the next group starts another. */
  terminate(): Promise<void>
  /** True while a thread is up and takes groups. */
  readonly up: boolean
}

/** Starts a commit thread on the SQLite database at `path` (already created and migrated). */
export function startCommitThread(path: string): CommitThread {
  const module = createRequire(import.meta.url).resolve('better-sqlite3')
  const state = new Int32Array(new SharedArrayBuffer(4))
  let worker: Worker | undefined
  let ready = false
  let closed = false
  /** A thread that died before it was up is not started again: groups commit on the caller's connection. */
  let failedStart = false
  let pending: { id: number; resolve: (r: StatementResult[] | undefined) => void; reject: (err: Error) => void } | undefined
  let nextId = 0

  const start = (): void => {
    const w = new Worker(workerSource, { eval: true, workerData: { module, path, state: state.buffer } })
    worker = w
    ready = false
    w.on('message', (msg: { ready?: boolean; failed?: string; id?: number; results?: StatementResult[] }) => {
      if (msg.ready === true && worker === w) ready = true
      if (msg.results === undefined || pending === undefined || pending.id !== msg.id) return
      const p = pending
      pending = undefined
      w.unref()
      p.resolve(msg.results)
    })
    const gone = (): void => {
      if (worker !== w) return
      if (!ready) failedStart = true
      worker = undefined
      ready = false
      const p = pending
      pending = undefined
      if (p === undefined) return
      if (Atomics.load(state, 0) === 0) p.resolve(undefined)
      else p.reject(new Error('the SQLite commit thread stopped during a commit: the statement\'s outcome is unknown'))
    }
    w.on('error', gone)
    w.on('exit', gone)
    // After the listeners: adding a 'message' listener refs the worker's port again.
    w.unref()
  }

  start()
  return {
    commit(group) {
      if (closed || failedStart) return Promise.resolve(undefined)
      if (worker === undefined) start()
      const w = worker!
      if (!ready || pending !== undefined) return Promise.resolve(undefined)
      const id = nextId++
      const reply = new Promise<StatementResult[] | undefined>((resolve, reject) => { pending = { id, resolve, reject } })
      Atomics.store(state, 0, 0)
      try {
        w.postMessage({ id, group })
      } catch {
        // A parameter that cannot cross threads: the caller runs the group, and gets its error.
        pending = undefined
        return Promise.resolve(undefined)
      }
      w.ref()
      return reply
    },
    async close() {
      closed = true
      const w = worker
      worker = undefined
      if (w !== undefined) await stopThread(w, ready)
    },
    async terminate() {
      const w = worker
      if (w !== undefined) await w.terminate()
    },
    get up() {
      return worker !== undefined && ready
    },
  }
}

/** Has the thread close its connection (when it is up), then stops it. */
async function stopThread(w: Worker, up: boolean): Promise<void> {
  if (up) {
    const closedReply = new Promise<void>((resolve) => {
      w.on('message', (msg: { closed?: boolean }) => { if (msg.closed === true) resolve() })
      w.once('exit', () => resolve())
    })
    w.ref()
    w.postMessage({ close: true })
    await closedReply
  }
  await w.terminate()
}
