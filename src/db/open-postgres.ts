import pg from 'pg'
import type { Db } from './db.ts'
import { migrations, migrationSql } from './migrations.ts'
import { AppError } from '../errors.ts'

/** Any fixed number: the advisory lock every node process takes while it migrates. */
const MIGRATION_LOCK = 7_246_001
/** Serializes transactions across processes, as SQLite's single writer does. */
const TRANSACTION_LOCK = 7_246_002

// int8 (counts, millisecond timestamps) and numeric (sums) as JS numbers: every value this
// schema holds is below 2^53.
const toNumber = (v: string) => Number(v)
const typeParsers: Record<number, (v: string) => unknown> = { 20: toNumber, 1700: toNumber }
const types = {
  getTypeParser: ((oid: number, format?: string) => typeParsers[oid] ?? pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
}

/**
 * Connects a pool to the PostgreSQL database at `url` and brings its schema up to date,
 * under an advisory lock so that processes starting together migrate one after the other.
 * @throws Error when the server cannot be reached or a migration fails; the pool is closed.
 */
export async function openPostgres({ url }: { url: string }): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, types, max: 10 })
  // An idle client losing its server must not bring the node down; the next query reports it.
  pool.on('error', () => {})
  try {
    const client = await pool.connect()
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
      try {
        await client.query('CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)')
        for (let i = 0; i < migrations.length; i++) {
          await client.query('BEGIN')
          try {
            const row = (await client.query<{ version: number }>('SELECT version FROM schema_version')).rows[0]
            const version = row?.version ?? 0
            if (version <= i) {
              await client.query(migrationSql(migrations[i], 'postgres'))
              if (row) await client.query('UPDATE schema_version SET version = $1', [i + 1])
              else await client.query('INSERT INTO schema_version (version) VALUES ($1)', [i + 1])
            }
            await client.query('COMMIT')
          } catch (err) {
            await client.query('ROLLBACK')
            throw err
          }
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
      }
    } finally {
      client.release()
    }
  } catch (err) {
    await pool.end()
    throw mapError(err)
  }
  return new PostgresDb(pool)
}

type Queryable = Pick<pg.Pool, 'query'>

class PostgresDb implements Db {
  readonly dialect = 'postgres' as const
  #ended = false
  constructor(protected readonly pool: pg.Pool, private readonly client?: pg.PoolClient, private readonly depth = 0) {}

  get on(): Queryable {
    return this.client ?? this.pool
  }

  async #query(sql: string, params: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.on.query(placeholders(sql), params)
    } catch (err) {
      throw mapError(err)
    }
  }

  async get<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
    return (await this.#query(sql, params)).rows[0] as T | undefined
  }

  async all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    return (await this.#query(sql, params)).rows as T[]
  }

  async run(sql: string, ...params: unknown[]): Promise<{ changes: number }> {
    return { changes: (await this.#query(sql, params)).rowCount ?? 0 }
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    if (this.client) {
      // Nested: a savepoint on the same connection.
      const sp = `sp${this.depth}`
      await this.client.query(`SAVEPOINT ${sp}`)
      try {
        const result = await fn(new PostgresDb(this.pool, this.client, this.depth + 1))
        await this.client.query(`RELEASE ${sp}`)
        return result
      } catch (err) {
        await this.client.query(`ROLLBACK TO ${sp}`)
        throw err
      }
    }
    const client = await this.pool.connect()
    let broken = false
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock($1)', [TRANSACTION_LOCK])
      try {
        const result = await fn(new PostgresDb(this.pool, client, 1))
        await client.query('COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch(() => { broken = true })
        throw mapError(err)
      }
    } finally {
      client.release(broken)
    }
  }

  async close(): Promise<void> {
    if (this.client) throw new Error('close the database, not a transaction')
    if (this.#ended) return
    this.#ended = true
    await this.pool.end()
  }
}

const rewritten = new Map<string, string>()

/**
 * `?` placeholders as Postgres's `$1…$n`. A `?` inside a quoted literal or identifier is left
 * alone (none of our statements has one, but a stray one must not shift the numbering).
 */
function placeholders(sql: string): string {
  let out = rewritten.get(sql)
  if (out !== undefined) return out
  out = ''
  let n = 0
  let quote: string | undefined
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = undefined
    } else if (ch === "'" || ch === '"') {
      quote = ch
    } else if (ch === '?') {
      out += `$${++n}`
      continue
    }
    out += ch
  }
  rewritten.set(sql, out)
  return out
}

/**
 * A text Postgres cannot encode is VALIDATION_FAILED. A unique violation also says
 * `UNIQUE constraint failed: table.column`, as SQLite does, so
 * `isUniqueViolation(err, 'accounts.email')` reads the same on both.
 */
function mapError(err: unknown): unknown {
  const e = err as pg.DatabaseError
  // A text PostgreSQL cannot hold (a NUL character, which SQLite takes): bad input, not a fault.
  if (e instanceof Error && (e.code === '22021' || e.code === '22P05')) {
    return new AppError('VALIDATION_FAILED', { cause: err, message: 'A text in the request holds a character that cannot be stored (such as U+0000).' })
  }
  if (e instanceof Error && e.code === '23505' && !e.message.includes('UNIQUE constraint failed')) {
    const columns = /^Key \((.+?)\)=/.exec(e.detail ?? '')?.[1].split(', ') ?? []
    e.message += ` (UNIQUE constraint failed: ${columns.map((c) => `${e.table}.${c}`).join(', ')})`
  }
  return err
}
