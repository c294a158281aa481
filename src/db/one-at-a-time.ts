import type { Db } from './open-database.ts'

// The queues of one node, found by its database handle: two nodes in one process share none.
const queuesByDb = new WeakMap<Db, Map<string, Promise<unknown>>>()

/**
 * Runs `fn` after every earlier `fn` of the same `key` on this node (this database handle) has
 * finished, whether it succeeded or not: changes to one thing (a care team, a patient's search
 * key) run one at a time. Another process acting at the same moment is not covered: callers catch
 * that by what the database holds.
 */
export async function oneAtATime<T>(db: Db, key: string, fn: () => Promise<T>): Promise<T> {
  let queues = queuesByDb.get(db)
  if (!queues) queuesByDb.set(db, queues = new Map())
  return inTurn(queues, key, fn)
}

/** Runs `fn` after every earlier `fn` of the same `key` in `queues` has finished, whether it succeeded or not. */
export async function inTurn<T>(queues: Map<string, Promise<unknown>>, key: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve()
  const run = previous.then(fn, fn)
  const settled = run.then(() => undefined, () => undefined)
  queues.set(key, settled)
  try {
    return await run
  } finally {
    if (queues.get(key) === settled) queues.delete(key)
  }
}
