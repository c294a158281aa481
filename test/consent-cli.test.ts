import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Api, cleanup, fixtures, runCli, seed, startNodeProcess, tempDir, testEnv, type NodeProcess } from './helpers/node-process.ts'

describe('the consent commands of the medledger CLI', () => {
  let node: NodeProcess
  let api: Api
  let a: Awaited<ReturnType<typeof seed>>
  let b: Awaited<ReturnType<typeof seed>>
  const cliHome = tempDir('ml-ccli-')
  const work = tempDir('ml-ccli-work-')
  let cli: (args: string[], input?: string) => ReturnType<typeof runCli>
  let recordId = ''
  const file = join(fixtures, 'hl7v2', 'message2.hl7')

  const json = (r: { code: number | null; stdout: string; stderr: string }) => {
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout)
  }

  before(async () => {
    node = await startNodeProcess()
    api = new Api(node.url)
    a = await seed(api, { hospitalName: 'East', tag: 'east' })
    b = await seed(api, { hospitalName: 'West', tag: 'west' })
    cli = (args, input) => runCli(args, { api: node.url, cliHome, input })
    for (const who of [a.doctor, a.patient, b.doctor]) json(await cli(['login', '--email', who.email, '--json'], `${who.password}\n`))
    json(await cli(['login', '--email', testEnv.MEDLEDGER_ADMIN_EMAIL, '--json'], `${testEnv.MEDLEDGER_ADMIN_PASSWORD}\n`))
    recordId = json(await cli(['record', 'upload', '--patient', a.patient.email, '--file', file, '--json', '--as', a.doctor.email])).recordId
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home, cliHome, work)
  })

  it('access request → list → approve → the doctor reads → revoke → the doctor cannot', async () => {
    const req = json(await cli(['access', 'request', '--patient', a.patient.address, '--purpose', 'referral', '--days', '3', '--json', '--as', b.doctor.email]))
    assert.match(req.requestId, /^0x[0-9a-f]{64}$/)
    const listed = json(await cli(['access', 'list', '--json', '--as', a.patient.email]))
    assert.ok(listed.requests.some((r: any) => r.requestId === req.requestId && r.status === 'pending'))
    const approved = json(await cli(['access', 'approve', req.requestId, '--days', '1', '--json', '--as', a.patient.email]))
    assert.equal(approved.status, 'approved')
    const out = join(work, 'granted.hl7')
    json(await cli(['record', 'get', recordId, '--out', out, '--json', '--as', b.doctor.email]))
    assert.ok(readFileSync(out).equals(readFileSync(file)))
    json(await cli(['access', 'revoke', req.requestId, '--json', '--as', a.patient.email]))
    const refused = await cli(['record', 'get', recordId, '--out', join(work, 'refused.hl7'), '--as', b.doctor.email])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /RECORD_NOT_FOUND/)
    assert.ok(!existsSync(join(work, 'refused.hl7')))
  })

  it('access deny needs a reason, and the requester cannot decide its own request', async () => {
    const req = json(await cli(['access', 'request', '--patient', a.patient.email, '--records', recordId, '--purpose', 'x-ray review', '--days', '1', '--json', '--as', b.doctor.email]))
    const own = await cli(['access', 'approve', req.requestId, '--as', b.doctor.email])
    assert.equal(own.code, 1)
    assert.match(own.stderr, /NOT_REQUEST_PATIENT/)
    const noReason = await cli(['access', 'deny', req.requestId, '--as', a.patient.email])
    assert.equal(noReason.code, 2)
    const denied = json(await cli(['access', 'deny', req.requestId, '--reason', 'not now', '--json', '--as', a.patient.email]))
    assert.equal(denied.status, 'denied')
  })

  it('share create --token gives a token once; record get --token works with no session; share revoke ends it', async () => {
    const share = json(await cli(['share', 'create', '--records', recordId, '--token', '--days', '2', '--json', '--as', a.patient.email]))
    assert.match(share.token, /^[A-Za-z0-9_-]{43}$/)
    const anonymous = tempDir('ml-anon-')
    const out = join(work, 'by-token.hl7')
    const got = await runCli(['record', 'get', recordId, '--token', share.token, '--out', out, '--json'], { api: node.url, cliHome: anonymous })
    assert.equal(got.code, 0, got.stderr)
    assert.ok(readFileSync(out).equals(readFileSync(file)))
    json(await cli(['share', 'revoke', share.shareId, '--json', '--as', a.patient.email]))
    const again = await runCli(['record', 'get', recordId, '--token', share.token, '--out', join(work, 'no.hl7')], { api: node.url, cliHome: anonymous })
    assert.match(again.stderr, /SHARE_TOKEN_INVALID/)
    const named = json(await cli(['share', 'create', '--records', recordId, '--to', b.doctor.email, '--json', '--as', a.patient.email]))
    assert.equal(named.token, undefined)
    const shares = json(await cli(['share', 'list', '--json', '--as', a.patient.email]))
    assert.equal(shares.shares.length, 2)
    cleanup(anonymous)
  })

  it('emergency open refuses an empty reason; with one it is listed for review and shows in the audit trail', async () => {
    const empty = await cli(['emergency', 'open', '--patient', a.patient.email, '--reason', '', '--as', b.doctor.email])
    assert.equal(empty.code, 1)
    assert.match(empty.stderr, /EMPTY_REASON/)
    const e = json(await cli(['emergency', 'open', '--patient', a.patient.email, '--reason', 'collapsed in the street', '--json', '--as', b.doctor.email]))
    assert.ok(e.emergencyId)
    const review = json(await cli(['emergency', 'list', '--json', '--as', testEnv.MEDLEDGER_ADMIN_EMAIL]))
    assert.equal(review.emergencies[0].emergencyId, e.emergencyId)
    const trail = json(await cli(['audit', '--patient', a.patient.email, '--json', '--as', a.patient.email]))
    assert.ok(trail.entries.some((x: any) => x.emergency && x.event === 'EmergencyDeclared'))
    const human = await cli(['audit', '--record', recordId, '--as', a.patient.email])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /AccessLogged/)
    const mail = json(await cli(['mail', 'list', '--json', '--as', a.patient.email]))
    assert.ok(mail.mail.some((m: any) => m.kind === 'emergency-access'))
  })

  it('signup as a doctor is pending until doctor confirm; doctor reject needs a reason', async () => {
    const s = json(await cli(['signup', '--role', 'doctor', '--hospital', a.hospital.id, '--email', 'intern@example.org', '--name', 'Intern', '--licence', 'GMC-778899', '--json'], 'intern-password-123\n'))
    assert.equal(s.status, 'pending')
    assert.ok(s.recoveryCode)
    const pending = json(await cli(['doctor', 'pending', '--json', '--as', testEnv.MEDLEDGER_ADMIN_EMAIL]))
    assert.ok(pending.doctors.some((d: any) => d.id === s.id))
    const confirmed = json(await cli(['doctor', 'confirm', s.id, '--json', '--as', testEnv.MEDLEDGER_ADMIN_EMAIL]))
    assert.equal(confirmed.status, 'active')
    const p = json(await cli(['signup', '--role', 'patient', '--hospital', a.hospital.address, '--email', 'selfsign@example.org', '--name', 'Self Sign', '--json'], 'patient-password-123\n'))
    assert.equal(p.status, 'active')
    const noReason = await cli(['doctor', 'reject', s.id, '--as', testEnv.MEDLEDGER_ADMIN_EMAIL])
    assert.equal(noReason.code, 2)
  })
})
