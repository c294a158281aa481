/**
 * The node's database, as every domain module sees it: SQLite (embedded, the default) or
 * PostgreSQL (`--db postgres://…`, for a hospital running several API processes). Both speak the
 * same SQL subset: `?` placeholders, `ON CONFLICT … DO UPDATE`, no dialect-specific functions.
 * Binary columns come back as `Buffer`, integer columns as `number`.
 */
export interface Db {
  readonly dialect: 'sqlite' | 'postgres'
  /** The first row of `sql`, or undefined. */
  get<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T | undefined>
  /** Every row of `sql`. */
  all<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>
  /** Runs a statement; `changes` is the number of rows it inserted, updated or deleted. */
  run(sql: string, ...params: unknown[]): Promise<{ changes: number }>
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws.
   * Statements inside must go through the `tx` it is given.
   */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>
  /** Closes the connection(s); safe to call twice. */
  close(): Promise<void>
}

/** True when `err` is a unique-constraint violation (either dialect), optionally on `column`. */
export function isUniqueViolation(err: unknown, column?: string): boolean {
  const e = err as { code?: string; message?: string; detail?: string; constraint?: string }
  const text = `${e?.message ?? ''} ${e?.detail ?? ''} ${e?.constraint ?? ''}`
  const unique = e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || text.includes('UNIQUE constraint failed')
  return unique && (column === undefined || text.includes(column))
}
