import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Api, cleanup, runCli, seed, startNodeProcess, tempDir, testEnv, type CliResult, type NodeProcess } from './helpers/node-process.ts'

/**
 * Free texts (reasons, purposes, names) and file names that hold control, format or only
 * invisible characters are refused with 400 VALIDATION_FAILED (EMPTY_REASON for a blank
 * break-glass reason) naming the field, never echoing the value; nothing is written: no row,
 * no chain transaction. Through the HTTP API and the CLI.
 */
describe('invisible and control characters in free texts and file names (real node)', () => {
  let node: NodeProcess
  let api: Api
  let a: Awaited<ReturnType<typeof seed>>
  let rpc = ''
  const cliHome = tempDir('ml-texts-cli-')
  const work = tempDir('ml-texts-work-')
  let cli: (args: string[], input?: string) => Promise<CliResult>

  const blockNumber = async () => {
    const res = await fetch(rpc, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] }) })
    return Number(((await res.json()) as { result: string }).result)
  }
  /** Calls `call`, expects 400 with `code`, a message naming `field` and not the value, and no new block. */
  const refused = async (call: () => Promise<{ status: number; body: any }>, code: string, field: string, value: string) => {
    const height = await blockNumber()
    const r = await call()
    assert.equal(r.status, 400, JSON.stringify(r.body))
    assert.equal(r.body.code, code)
    if (code === 'VALIDATION_FAILED') assert.match(r.body.message, new RegExp(field))
    const visible = value.replace(/[^\x21-\x7e]/g, '')
    if (visible.length >= 3) assert.ok(!JSON.stringify(r.body).includes(visible), 'the value is not echoed')
    assert.equal(await blockNumber(), height, 'no transaction was sent')
  }
  const badTexts: [string, string][] = [
    ['NUL', '\u0000'],
    ['a NUL inside', 'Head injury\u0000'],
    ['an escape sequence', 'Head \u001b[31minjury'],
    ['a C1 control', 'Head\u0085injury'],
    ['a right-to-left override', 'Head \u202einjury'],
    ['an isolate', '\u2066Head injury\u2069'],
    ['only zero-width spaces', '\u200b\u200b\u200b'],
    ['a zero-width joiner inside', 'He\u200dad injury'],
    ['a byte-order mark inside', 'Head\ufeff injury'],
    ['a lone surrogate', 'Head injury \ud83d'],
    ['a private-use character', 'Head injury \ue000'],
  ]

  before(async () => {
    node = await startNodeProcess()
    api = new Api(node.url)
    a = await seed(api, { hospitalName: 'Central', tag: 'central' })
    rpc = (await api.json('GET', '/status')).body.chainRpc
    cli = (args, input) => runCli(args, { api: node.url, cliHome, input })
    for (const [email, password] of [[a.doctor.email, a.doctor.password], [testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD]]) {
      const r = await cli(['login', '--email', email, '--json'], `${password}\n`)
      assert.equal(r.code, 0, r.stderr)
    }
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home, cliHome, work)
  })

  it('break-glass: a reason of "\\u0000", control, format or only invisible characters is refused and no emergency is declared', async () => {
    const declare = (reason: string) => () => api.json('POST', '/emergencies', { patient: a.patient.email, reason }, a.doctor.token)
    for (const [what, reason] of badTexts) {
      await test(what, () => refused(declare(reason), 'VALIDATION_FAILED', 'reason', reason))
    }
    for (const blank of ['', '   ', '\n\n', '\u3000']) await refused(declare(blank), 'EMPTY_REASON', 'reason', blank)
    assert.equal((await api.json('GET', '/emergencies', undefined, a.admin)).body.emergencies.length, 0, 'no emergency row')
    assert.equal((await api.json('GET', '/emergencies', undefined, a.patient.token)).body.emergencies.length, 0)

    // A normal reason, multi-line, in decomposed form: kept NFC and trimmed, CRLF as LF.
    const ok = await api.json('POST', '/emergencies', { patient: a.patient.email, reason: '  Unconscious;\r\nallergy to penicilline\u0301?  ' }, a.doctor.token)
    assert.equal(ok.status, 201, JSON.stringify(ok.body))
    assert.equal(ok.body.reason, 'Unconscious;\nallergy to penicillin\u00e9?')
  })

  it('access requests: a bad purpose is refused with nothing stored; a bad deny reason leaves the request pending', async () => {
    const ask = (purpose: string) => () => api.json('POST', '/access-requests', { patient: a.patient.email, purpose, days: 1 }, a.doctor.token)
    for (const [what, purpose] of badTexts) await test(what, () => refused(ask(purpose), 'VALIDATION_FAILED', 'purpose', purpose))
    await refused(ask('  \u2800 '), 'VALIDATION_FAILED', 'purpose', '')
    assert.equal((await api.json('GET', '/access-requests', undefined, a.doctor.token)).body.requests.length, 0, 'no request row')

    const req = await ask('Second opinion')()
    assert.equal(req.status, 201, JSON.stringify(req.body))
    const deny = (reason: string) => () => api.json('POST', `/access-requests/${req.body.requestId}/deny`, { reason }, a.patient.token)
    for (const [what, reason] of badTexts) await test(what, () => refused(deny(reason), 'VALIDATION_FAILED', 'reason', reason))
    assert.equal((await api.json('GET', `/access-requests/${req.body.requestId}`, undefined, a.patient.token)).body.status, 'pending')
  })

  it('names: sign-up, user and hospital creation refuse invisible names and create nothing; a doctor\'s rejection reason likewise', async () => {
    const users = async () => ((await api.json('GET', '/users', undefined, a.admin)).body.users as { email: string }[]).map((u) => u.email)
    const hospitals = async () => ((await api.json('GET', '/hospitals', undefined, a.admin)).body.hospitals as unknown[]).length
    const before = { users: await users(), hospitals: await hospitals() }
    const names: [string, string][] = [['NUL', 'Eve\u0000'], ['right-to-left override', 'Eve \u202enosnhoJ'], ['only invisible', '\u200b\u3164'], ['line break', 'Eve\nMallory']]
    for (const [what, name] of names) {
      await test(`sign-up, ${what}`, () => refused(() => api.json('POST', '/signup', { role: 'patient', hospital: a.hospital.id, email: 'eve@example.org', name, password: 'eve-password-123' }, null), 'VALIDATION_FAILED', 'name', name))
      await test(`user create, ${what}`, () => refused(() => api.json('POST', '/users', { role: 'doctor', hospital: a.hospital.id, email: 'mallory@example.org', name, password: 'mallory-password-123' }, a.admin), 'VALIDATION_FAILED', 'name', name))
      await test(`hospital create, ${what}`, () => refused(() => api.json('POST', '/hospitals', { name }, a.admin), 'VALIDATION_FAILED', 'name', name))
    }
    assert.deepEqual(await users(), before.users, 'no account')
    assert.equal(await hospitals(), before.hospitals, 'no hospital')

    const signed = await api.json('POST', '/signup', { role: 'doctor', hospital: a.hospital.id, email: 'new-doctor@example.org', name: 'Dr Zoe\u0308', password: 'new-doctor-password-123', licence: 'GMC 1234567' }, null)
    assert.equal(signed.status, 201, JSON.stringify(signed.body))
    assert.equal(signed.body.account.name, 'Dr Zo\u00eb', 'kept in NFC')
    const id = signed.body.account.id
    for (const [what, reason] of badTexts) await test(what, () => refused(() => api.json('POST', `/doctors/${id}/reject`, { reason }, a.admin), 'VALIDATION_FAILED', 'reason', reason))
    const pending = (await api.json('GET', '/doctors/pending', undefined, a.admin)).body.doctors as { id: string }[]
    assert.ok(pending.some((d) => d.id === id), 'still pending')
  })

  it('file names: ., .., separators, controls, bidi overrides, only invisible and over 255 bytes are refused; nothing stored', async () => {
    const count = async () => (await api.json('GET', `/records?patient=${a.patient.id}`, undefined, a.doctor.token)).body.total as number
    const before = await count()
    const bad = ['.', '..', ' .. ', '   ', 'a/b.txt', '../../etc/passwd', 'C:\\temp\\x.txt', 'x\u0000.txt', 'x\n.txt', 'x\u0090.txt',
      'photo\u202egpj.exe', '\u202dphoto.jpg', '\u2067photo.jpg', 'photo\u2069.jpg', '\u200b', '\u3164', 'x'.repeat(256), `${'é'.repeat(126)}.txt`]
    for (const name of bad) {
      await test(JSON.stringify(name), () => refused(() => api.upload(a.doctor.token, a.patient.email, name, Buffer.from('hello')), 'VALIDATION_FAILED', 'file name', name))
    }
    assert.equal(await count(), before, 'no record')
    const ok = await api.upload(a.doctor.token, a.patient.email, ` ${'é'.repeat(125)}.txt1 `, Buffer.from('hello'))
    assert.equal(ok.status, 201, JSON.stringify(ok.body))
    assert.equal(ok.body.fileName, `${'é'.repeat(125)}.txt1`, '255 UTF-8 bytes, trimmed')
  })

  it('the CLI: emergency open, hospital create and record upload with invisible texts exit 1 with VALIDATION_FAILED and change nothing', async () => {
    const emergencies = async () => ((await api.json('GET', '/emergencies', undefined, a.admin)).body.emergencies as unknown[]).length
    const before = await emergencies()
    const height = await blockNumber()
    const emergency = await cli(['emergency', 'open', '--patient', a.patient.email, '--reason', 'Fall \u202eytiruces', '--as', a.doctor.email])
    assert.equal(emergency.code, 1, emergency.stdout)
    assert.match(emergency.stderr, /VALIDATION_FAILED/)
    assert.ok(!emergency.stderr.includes('ytiruces'))
    const blank = await cli(['emergency', 'open', '--patient', a.patient.email, '--reason', '\u200b\u200b', '--as', a.doctor.email])
    assert.equal(blank.code, 1)
    assert.match(blank.stderr, /VALIDATION_FAILED/)
    const hospital = await cli(['hospital', 'create', '--name', '\u2066\u2069', '--as', testEnv.MEDLEDGER_ADMIN_EMAIL])
    assert.equal(hospital.code, 1)
    assert.match(hospital.stderr, /VALIDATION_FAILED/)
    const spoofed = join(work, 'scan\u202egpj.exe')
    writeFileSync(spoofed, 'not a scan')
    const upload = await cli(['record', 'upload', '--patient', a.patient.email, '--file', spoofed, '--as', a.doctor.email])
    assert.equal(upload.code, 1)
    assert.match(upload.stderr, /VALIDATION_FAILED/)
    assert.equal(await blockNumber(), height, 'no transaction was sent')
    assert.equal(await emergencies(), before, 'no emergency row')
  })
})

/** Runs one case of a table, naming it when it fails. */
async function test(what: string, run: () => Promise<void>): Promise<void> {
  try {
    await run()
  } catch (err) {
    if (err instanceof Error) err.message = `${what}: ${err.message}`
    throw err
  }
}
