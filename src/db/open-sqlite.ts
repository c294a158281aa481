import Database from 'better-sqlite3'
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Db } from './db.ts'
import { startCommitThread, type CommitThread, type StatementResult } from './commit-thread.ts'
import { commitGroup, type GroupOutcome, type GroupStatement } from './commit-group.ts'
import { migrations, migrationSql } from './migrations.ts'

/**
 * Opens (creating if needed) an SQLite database in WAL mode with full fsync, and brings its
 * schema up to date. The connection is one, so a transaction holds it: while a transaction's
 * function runs, every other caller's statement waits its turn. Single statements (`run`) that
 * wait for the connection at the same time are group-committed: they run together in one
 * transaction, one `COMMIT` (one fsync of the WAL) for all, and each resolves only after that
 * commit returned, so none is acknowledged before it is durable; one that fails is rejected alone.
 * A group is committed on a thread of its own (commit-thread.ts, a second connection to the same
 * file), so that its fsync does not block the event loop; the main connection still waits for it
 * in the FIFO, so nothing runs on it meanwhile. Until that thread is up, or if it died, the group
 * commits on the main connection.
 */
export async function openSqlite({ path }: { path: string }): Promise<Db> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  // The database holds personal data and keystores: 0600 whatever the umask. SQLite gives its
  // -wal and -shm files the mode of the database file.
  closeSync(openSync(path, 'a', 0o600))
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600)
  const conn = new Database(path)
  conn.pragma('journal_mode = WAL')
  // FULL: a committed journal row survives power loss, not only a crash of the process.
  conn.pragma('synchronous = FULL')
  conn.pragma('busy_timeout = 5000')
  const db = new SqliteDb(conn)
  try {
    // Foreign keys off while migrating (a table rebuild drops a table others reference: SQLite's
    // own procedure), every reference checked before each migration commits, then on again.
    conn.pragma('foreign_keys = OFF')
    const version = conn.pragma('user_version', { simple: true }) as number
    for (let i = version; i < migrations.length; i++) {
      await db.transaction(async () => {
        conn.exec(migrationSql(migrations[i], 'sqlite'))
        if ((conn.pragma('foreign_key_check') as unknown[]).length > 0) throw new Error(`migration ${i + 1} left broken references`)
        conn.pragma(`user_version = ${i + 1}`)
      })
    }
    conn.pragma('foreign_keys = ON')
  } catch (err) {
    conn.close()
    throw err
  }
  db.commitThread = startCommitThread(path)
  return db
}

/** The thread that commits an SQLite database's groups of single statements (tests), else undefined. */
export function commitThreadOf(db: Db): CommitThread | undefined {
  return db instanceof SqliteDb ? db.commitThread : undefined
}

