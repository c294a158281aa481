import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { getMeta, isUniqueViolation, openDatabase, redactDbUrl, setMeta, type Db } from './open-database.ts'
import { migrations } from './migrations.ts'
import { cleanup, tempDir } from '../../test/helpers/node-process.ts'
import { createTestDatabase } from '../../test/helpers/postgres.ts'

const dialects: { name: 'sqlite' | 'postgres'; url: () => Promise<string> }[] = [
  { name: 'sqlite', url: async () => join(dirs[dirs.push(tempDir('ml-db-')) - 1], 'medledger.db') },
  { name: 'postgres', url: createTestDatabase },
]
const dirs: string[] = []
after(() => cleanup(...dirs))

const hospital = (id: string, address = `0x${id.padStart(40, '0')}`) =>
  ['INSERT INTO hospitals (id, name, address, key_scheme, emergency_public_key, sealed_secrets, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    id, `Hospital ${id}`, address, 'x25519-hpke', Buffer.from([0, 1, 2, 255]), '{}', 'active', 1_767_225_600_123] as const

for (const dialect of dialects) {
  describe(`the database on ${dialect.name}`, async () => {
    const url = await dialect.url()
    const db = await openDatabase({ url })
    after(() => db.close())

    it('applies every migration, and reopening applies none again and keeps the data', async () => {
      assert.equal(db.dialect, dialect.name)
      await setMeta(db, 'probe', 'kept')
      await db.close()
      const again = await openDatabase({ url })
      try {
        assert.equal(await getMeta(again, 'probe'), 'kept')
        const version = dialect.name === 'sqlite'
          ? (await again.get<{ user_version: number }>('PRAGMA user_version'))!.user_version
          : (await again.get<{ version: number }>('SELECT version FROM schema_version'))!.version
        assert.equal(version, migrations.length)
        // The last migration's columns and tables are there.
        assert.deepEqual(await again.all('SELECT licence, rejection_reason FROM accounts'), [])
        assert.deepEqual(await again.all('SELECT emergency_id FROM emergencies'), [])
      } finally {
        await again.close()
      }
    })

    it('round-trips blobs as Buffers and millisecond timestamps as numbers', async () => {
      const reopened = await openDatabase({ url })
      try {
        await reopened.run(...hospital('h1'))
        const row = await reopened.get<{ emergency_public_key: Buffer; created_at: number }>('SELECT emergency_public_key, created_at FROM hospitals WHERE id = ?', 'h1')
        assert.ok(Buffer.isBuffer(row!.emergency_public_key))
        assert.deepEqual([...row!.emergency_public_key], [0, 1, 2, 255])
        assert.equal(row!.created_at, 1_767_225_600_123)
        const count = await reopened.get<{ n: number }>('SELECT count(*) AS n FROM hospitals')
        assert.equal(count!.n, 1)
        const { id } = (await reopened.get<{ id: number }>(`INSERT INTO journal (chain_id, sender, nonce, tx_hash, raw, purpose, state, created_at)
          VALUES (?, ?, ?, ?, ?, ?, 'sent', ?) RETURNING id`, 31337, '0xabc', 0, '0x01', '0x', 'anchor', Date.now()))!
        assert.equal(typeof id, 'number')
        assert.deepEqual(await reopened.run('DELETE FROM journal WHERE id = ?', id), { changes: 1 })
      } finally {
        await reopened.close()
      }
    })

    describe('with an open connection', async () => {
      const d: Db = await openDatabase({ url })
      after(() => d.close())

      it('reports a unique violation with its column, on either dialect', async () => {
        await d.run(...hospital('h2', '0x' + 'b'.repeat(40)))
        const err = await d.run(...hospital('h3', '0x' + 'b'.repeat(40))).then(() => undefined, (e: unknown) => e)
        assert.ok(isUniqueViolation(err), String(err))
        assert.ok(isUniqueViolation(err, 'hospitals.address'), String(err))
        assert.ok(!isUniqueViolation(err, 'hospitals.name'))
        assert.ok(!isUniqueViolation(new Error('something else')))
      })

      it('rolls a transaction back when its function throws, leaving nothing', async () => {
        await assert.rejects(d.transaction(async (tx) => {
          await tx.run(...hospital('h4'))
          assert.equal((await tx.get<{ n: number }>('SELECT count(*) AS n FROM hospitals WHERE id = ?', 'h4'))!.n, 1)
          throw new Error('changed my mind')
        }), /changed my mind/)
        assert.equal(await d.get('SELECT id FROM hospitals WHERE id = ?', 'h4'), undefined)
        assert.equal(await d.transaction(async (tx) => (await tx.run(...hospital('h5'))).changes), 1)
        assert.ok(await d.get('SELECT id FROM hospitals WHERE id = ?', 'h5'))
      })

      it('runs concurrent transactions one after the other: no lost update', async () => {
        await setMeta(d, 'counter', '0')
        const order: string[] = []
        await Promise.all(Array.from({ length: 8 }, (_, i) => d.transaction(async (tx) => {
          order.push(`begin ${i}`)
          const n = Number(await getMeta(tx, 'counter'))
          await new Promise((r) => setTimeout(r, 5))
          await setMeta(tx, 'counter', String(n + 1))
          order.push(`end ${i}`)
        })))
        assert.equal(await getMeta(d, 'counter'), '8')
        for (let i = 0; i < order.length; i += 2) assert.equal(order[i].split(' ')[1], order[i + 1].split(' ')[1], 'no transaction began while another ran')
      })

      // SQLite has one connection, so a plain statement queues behind a transaction; Postgres
      // runs it on another connection, seeing the last committed state (not tested: a race).
      if (dialect.name === 'sqlite') it('makes a plain statement wait for a running transaction, and see its result', async () => {
        let release!: () => void
        const held = new Promise<void>((r) => { release = r })
        const tx = d.transaction(async (t) => {
          await setMeta(t, 'gate', 'inside')
          await held
        })
        await new Promise((r) => setTimeout(r, 20))
        const read = getMeta(d, 'gate')
        release()
        await tx
        assert.equal(await read, 'inside')
      })
    })
  })
}

describe('database URLs in logs', () => {
  it('never show the password', () => {
    assert.equal(redactDbUrl('postgres://ml:s3cr%40t@db.example.org:5432/medledger'), 'postgres://ml:***@db.example.org:5432/medledger')
    assert.equal(redactDbUrl('postgresql://db.example.org/medledger?password=s3cret'), 'postgresql://db.example.org/medledger?password=***')
    assert.equal(redactDbUrl('/var/lib/medledger/medledger.db'), '/var/lib/medledger/medledger.db')
  })

  it('keep the password out of a connection error', async () => {
    await assert.rejects(openDatabase({ url: 'postgres://ml:hunter2-secret@127.0.0.1:1/medledger' }), (err: Error) => {
      assert.ok(!err.message.includes('hunter2-secret'), err.message)
      assert.match(err.message, /postgres:\/\/ml:\*\*\*@127\.0\.0\.1:1\/medledger/)
      return true
    })
  })
})
