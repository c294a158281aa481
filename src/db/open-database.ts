import type { Db } from './db.ts'
import { openSqlite } from './open-sqlite.ts'
import { openPostgres } from './open-postgres.ts'

export type { Db } from './db.ts'
export { isUniqueViolation } from './db.ts'

export interface OpenDatabaseParams {
  /** `postgres://…` or `postgresql://…` for PostgreSQL; `sqlite:PATH` or a bare file path for SQLite. */
  url: string
}

/**
 * Opens the node's database, SQLite or PostgreSQL by the form of `url`, and brings its schema
 * up to date.
 * @throws Error when it cannot be opened or migrated; the message never holds a password.
 */
export async function openDatabase({ url }: OpenDatabaseParams): Promise<Db> {
  if (!isPostgresUrl(url)) return openSqlite({ path: url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url })
  try {
    return await openPostgres({ url })
  } catch (err) {
    const e = err as Error
    const secret = passwordOf(url)
    if (secret && e?.message?.includes(secret)) e.message = e.message.split(secret).join('***')
    if (e && typeof e === 'object' && e.message !== undefined) e.message = `database ${redactDbUrl(url)}: ${e.message}`
    throw err
  }
}

/** True for the URLs that select PostgreSQL. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url)
}

/** `url` with its password replaced by `***`, for logs and status output. */
export function redactDbUrl(url: string): string {
  if (!isPostgresUrl(url)) return url
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    if (u.searchParams.has('password')) u.searchParams.set('password', '***')
    return u.toString()
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@')
  }
}

function passwordOf(url: string): string | undefined {
  try {
    const u = new URL(url)
    return decodeURIComponent(u.password) || u.searchParams.get('password') || undefined
  } catch {
    return undefined
  }
}

/** Reads one value of the node's key-value metadata. */
export async function getMeta(db: Pick<Db, 'get'>, key: string): Promise<string | undefined> {
  const row = await db.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', key)
  return row?.value
}

/** Writes one value of the node's key-value metadata. */
export async function setMeta(db: Pick<Db, 'run'>, key: string, value: string): Promise<void> {
  await db.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value', key, value)
}
