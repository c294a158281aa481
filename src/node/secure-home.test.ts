import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isAppError } from '../errors.ts'
import { secureHome } from './secure-home.ts'

describe('secureHome', () => {
  const root = mkdtempSync(join(tmpdir(), 'ml-secure-'))
  const umask = process.umask()
  after(() => {
    process.umask(umask)
    rmSync(root, { recursive: true, force: true })
  })
  let n = 0
  const dir = (mode: number) => {
    const d = join(root, `home-${n++}`)
    mkdirSync(d)
    chmodSync(d, mode)
    return d
  }

  it('refuses a home group or others may read, write or enter, naming the chmod that fixes it, and changes nothing', () => {
    for (const mode of [0o755, 0o750, 0o705, 0o701, 0o720, 0o777]) {
      const home = dir(mode)
      writeFileSync(join(home, 'medledger.db'), 'x', { mode: 0o644 })
      chmodSync(join(home, 'medledger.db'), 0o644)
      assert.throws(() => secureHome(home), (err: unknown) => isAppError(err, 'HOME_NOT_PRIVATE') && err.message.includes(`chmod 700 ${home} && chmod -R go-rwx ${home}`), mode.toString(8))
      assert.equal(statSync(home).mode & 0o777, mode)
      assert.equal(statSync(join(home, 'medledger.db')).mode & 0o777, 0o644)
      assert.deepEqual(readdirSync(home), ['medledger.db'])
    }
  })

  it('creates a missing home 0700 and sets the umask to 077', () => {
    process.umask(0o022)
    const home = join(root, 'new', 'home')
    assert.deepEqual(secureHome(home), { created: true, fixed: 0 })
    assert.equal(statSync(home).mode & 0o777, 0o700)
    assert.equal(process.umask(), 0o077)
    writeFileSync(join(home, 'later'), 'x')
    assert.equal(statSync(join(home, 'later')).mode & 0o777, 0o600)
  })

  it('tightens what an older node left open in a private home; leaves symbolic links alone', () => {
    const home = dir(0o700)
    mkdirSync(join(home, 'chain'), { mode: 0o755 })
    chmodSync(join(home, 'chain'), 0o755)
    writeFileSync(join(home, 'chain', 'state.json'), '{}')
    chmodSync(join(home, 'chain', 'state.json'), 0o644)
    writeFileSync(join(home, 'keep'), 'x')
    chmodSync(join(home, 'keep'), 0o400)
    const outside = join(root, 'outside')
    writeFileSync(outside, 'x')
    chmodSync(outside, 0o644)
    symlinkSync(outside, join(home, 'link'))
    assert.deepEqual(secureHome(home), { created: false, fixed: 2 })
    assert.equal(statSync(join(home, 'chain')).mode & 0o777, 0o700)
    assert.equal(statSync(join(home, 'chain', 'state.json')).mode & 0o777, 0o600)
    assert.equal(statSync(join(home, 'keep')).mode & 0o777, 0o400, 'a stricter mode is kept')
    assert.equal(statSync(outside).mode & 0o777, 0o644, 'a link is not followed')
    assert.deepEqual(secureHome(home), { created: false, fixed: 0 })
  })
})