class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const
  readonly #conn: Database.Database
  readonly #statements = new Map<string, Database.Statement>()
  /** Settles when the connection is free; each waiter chains itself behind it (FIFO). */
  #tail: Promise<void> = Promise.resolve()
  readonly #direct: Db
  /** Single statements waiting for the connection together, committed as one (see `run`). */
  #group: GroupedRun[] | undefined
  /** Where groups are committed off the event loop; set once the schema is up to date. */
  commitThread: CommitThread | undefined

  constructor(conn: Database.Database) {
    this.#conn = conn
    this.#direct = new SqliteTx(this, 0)
  }

  statement(sql: string): Database.Statement {
    let s = this.#statements.get(sql)
    if (!s) {
      s = this.#conn.prepare(sql)
      this.#statements.set(sql, s)
    }
    return s
  }

  exec(sql: string): void {
    this.#conn.exec(sql)
  }

  get inTransaction(): boolean {
    return this.#conn.inTransaction
  }

  /** Runs `fn` once every earlier caller is done with the connection (FIFO). */
  async #exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const prev = this.#tail
    let release!: () => void
    this.#tail = new Promise((r) => { release = r })
    try {
      await prev
      return await fn()
    } finally {
      release()
    }
  }

  get<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
    return this.#exclusive(() => this.#direct.get<T>(sql, ...params))
  }

  all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    return this.#exclusive(() => this.#direct.all<T>(sql, ...params))
  }

  /**
   * Joins the group of single statements waiting for the connection, or starts one: the group
   * runs when its turn comes (statements arriving until then join it), in one transaction.
   */
  run(sql: string, ...params: unknown[]): Promise<{ changes: number }> {
    return new Promise((resolve, reject) => {
      if (this.#group) {
        this.#group.push({ sql, params, resolve, reject })
        return
      }
      const group: GroupedRun[] = [{ sql, params, resolve, reject }]
      this.#group = group
      void this.#exclusive(() => {
        // Closed: a statement from now on starts the next group, behind whatever is queued.
        if (this.#group === group) this.#group = undefined
        return this.#commitGroup(group)
      })
    })
  }

  /**
   * Commits a group on the commit thread and settles each statement by its outcome there; on the
   * main connection, through the same `commitGroup`, when the thread is not up, or died before
   * any of the group could be durable. If it died after the group's COMMIT began, each is
   * rejected (not acknowledged: its outcome is unknown).
   */
  async #commitGroup(group: GroupedRun[]): Promise<void> {
    let results: StatementResult[] | undefined
    try {
      results = await this.commitThread?.commit(group.map(({ sql, params }) => ({ sql, params })))
    } catch (err) {
      for (const item of group) item.reject(err)
      return
    }
    const outcomes: GroupOutcome[] = results === undefined
      ? commitGroup(this.#conn, (item) => this.statement(item.sql).run(...item.params).changes, group)
      : results.map((r) => 'changes' in r ? r : { err: new Database.SqliteError(r.error.message, r.error.code ?? 'SQLITE_ERROR') })
    group.forEach((item, i) => {
      const o = outcomes[i]!
      if ('changes' in o) item.resolve({ changes: o.changes })
      else item.reject(o.err)
    })
  }

  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    // Statements after it wait for it: none joins a group queued before it.
    this.#group = undefined
    return this.#exclusive(() => this.#direct.transaction(fn))
  }

  async close(): Promise<void> {
    await this.#exclusive(async () => {
      // The thread's connection first: the main one, closed last, checkpoints the WAL.
      await this.commitThread?.close()
      if (this.#conn.open) this.#conn.close()
    })
  }
}

/** A single statement waiting in a group, and its caller's promise. */
interface GroupedRun extends GroupStatement {
  resolve: (result: { changes: number }) => void
  reject: (err: unknown) => void
}

/** Statements straight on the connection: used by a transaction holding it. */
class SqliteTx implements Db {
  readonly dialect = 'sqlite' as const
  constructor(private readonly db: SqliteDb, private readonly depth: number) {}

  async get<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
    return this.db.statement(sql).get(...params) as T | undefined
  }

  async all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    return this.db.statement(sql).all(...params) as T[]
  }

  async run(sql: string, ...params: unknown[]): Promise<{ changes: number }> {
    return { changes: this.db.statement(sql).run(...params).changes }
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    // The outer transaction takes the write lock at once (IMMEDIATE), as a writer would anyway;
    // a nested one is a savepoint.
    const [begin, commit, rollback] = this.depth === 0
      ? ['BEGIN IMMEDIATE', 'COMMIT', 'ROLLBACK']
      : [`SAVEPOINT sp${this.depth}`, `RELEASE sp${this.depth}`, `ROLLBACK TO sp${this.depth}; RELEASE sp${this.depth}`]
    this.db.exec(begin)
    try {
      const result = await fn(new SqliteTx(this.db, this.depth + 1))
      this.db.exec(commit)
      return result
    } catch (err) {
      if (this.db.inTransaction) this.db.exec(rollback)
      throw err
    }
  }

  async close(): Promise<void> {
    throw new Error('close the database, not a transaction')
  }
}
