import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Api, cleanup, seed, startNodeProcess, tempDir, type NodeProcess } from './helpers/node-process.ts'

/** Every entry under `dir` with its permission bits, symbolic links left out. */
function walk(dir: string, out: { path: string; mode: number; dir: boolean }[] = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    const s = lstatSync(path)
    if (s.isSymbolicLink()) continue
    out.push({ path, mode: s.mode & 0o777, dir: s.isDirectory() })
    if (s.isDirectory()) walk(path, out)
  }
  return out
}

/** The entries whose mode is not 0600 (files) or 0700 (folders). */
const open = (home: string) => walk(home).filter((e) => e.mode !== (e.dir ? 0o700 : 0o600)).map((e) => `${e.path} ${e.mode.toString(8)}`)

describe('the node\'s files are its own (0600 files, 0700 folders), whatever the umask', () => {
  const homes: string[] = []
  const nodes: NodeProcess[] = []
  const umask = process.umask(0o022) // the usual login umask: files 0644 unless created otherwise
  after(async () => {
    for (const n of nodes) await n.stop()
    process.umask(umask)
    cleanup(...homes)
  })

  it('refuses a home others can read, names the chmod that fixes it, and writes nothing', async () => {
    const home = tempDir('ml-home-')
    homes.push(home)
    chmodSync(home, 0o755)
    await assert.rejects(startNodeProcess({ home }), (err: Error) => {
      assert.match(err.message, /node exited \(1\) before listening/)
      assert.ok(err.message.includes(`chmod 700 ${home} && chmod -R go-rwx ${home}`), err.message)
      return true
    })
    assert.deepEqual(readdirSync(home), [], 'nothing written in the refused home')
    assert.equal(lstatSync(home).mode & 0o777, 0o755, 'the home was left as it was')

    const groupWritable = tempDir('ml-home-')
    homes.push(groupWritable)
    chmodSync(groupWritable, 0o720)
    await assert.rejects(startNodeProcess({ home: groupWritable }), /chmod 700/)
    assert.deepEqual(readdirSync(groupWritable), [])
  })

  it('with umask 022, keeps the database and its WAL, the chain state, keys, blocks and deployment 0600 through uploads', async () => {
    const home = tempDir('ml-home-')
    homes.push(home)
    const node = await startNodeProcess({ home })
    nodes.push(node)
    const api = new Api(node.url)
    const a = await seed(api, { hospitalName: 'Private Hospital', tag: 'perm' })
    for (let i = 0; i < 3; i++) {
      const up = await api.upload(a.doctor.token, a.patient.email, `scan-${i}.bin`, randomBytes(300_000 + i))
      assert.equal(up.status, 201, JSON.stringify(up.body))
    }
    // anvil rewrites its state every second: wait until it has, so the state file is there.
    for (let i = 0; i < 100 && !readdirSync(join(home, 'chain')).includes('state.json'); i++) await new Promise((r) => setTimeout(r, 50))
    const names = walk(home).map((e) => e.path.slice(home.length + 1))
    for (const expected of ['medledger.db', 'medledger.db-wal', 'chain/state.json', 'keys/node.key', 'deployment.json', 'node.lock', 'ipfs']) {
      if (node.dbUrl.startsWith('postgres') && expected.startsWith('medledger.db')) continue
      assert.ok(names.includes(expected), `${expected} in ${names.filter((n) => !n.startsWith('ipfs/')).join(', ')}`)
    }
    assert.ok(names.filter((n) => n.startsWith('ipfs/')).length > 5, 'blocks were written')
    assert.deepEqual(open(home), [], 'every file 0600 and every folder 0700 while the node runs')
    assert.equal(lstatSync(home).mode & 0o777, 0o700)
    assert.equal(await node.stop(), 0)
    assert.deepEqual(open(home), [], 'and after it stopped')
  })

  it('makes the files of an older home private at start', async () => {
    const home = tempDir('ml-home-')
    homes.push(home)
    const first = await startNodeProcess({ home })
    await first.stop()
    // What an older node under umask 022 left behind, inside a home made private since.
    const loose = [join(home, 'chain', 'state.json'), join(home, 'deployment.json'), join(home, 'keys', 'node.key')]
    if (!first.dbUrl.startsWith('postgres')) loose.push(join(home, 'medledger.db'))
    for (const f of loose) chmodSync(f, 0o644)
    mkdirSync(join(home, 'old'), { mode: 0o755 })
    chmodSync(join(home, 'old'), 0o755)
    writeFileSync(join(home, 'old', 'notes.txt'), 'x', { mode: 0o666 })
    chmodSync(join(home, 'chain'), 0o755)
    assert.notDeepEqual(open(home), [])
    const node = await startNodeProcess({ home })
    nodes.push(node)
    assert.deepEqual(open(home), [])
    assert.match(node.output(), /made private/)
  })
})
