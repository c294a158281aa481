import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { bin, cleanup, fixtures, runCli, startNodeProcess, tempDir, testEnv, type NodeProcess } from './helpers/node-process.ts'

describe('the medledger CLI against a running node', () => {
  let node: NodeProcess
  const cliHome = tempDir('ml-cli-')
  const work = tempDir('ml-cli-work-')
  let cli: (args: string[], input?: string) => ReturnType<typeof runCli>
  let hospitalId = ''
  let hospitalAddress = ''
  let recordId = ''

  before(async () => {
    node = await startNodeProcess()
    cli = (args, input) => runCli(args, { api: node.url, cliHome, input })
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home, cliHome, work)
  })

  const json = (r: { code: number | null; stdout: string; stderr: string }) => {
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout)
  }

  it('prints help, and refuses an unknown command with a usage error', async () => {
    const help = await cli(['--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /medledger record upload/)
    const bad = await cli(['frobnicate'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /Unknown command/)
  })

  it('status --json has the chain, its contracts and the record count', async () => {
    const st = json(await cli(['status', '--json']))
    for (const key of ['chainRpc', 'chainId', 'blockNumber', 'contracts', 'records']) assert.ok(key in st, key)
    assert.match(st.chainRpc, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(st.chainId, 31337)
    assert.match(st.contracts.registry, /^0x[0-9a-f]{40}$/i)
    assert.match(st.contracts.recordLedger, /^0x[0-9a-f]{40}$/i)
  })

  it('signs in with the password on stdin and keeps the session under ~/.medledger, readable by the user only', async () => {
    const wrong = await cli(['login', '--email', testEnv.MEDLEDGER_ADMIN_EMAIL, '--json'], 'not-the-password\n')
    assert.notEqual(wrong.code, 0)
    assert.match(wrong.stderr, /INVALID_CREDENTIALS/)
    assert.equal(wrong.stdout, '')
    const ok = json(await cli(['login', '--email', testEnv.MEDLEDGER_ADMIN_EMAIL, '--json'], `${testEnv.MEDLEDGER_ADMIN_PASSWORD}\n`))
    assert.equal(ok.account.role, 'admin')
    const file = join(cliHome, '.medledger', 'sessions.json')
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.ok(!readFileSync(file, 'utf8').includes(testEnv.MEDLEDGER_ADMIN_PASSWORD), 'no password on disk')
  })

  it('creates a hospital, a doctor (by hospital address) and a patient (RSA-OAEP key) as the admin', async () => {
    const h = json(await cli(['hospital', 'create', '--name', 'Lakeside', '--json']))
    assert.ok(h.id)
    hospitalId = h.id
    hospitalAddress = h.address
    const d = json(await cli(['user', 'create', '--role', 'doctor', '--hospital', hospitalAddress, '--email', 'house@example.org', '--name', 'Dr House', '--json', '--as', testEnv.MEDLEDGER_ADMIN_EMAIL], 'doctor-password-123\n'))
    assert.equal(d.role, 'doctor')
    assert.equal(d.hospitalId, hospitalId)
    assert.ok(d.recoveryCode)
    const p = json(await cli(['user', 'create', '--role', 'patient', '--hospital', hospitalId, '--email', 'ann@example.org', '--name', 'Ann', '--key-scheme', 'rsa-oaep-4096', '--json'], 'patient-password-123\n'))
    assert.equal(p.keyScheme, 'rsa-oaep-4096')
  })

  it('uploads as the doctor (picked with --as), and the patient gets the file back byte-identical', async () => {
    json(await cli(['login', '--email', 'house@example.org', '--json'], 'doctor-password-123\n'))
    json(await cli(['login', '--email', 'ann@example.org', '--json'], 'patient-password-123\n'))
    const file = join(fixtures, 'dicom', 'MR_small.dcm')
    const up = json(await cli(['record', 'upload', '--patient', 'ann@example.org', '--file', file, '--suite', 'xchacha20-poly1305', '--json', '--as', 'house@example.org']))
    for (const key of ['recordId', 'cid', 'digest', 'txHash']) assert.ok(up[key], key)
    assert.equal(up.mediaType, 'application/dicom')
    recordId = up.recordId
    const out = join(work, 'mr.dcm')
    const got = json(await cli(['record', 'get', recordId, '--out', out, '--json', '--as', 'ann@example.org']))
    assert.equal(got.bytes, statSync(file).size)
    assert.ok(readFileSync(out).equals(readFileSync(file)))
  })

  it('lists records for the patient and the doctor\'s uploads for a patient by e-mail', async () => {
    const mine = json(await cli(['record', 'list', '--json', '--as', 'ann@example.org']))
    assert.equal(mine.total, 1)
    assert.equal(mine.records[0].fileName, 'MR_small.dcm')
    const theirs = json(await cli(['record', 'list', '--patient', 'ann@example.org', '--json', '--as', 'house@example.org']))
    assert.equal(theirs.records[0].recordId, recordId)
  })

  it('verify exits 0 when intact', async () => {
    const one = await cli(['verify', recordId, '--as', 'house@example.org'])
    assert.equal(one.code, 0, one.stderr)
    assert.match(one.stdout, /1 of 1 record\(s\) intact/)
    const all = json(await cli(['verify', '--all', '--json', '--as', testEnv.MEDLEDGER_ADMIN_EMAIL]))
    assert.equal(all.intact, all.checked)
  })

  it('writes nothing and exits non-zero when a get fails; reports errors on stderr', async () => {
    const out = join(work, 'nothing.bin')
    const r = await cli(['record', 'get', `0x${'cd'.repeat(32)}`, '--out', out, '--as', 'ann@example.org'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /RECORD_NOT_FOUND/)
    assert.ok(!existsSync(out))
    assert.deepEqual(readdirSync(work).filter((f) => f.includes('partial')), [])
    const missing = await cli(['record', 'upload', '--patient', 'ann@example.org', '--file', join(work, 'no-such-file'), '--as', 'house@example.org'])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /MISSING_FILE/)
    const unknownSuite = await cli(['record', 'upload', '--patient', 'ann@example.org', '--file', join(fixtures, 'hl7v2', 'message1.hl7'), '--suite', 'des', '--as', 'house@example.org'])
    assert.match(unknownSuite.stderr, /UNKNOWN_CIPHER_SUITE/)
    const down = await runCli(['status'], { api: 'http://127.0.0.1:9', cliHome })
    assert.equal(down.code, 1)
    assert.match(down.stderr, /NODE_UNREACHABLE/)
  })

  it('verify exits non-zero and names the record when a stored block was altered', async () => {
    const { blockFilePath } = await import('../src/storage/block-path.ts')
    const { cidFromDigest } = await import('../src/storage/read-verified.ts')
    const { hexToBytes } = await import('viem')
    // A record never read yet: a block already read is served, verified, from the node's memory
    // cache, so a later change on disk shows in verify (which always re-reads the disk) but not there.
    const up = await cli(['record', 'upload', '--patient', 'ann@example.org', '--file', join(fixtures, 'dicom', 'CT_small.dcm'), '--json', '--as', 'house@example.org'])
    assert.equal(up.code, 0, up.stderr)
    const meta = json(up)
    const file = blockFilePath(join(node.home, 'ipfs'), cidFromDigest(hexToBytes(meta.digest), 'dag'))
    const original = readFileSync(file)
    const bad = Buffer.from(original)
    bad[bad.length - 1] ^= 0x80
    writeFileSync(file, bad)
    try {
      const r = await cli(['verify', '--all', '--as', testEnv.MEDLEDGER_ADMIN_EMAIL])
      assert.equal(r.code, 1)
      assert.match(r.stdout, new RegExp(`MISMATCH ${meta.recordId}`))
      const get = await cli(['record', 'get', meta.recordId, '--out', join(work, 'tampered.dcm'), '--as', 'ann@example.org'])
      assert.match(get.stderr, /RECORD_INTEGRITY/)
      assert.ok(!existsSync(join(work, 'tampered.dcm')))
    } finally {
      writeFileSync(file, original)
    }
  })

  it('shows a progress bar while uploading from a terminal, and none when stderr is a pipe', async () => {
    const args = ['record', 'upload', '--patient', 'ann@example.org', '--file', join(fixtures, 'dicom', 'MR_small.dcm'), '--json', '--as', 'house@example.org']
    const piped = await cli(args)
    assert.equal(piped.code, 0, piped.stderr)
    assert.doesNotMatch(piped.stderr, /MR_small\.dcm \[|%/)
    // `script` gives the CLI a pseudo-terminal for stdout and stderr.
    const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`
    const tty = await new Promise<{ code: number | null; out: string }>((done) => {
      const child = spawn('script', ['-qefc', [process.execPath, bin, ...args].map(quote).join(' '), '/dev/null'], {
        env: { ...process.env, HOME: cliHome, MEDLEDGER_API: node.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      child.stdout.on('data', (d) => { out += d })
      child.stderr.on('data', (d) => { out += d })
      child.on('exit', (code) => done({ code, out }))
    })
    assert.equal(tty.code, 0, tty.out)
    assert.match(tty.out, /MR_small\.dcm \[#{30}\] 100% \d+\.\d\/\d+\.\d MiB/)
    assert.match(tty.out, /"recordId": "0x[0-9a-f]{64}"/)
  })

  it('logs out: the saved session no longer works', async () => {
    json(await cli(['logout', '--as', 'ann@example.org', '--json']))
    const r = await cli(['record', 'list', '--as', 'ann@example.org'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /UNAUTHENTICATED/)
  })
})
