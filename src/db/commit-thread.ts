import type { Worker } from 'node:worker_threads'
import { startWorkerThread } from '../worker-thread.ts'
import type { GroupStatement } from './commit-group.ts'

/** A statement's outcome: its changes, or its error's message and SQLite code. */
export type StatementResult = { changes: number } | { error: { message: string; code?: string } }

/** What the thread is sent: a group to commit, or to close its connection. */
export type CommitJob = { id: number; group: readonly GroupStatement[]; close?: undefined } | { close: true; id?: undefined; group?: undefined }

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

/**
 * Starts a commit thread on the SQLite database at `path` (already created and migrated). The
 * thread (commit-thread-worker.ts) runs each group through the same `commitGroup` (commit-group.ts)
 * as the main connection does when the thread is not up.
 */
export function startCommitThread(path: string): CommitThread {
  const state = new Int32Array(new SharedArrayBuffer(4))
  let worker: Worker | undefined
  let ready = false
  let closed = false
  /** A thread that died before it was up is not started again: groups commit on the caller's connection. */
  let failedStart = false
  let pending: { id: number; resolve: (r: StatementResult[] | undefined) => void; reject: (err: Error) => void } | undefined
  let nextId = 0

  const start = (): void => {
    const w = startWorkerThread(import.meta.url, 'commit-thread-worker', { workerData: { path, state: state.buffer } })
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
