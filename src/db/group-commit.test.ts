import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { isUniqueViolation, openDatabase } from './open-database.ts'
import { commitThreadOf } from './open-sqlite.ts'
import type { Db } from './db.ts'
import { cleanup, tempDir } from '../../test/helpers/node-process.ts'

const dirs: string[] = []
after(() => cleanup(...dirs))
const newPath = () => join(dirs[dirs.push(tempDir('ml-group-')) - 1], 'medledger.db')

/**
 * Frames written to the WAL since the last call (SQLite's own count, through a second
 * connection): each call checkpoints everything and truncates the WAL to nothing.
 */
function walFramesSinceLast(path: string): number {
  const probe = new Database(path)
  try {
    const [row] = probe.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number }[]
    const [reset] = probe.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[]
    assert.equal(reset!.busy, 0, 'the checkpoint was not blocked')
    return row!.log
  } finally {
    probe.close()
  }
}

/** Waits (at most 30 s) until the database's commit thread is up, so that groups commit there. */
async function untilThreadUp(db: Db): Promise<void> {
  const thread = commitThreadOf(db)
  assert.ok(thread, 'an SQLite database has a commit thread')
  for (let i = 0; i < 3000 && !thread.up; i++) await new Promise((r) => setTimeout(r, 10))
  assert.ok(thread.up, 'the commit thread came up')
}

const meta = (key: string) => ['INSERT INTO meta (key, value) VALUES (?, ?)', key, `value of ${key}`] as const

