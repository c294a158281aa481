// The SQLite commit thread (started by commit-thread.ts; not imported by anything else). Its own
// connection to the database file, with the main connection's pragmas; a group runs through the
// same commitGroup as on the main connection. `state[0]` is set to 1 before anything of the group
// can become durable, so that a thread that dies mid-group tells the main thread whether the
// group may be run again.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { commitGroup, type GroupOutcome } from './commit-group.ts'
import type { CommitJob, StatementResult } from './commit-thread.ts'

const port = parentPort!
const { path, state: stateBuffer } = workerData as { path: string; state: SharedArrayBuffer }
const state = new Int32Array(stateBuffer)
let conn: Database.Database
try {
  conn = new Database(path)
  conn.pragma('journal_mode = WAL')
  conn.pragma('synchronous = FULL')
  conn.pragma('busy_timeout = 5000')
  conn.pragma('foreign_keys = ON')
} catch (err) {
  port.postMessage({ failed: String((err as Error)?.message || err) })
  throw err
}
const statements = new Map<string, Database.Statement>()
const statement = (sql: string): Database.Statement => {
  let s = statements.get(sql)
  if (!s) statements.set(sql, s = conn.prepare(sql))
  return s
}
// Structured clone turns a Buffer into a plain Uint8Array: a Buffer again over the same bytes.
const bind = (params: unknown[]): unknown[] => params.map((p) => p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p)
const result = (o: GroupOutcome): StatementResult => {
  if ('changes' in o) return o
  const err = o.err as { message?: unknown; code?: unknown } | undefined
  return { error: { message: String(err?.message || err), code: typeof err?.code === 'string' ? err.code : undefined } }
}

port.on('message', ({ id, group, close }: CommitJob) => {
  if (close) {
    conn.close()
    return void port.postMessage({ closed: true })
  }
  const outcomes = commitGroup(conn, (s) => statement(s.sql).run(...bind(s.params)).changes, group, () => Atomics.store(state, 0, 1))
  port.postMessage({ id, results: outcomes.map(result) })
})
port.postMessage({ ready: true })
