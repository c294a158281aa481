import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { openDatabase } from '../db/open-database.ts'
import { createRide } from './audit-log.ts'
import { cleanup, tempDir } from '../../test/helpers/node-process.ts'

const dirs: string[] = []
after(() => cleanup(...dirs))
const newPath = () => join(dirs[dirs.push(tempDir('ml-ride-')) - 1], 'medledger.db')

/** Frames written to the WAL since the last call (SQLite's count through a second connection; each call checkpoints and truncates). */
function walFramesSinceLast(path: string): number {
  const probe = new Database(path)
  try {
    const [row] = probe.pragma('wal_checkpoint(PASSIVE)') as { log: number }[]
    probe.pragma('wal_checkpoint(TRUNCATE)')
    return row!.log
  } finally {
    probe.close()
  }
}

/** The value of `key` in `meta` as a second connection sees it (committed or not there). */
function committed(path: string, key: string): string | undefined {
  const probe = new Database(path, { readonly: true })
  try {
    return (probe.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value
  } finally {
    probe.close()
  }
}

const put = (key: string) => ({ sql: 'INSERT INTO meta (key, value) VALUES (?, ?)', params: [key, `v-${key}`] })

describe('audit ride: a mined batch\'s marks go in the commit of the next read\'s entry', () => {
  it('holds the statements until the next entry boards, then writes them in that entry\'s commit', async () => {
    const path = newPath()
    const db = await openDatabase({ url: path })
    try {
      const ride = createRide(db, 60_000)
      await db.run(put('warm').sql, ...put('warm').params)
      let done = false
      const marks = ride.write([put('journal'), put('mark')]).then(() => { done = true })
      await new Promise((r) => setTimeout(r, 100))
      assert.equal(done, false, 'held: no entry came')
      assert.equal(committed(path, 'journal'), undefined)
      walFramesSinceLast(path)
      // A read's entry: the ride boards, the entry's row is issued right after.
      ride.board()
      await db.run(put('entry').sql, ...put('entry').params)
      await marks
      assert.deepEqual(['journal', 'mark', 'entry'].map((k) => committed(path, k)), ['v-journal', 'v-mark', 'v-entry'])
      // Three rows of `meta` in one commit write its page once; three commits would write it three times.
      const frames = walFramesSinceLast(path)
      assert.ok(frames < 3, `the marks and the entry took ${frames} WAL frames`)
    } finally {
      await db.close()
    }
  })

  it('writes them alone when no entry comes within its wait, and a failing statement fails its write', async () => {
    const path = newPath()
    const db = await openDatabase({ url: path })
    try {
      const ride = createRide(db, 50)
      await ride.write([put('alone')])
      assert.equal(committed(path, 'alone'), 'v-alone')
      await assert.rejects(ride.write([put('alone')]), /UNIQUE/)
    } finally {
      await db.close()
    }
  })
})
