import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { Api, cleanup, fixtures, runCli, seed, startNodeProcess, tempDir, testEnv, type NodeProcess } from '../helpers/node-process.ts'
import { identifyingHl7Strings, identifyingStrings, leaks } from './identifying-strings.ts'

// The research commands of the medledger CLI against a node process (issue 12): the names the
// issue gives, used exactly.
describe('the research commands of the medledger CLI', () => {
  let node: NodeProcess
  let a: Awaited<ReturnType<typeof seed>>
  const cliHome = tempDir('ml-rcli-')
  const work = tempDir('ml-rcli-work-')
  let cli: (args: string[], input?: string) => ReturnType<typeof runCli>
  const bundle = readdirSync(join(fixtures, 'fhir')).filter((f) => /^[A-Z].*\.json$/.test(f)).sort()[0]!
  const researcher = { email: 'rita@example.org', password: 'researcher-password-123' }

  const ok = (r: { code: number | null; stdout: string; stderr: string }) => {
    assert.equal(r.code, 0, r.stderr)
    return r.stdout
  }

  before(async () => {
    node = await startNodeProcess()
    const api = new Api(node.url)
    a = await seed(api, { hospitalName: 'Study Hospital', tag: 'cli' })
    cli = (args, input) => runCli(args, { api: node.url, cliHome, input })
    ok(await cli(['signup', '--role', 'researcher', '--hospital', a.hospital.id, '--email', researcher.email, '--name', 'Rita Search', '--json'], `${researcher.password}\n`))
    ok(await cli(['login', '--email', testEnv.MEDLEDGER_ADMIN_EMAIL, '--json'], `${testEnv.MEDLEDGER_ADMIN_PASSWORD}\n`))
    const pending = JSON.parse(ok(await cli(['researcher', 'pending', '--json', '--as', testEnv.MEDLEDGER_ADMIN_EMAIL]))).researchers as { id: string; email: string }[]
    const id = pending.find((r) => r.email === researcher.email)!.id
    assert.match(ok(await cli(['researcher', 'confirm', id, '--as', testEnv.MEDLEDGER_ADMIN_EMAIL])), /active/)
    for (const who of [a.doctor, a.patient, researcher]) ok(await cli(['login', '--email', who.email, '--json'], `${who.password}\n`))
    ok(await cli(['record', 'upload', '--patient', a.patient.email, '--file', join(fixtures, 'fhir', bundle), '--json', '--as', a.doctor.email]))
    ok(await cli(['record', 'upload', '--patient', a.patient.email, '--file', join(fixtures, 'hl7v2', 'message2.hl7'), '--json', '--as', a.doctor.email]))
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home, cliHome, work)
  })

  it('study create → approve → research consent → study export --out DIR → research withdraw → export without the patient', async () => {
    const created = JSON.parse(ok(await cli(['study', 'create', '--title', 'Cohort', '--purpose', 'Retrospective, de-identified.', '--as', researcher.email])))
    assert.match(created.studyId, /^0x[0-9a-f]{64}$/)
    const early = await cli(['research', 'consent', '--study', created.studyId, '--as', a.patient.email])
    assert.notEqual(early.code, 0)
    assert.match(early.stderr, /STUDY_NOT_APPROVED/)
    assert.match(ok(await cli(['study', 'approve', created.studyId, '--as', testEnv.MEDLEDGER_ADMIN_EMAIL])), /approved/)
    assert.match(ok(await cli(['research', 'consent', '--study', created.studyId, '--as', a.patient.email])), /consent given \(purpose HRESCH/)

    const out = join(work, 'export-1')
    ok(await cli(['study', 'export', created.studyId, '--out', out, '--as', researcher.email]))
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'))
    for (const key of ['studyId', 'patients', 'resources', 'k', 'rules']) assert.ok(key in manifest, key)
    assert.equal(manifest.studyId, created.studyId)
    assert.equal(manifest.patients, 1)
    assert.equal(manifest.k, 1)
    for (const [type, count] of Object.entries(manifest.resources as Record<string, number>)) {
      assert.equal(readFileSync(join(out, `${type}.ndjson`), 'utf8').trim().split('\n').length, count, type)
    }
    const written = readdirSync(out).filter((f) => f.endsWith('.ndjson')).map((f) => readFileSync(join(out, f), 'utf8')).join('')
    const original = JSON.parse(readFileSync(join(fixtures, 'fhir', bundle), 'utf8'))
    assert.deepEqual(leaks(identifyingStrings(original), written), [])
    assert.doesNotMatch(written, /\d{4}-\d{2}-\d{2}/, 'no full date')
    // the HL7 v2 message, de-identified, under hl7v2/ and in the manifest's output with its hash
    const [message] = readdirSync(join(out, 'hl7v2'))
    assert.equal(manifest.hl7v2, 1)
    const hl7 = readFileSync(join(out, 'hl7v2', message!))
    assert.deepEqual(leaks(identifyingHl7Strings(readFileSync(join(fixtures, 'hl7v2', 'message2.hl7'), 'utf8')), hl7.toString('utf8')), [])
    assert.equal((manifest.output as { url: string; sha256: string }[]).find((o) => o.url === `hl7v2/${message}`)?.sha256, `0x${createHash('sha256').update(hl7).digest('hex')}`)

    assert.match(ok(await cli(['research', 'withdraw', '--study', created.studyId, '--as', a.patient.email])), /consent withdrawn/)
    const again = join(work, 'export-2')
    ok(await cli(['study', 'export', created.studyId, '--out', again, '--as', researcher.email]))
    assert.equal(JSON.parse(readFileSync(join(again, 'manifest.json'), 'utf8')).patients, 0)
    assert.equal(existsSync(join(again, 'Patient.ndjson')), false)
    // --out a file, or a directory holding an export already: refused before anything is requested
    // (before: the export was collected and recorded on chain, then writing failed with INTERNAL ENOTDIR)
    for (const target of [join(again, 'manifest.json'), out]) {
      const refused = await cli(['study', 'export', created.studyId, '--out', target, '--as', researcher.email])
      assert.equal(refused.code, 2, refused.stderr)
      assert.match(refused.stderr, /^error: USAGE: --out .*(not a directory|not empty)/m)
      assert.doesNotMatch(refused.stderr, /study export 0x/, 'no export was requested')
    }
  })

  it('a researcher cannot read the patient\'s record, and a study under its min-k is refused with K_TOO_SMALL', async () => {
    const list = await cli(['record', 'list', '--patient', a.patient.email, '--as', researcher.email])
    assert.notEqual(list.code, 0)
    const study = JSON.parse(ok(await cli(['study', 'create', '--title', 'Small', '--purpose', 'x', '--min-k', '3', '--as', researcher.email])))
    ok(await cli(['study', 'approve', study.studyId, '--as', testEnv.MEDLEDGER_ADMIN_EMAIL]))
    ok(await cli(['research', 'consent', '--study', study.studyId, '--as', a.patient.email]))
    const refused = await cli(['study', 'export', study.studyId, '--out', join(work, 'small'), '--as', researcher.email])
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr, /K_TOO_SMALL/)
    assert.equal(existsSync(join(work, 'small', 'manifest.json')), false)
  })
})