describe('SQLite: single statements waiting together are group-committed', () => {
  it('commits 64 statements sent at once in far fewer WAL commits than 64, each acknowledged and kept', async () => {
    const path = newPath()
    const db = await openDatabase({ url: path })
    try {
      await db.run(...meta('warm'))
      walFramesSinceLast(path)
      const results = await Promise.all(Array.from({ length: 64 }, (_, i) => db.run(...meta(`k${i}`))))
      assert.deepEqual(results.map((r) => r.changes), Array(64).fill(1))
      // One commit writes at least one frame for each page it changed: 64 lone commits write 64 or
      // more frames; the group (a few pages of `meta`, all its rows in one commit) writes a few.
      const frames = walFramesSinceLast(path)
      assert.ok(frames < 16, `64 statements took ${frames} WAL frames`)
    } finally {
      await db.close()
    }
    const again = await openDatabase({ url: path })
    try {
      assert.equal((await again.all('SELECT key FROM meta WHERE key LIKE ?', 'k%')).length, 64)
    } finally {
      await again.close()
    }
  })

  it('rejects a failing statement alone; the others of its group commit', async () => {
    const db = await openDatabase({ url: newPath() })
    try {
      await db.run(...meta('taken'))
      const settled = await Promise.allSettled([db.run(...meta('a')), db.run(...meta('taken')), db.run(...meta('b')), db.run('UPDATE meta SET value = ? WHERE key = ?', 'changed', 'taken')])
      assert.equal(settled[0]!.status, 'fulfilled')
      assert.equal(settled[1]!.status, 'rejected')
      assert.ok(isUniqueViolation((settled[1] as PromiseRejectedResult).reason))
      assert.equal(settled[2]!.status, 'fulfilled')
      assert.deepEqual((settled[3] as PromiseFulfilledResult<{ changes: number }>).value, { changes: 1 })
      assert.deepEqual((await db.all<{ key: string; value: string }>('SELECT key, value FROM meta WHERE key IN (?, ?, ?) ORDER BY key', 'a', 'b', 'taken')).map((r) => `${r.key}=${r.value}`),
        ['a=value of a', 'b=value of b', 'taken=changed'])
    } finally {
      await db.close()
    }
  })

  it('keeps order around a transaction: a statement sent after it runs after it', async () => {
    const db = await openDatabase({ url: newPath() })
    try {
      const first = db.run(...meta('order'))
      const tx = db.transaction(async (t) => { await t.run('UPDATE meta SET value = ? WHERE key = ?', 'by the transaction', 'order') })
      const last = db.run('UPDATE meta SET value = ? WHERE key = ?', 'after the transaction', 'order')
      await Promise.all([first, tx, last])
      assert.equal((await db.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', 'order'))!.value, 'after the transaction')
    } finally {
      await db.close()
    }
  })

  it('loses no acknowledged statement when the process is killed -9 mid-stream', { timeout: 120_000 }, async () => {
    const path = newPath()
    await (await openDatabase({ url: path })).close()
    // A writer process: 32 writers, each inserting row after row and printing each key once its
    // promise resolved (acknowledged). Killed -9 once 300 are acknowledged, whatever it is doing.
    const script = `
      const { openDatabase } = await import(${JSON.stringify(fileURLToPath(new URL('./open-database.ts', import.meta.url)))})
      const db = await openDatabase({ url: ${JSON.stringify(path)} })
      await Promise.all(Array.from({ length: 32 }, async (_, w) => {
        for (let i = 0; ; i++) {
          await db.run('INSERT INTO meta (key, value) VALUES (?, ?)', 'w' + w + '-' + i, 'x'.repeat(200))
          process.stdout.write('w' + w + '-' + i + '\\n')
        }
      }))`
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    const acknowledged: string[] = []
    let out = ''
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8')
        const lines = out.split('\n')
        out = lines.pop()!
        acknowledged.push(...lines)
        if (acknowledged.length >= 300 && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      })
      child.once('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`writer exited with ${code}`))))
    })
    const db = await openDatabase({ url: path })
    try {
      const kept = new Set((await db.all<{ key: string }>(`SELECT key FROM meta WHERE key LIKE 'w%'`)).map((r) => r.key))
      const lost = acknowledged.filter((k) => !kept.has(k))
      assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged rows lost`)
      assert.ok(acknowledged.length >= 300)
    } finally {
      await db.close()
    }
  })

  it('commits on its thread: a read queued after a group sees it, and reads between groups see each', async () => {
    const db = await openDatabase({ url: newPath() })
    try {
      await untilThreadUp(db)
      for (let round = 0; round < 5; round++) {
        const writes = Array.from({ length: 8 }, (_, i) => db.run(...meta(`r${round}-${i}`)))
        const read = db.all<{ key: string }>('SELECT key FROM meta WHERE key LIKE ?', `r${round}-%`)
        await Promise.all(writes)
        assert.equal((await read).length, 8, `round ${round}: the read after the group saw it`)
        // The main connection keeps no snapshot between turns: a later update is seen too.
        await db.run('UPDATE meta SET value = ? WHERE key = ?', `round ${round}`, `r${round}-0`)
        assert.equal((await db.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', `r${round}-0`))!.value, `round ${round}`)
      }
      assert.ok(commitThreadOf(db)!.up)
    } finally {
      await db.close()
    }
  })

  it('on its thread, rejects a failing statement alone with its SQLite code; a Buffer parameter stays a Buffer', async () => {
    const db = await openDatabase({ url: newPath() })
    try {
      await untilThreadUp(db)
      await db.run(...meta('taken'))
      const settled = await Promise.allSettled([db.run(...meta('a')), db.run(...meta('taken')), db.run(...meta('b'))])
      assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled'])
      const err = (settled[1] as PromiseRejectedResult).reason as { code?: string }
      assert.ok(err instanceof Database.SqliteError)
      assert.match(err.code ?? '', /^SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)$/)
      assert.ok(isUniqueViolation(err))
      assert.deepEqual((await db.all<{ key: string }>('SELECT key FROM meta WHERE key IN (?, ?) ORDER BY key', 'a', 'b')).map((r) => r.key), ['a', 'b'])
      const bytes = Buffer.from([0, 1, 2, 254, 255])
      await Promise.all([db.run('INSERT INTO meta (key, value) VALUES (?, ?)', 'blob', bytes), db.run(...meta('c'))])
      const row = await db.get<{ value: unknown }>('SELECT value FROM meta WHERE key = ?', 'blob')
      assert.ok(Buffer.isBuffer(row!.value) && row!.value.equals(bytes), 'stored as a blob of the same bytes')
    } finally {
      await db.close()
    }
  })

  it('keeps committing when its thread dies mid-life, and loses no acknowledged statement', { timeout: 120_000 }, async () => {
    const path = newPath()
    const db = await openDatabase({ url: path })
    const acknowledged: string[] = []
    const unknown: string[] = []
    let stop = false
    try {
      await untilThreadUp(db)
      let killed: Promise<void> | undefined
      let ackedAtKill = 0
      await Promise.all(Array.from({ length: 32 }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const key = `w${w}-${i}`
          try {
            await db.run('INSERT INTO meta (key, value) VALUES (?, ?)', key, 'x'.repeat(200))
            acknowledged.push(key)
          } catch (err) {
            // Only a group whose COMMIT had begun when the thread died may be refused, as unknown.
            assert.match((err as Error).message, /outcome is unknown/)
            unknown.push(key)
          }
          if (acknowledged.length >= 150 && killed === undefined) {
            ackedAtKill = acknowledged.length
            killed = commitThreadOf(db)!.terminate()
          }
          if (acknowledged.length >= ackedAtKill + 300 && killed !== undefined) stop = true
        }
      }))
      await killed
      assert.ok(acknowledged.length >= ackedAtKill + 300, 'statements kept being acknowledged after the thread died')
      assert.ok(unknown.length <= 32, `${unknown.length} refused`)
      // The thread is started again by a later group.
      await db.run(...meta('after'))
      await untilThreadUp(db)
      await db.run(...meta('after again'))
    } finally {
      await db.close()
    }
    const again = await openDatabase({ url: path })
    try {
      const kept = new Set((await again.all<{ key: string }>(`SELECT key FROM meta WHERE key LIKE 'w%' OR key LIKE 'after%'`)).map((r) => r.key))
      const lost = acknowledged.filter((k) => !kept.has(k))
      assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged rows lost`)
      assert.ok(kept.has('after') && kept.has('after again'))
    } finally {
      await again.close()
    }
  })
})
