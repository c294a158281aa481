import type Database from 'better-sqlite3'

/** One statement of a group, as `run` was called. */
export interface GroupStatement { sql: string; params: unknown[] }

/** A statement's outcome in its group: its changes, or what it threw. */
export type GroupOutcome = { changes: number } | { err: unknown }

/**
 * Runs a group's statements in one transaction on `conn` (one BEGIN IMMEDIATE / COMMIT) and
 * answers each statement's outcome once it is committed. A statement that fails is answered
 * alone (SQLite backs out that statement only); if a failure ended the whole transaction, or the
 * COMMIT failed, the others are run again, each alone. `run` runs one statement and returns its
 * changes. `beforeDurable` is called before anything of the group can become durable (the COMMIT,
 * or a statement run alone): the commit thread marks there that the group may no longer be run
 * again elsewhere. Used by the main connection (open-sqlite.ts) and the commit thread alike.
 */
export function commitGroup(
  conn: Pick<Database.Database, 'exec' | 'inTransaction'>,
  run: (statement: GroupStatement) => number,
  group: readonly GroupStatement[],
  beforeDurable: () => void = () => {},
): GroupOutcome[] {
  const alone = (statement: GroupStatement): GroupOutcome => {
    beforeDurable()
    try {
      return { changes: run(statement) }
    } catch (err) {
      return { err }
    }
  }
  if (group.length === 1) return [alone(group[0]!)]
  try {
    conn.exec('BEGIN IMMEDIATE')
  } catch {
    return group.map(alone)
  }
  const outcomes: (GroupOutcome | undefined)[] = new Array(group.length)
  for (let i = 0; i < group.length; i++) {
    try {
      outcomes[i] = { changes: run(group[i]!) }
    } catch (err) {
      outcomes[i] = { err }
      if (!conn.inTransaction) break
    }
  }
  try {
    if (!conn.inTransaction) throw new Error('the group\'s transaction ended early')
    beforeDurable()
    conn.exec('COMMIT')
  } catch {
    if (conn.inTransaction) conn.exec('ROLLBACK')
    return group.map((statement, i) => {
      const o = outcomes[i]
      return o !== undefined && 'err' in o ? o : alone(statement)
    })
  }
  return group.map((statement, i) => outcomes[i] ?? alone(statement))
}
