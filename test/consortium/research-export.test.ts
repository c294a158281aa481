// A study export across nodes (issue 12): two hospital nodes as separate processes on one real
// anvil chain, peered over libp2p. A researcher of A proposes a study, the admin approves it; a
// patient of A and two of B consent (B's through B's node, to the study mirrored there), one of
// B's withdraws. The researcher's `medledger study export` on A requests the export on chain;
// each node's follower de-identifies its own consenting patients (the identified plaintext never
// leaves it), encrypts its part for the researcher into IPFS and submits it on chain from its
// hospital's account; the CLI waits for both parts, merges them (k over both) and records the
// export. Checked: both parts in, A's and B's consenting patients exported with none of their
// bundles' identifying strings, the withdrawn patient left out by B, B's patients' timelines on
// B. Runs once (subfolder): the database makes no difference to it.
import { after, before, test } from 'node:test'
import { waitFor as pollUntil } from '../helpers/consortium.ts'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Api, cleanup, fixtures, runCli, seed, startNodeProcess, tempDir, testEnv, type NodeProcess } from '../helpers/node-process.ts'
import { startAnvil, type StartAnvilResult } from '../../src/ledger/anvil.ts'
import { clinicalCodes, identifyingCcdaStrings, identifyingStrings, leaks } from '../research/identifying-strings.ts'

/** The shared poll, with this file's longer default bound. */
const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> => pollUntil(what, fn, timeoutMs)

let chain: StartAnvilResult
const chainHome = tempDir('ml-rx-chain-')
const homes = { a: tempDir('ml-rx-a-'), b: tempDir('ml-rx-b-') }
const cliHome = tempDir('ml-rx-cli-')
const out = tempDir('ml-rx-out-')
const nodes: NodeProcess[] = []
let a: Api
let b: Api
let founding: Awaited<ReturnType<typeof seed>>
const researcher = { email: 'rita@example.org', password: 'researcher-password-123' }
const bundles = readdirSync(join(fixtures, 'fhir')).filter((f) => /^[A-Z].*\.json$/.test(f)).sort().slice(0, 3)
type Patient = { id: string; email: string; token: string }
const onB: Patient[] = []
let doctorB: Patient
const ccdaFile = readdirSync(join(fixtures, 'ccda')).sort()[0]!

const status = async (api: Api) => (await api.json('GET', '/status')).body as { registry: string; hospitalAddress: string; admitted: boolean; ipfsAddrs: string[] }
function query<T>(home: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(home, 'medledger.db'), { readonly: true, fileMustExist: true })
  try { return db.prepare(sql).all(...params) as T[] } finally { db.close() }
}
const ok = (r: { code: number | null; stdout: string; stderr: string }) => {
  assert.equal(r.code, 0, r.stderr)
  return r
}

before(async () => {
  chain = await startAnvil({ home: chainHome, port: 0 })
  nodes.push(await startNodeProcess({ home: homes.a, args: ['--chain-rpc', chain.rpcUrl, '--ipfs-listen', '/ip4/127.0.0.1/tcp/0'] }))
  a = new Api(nodes[0]!.url)
  founding = await seed(a, { hospitalName: 'Hospital A', tag: 'a' })
  const published = await waitFor('A published', async () => { const s = await status(a); return s.ipfsAddrs.length > 0 && s.admitted ? s : undefined })
  nodes.push(await startNodeProcess({ home: homes.b, args: ['--chain-rpc', chain.rpcUrl, '--ipfs-listen', '/ip4/127.0.0.1/tcp/0', '--registry', published.registry, '--hospital-name', 'Hospital B', '--ipfs-peer', published.ipfsAddrs[0]!] }))
  b = new Api(nodes[1]!.url)
  const adminB = await b.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
  assert.equal((await a.json('POST', '/hospitals/admit', { address: (await status(b)).hospitalAddress.toLowerCase(), name: 'Hospital B' }, founding.admin)).body.admitted, true)
  await waitFor('B admitted', async () => (await status(b)).admitted)
  const user = async (role: string, email: string) => {
    const r = await waitFor(`${email} on B`, async () => {
      const res = await b.json('POST', '/users', { role, email, name: `${role} ${email}`, password: `${role}-password-123` }, adminB)
      return res.status === 409 && res.body?.code === 'NOT_ADMITTED' ? undefined : res
    })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return { id: r.body.account.id as string, email, token: await b.login(email, `${role}-password-123`) }
  }
  doctorB = await user('doctor', 'doctor-b@example.org')
  for (const n of [1, 2]) onB.push(await user('patient', `patient-b${n}@example.org`))
  // One Synthea bundle per patient: A's patient, B's consenting patient, B's patient who withdraws.
  const up = await a.upload(founding.doctor.token, founding.patient.email, bundles[0]!, readFileSync(join(fixtures, 'fhir', bundles[0]!)))
  assert.equal(up.status, 201, JSON.stringify(up.body))
  for (const [i, p] of onB.entries()) {
    const r = await b.upload(doctorB.token, p.email, bundles[i + 1]!, readFileSync(join(fixtures, 'fhir', bundles[i + 1]!)))
    assert.equal(r.status, 201, JSON.stringify(r.body))
  }
  // The researcher signs up on A and is confirmed there.
  const signup = await a.json('POST', '/signup', { role: 'researcher', hospital: founding.hospital.id, email: researcher.email, name: 'Rita Search', password: researcher.password }, null)
  assert.equal(signup.status, 201, JSON.stringify(signup.body))
  assert.equal((await a.json('POST', `/researchers/${signup.body.account.id}/confirm`, undefined, founding.admin)).status, 200)
})

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
  await chain?.stop()
  cleanup(chainHome, homes.a, homes.b, cliHome, out)
})

test('a researcher of A exports a study with the consenting patients of A and B, de-identified on their home nodes; the withdrawn patient of B is left out', async () => {
  const rita = await a.login(researcher.email, researcher.password)
  const created = await a.json('POST', '/studies', { title: 'Two-node cohort', purpose: 'Retrospective, de-identified, across the consortium.' }, rita)
  assert.equal(created.status, 201, JSON.stringify(created.body))
  const studyId = created.body.studyId as string
  assert.equal((await a.json('POST', `/studies/${studyId}/approve`, undefined, founding.admin)).status, 200)
  assert.equal((await a.json('POST', `/studies/${studyId}/consent`, undefined, founding.patient.token)).status, 200)
  // B's patients see the study once B's follower mirrored it and its approval, and consent on B.
  await waitFor('the study approved on B', async () => ((await b.json('GET', '/studies', undefined, onB[0]!.token)).body.studies as { studyId: string; status: string }[])
    .some((s) => s.studyId === studyId && s.status === 'approved'))
  for (const p of onB) {
    const r = await b.json('POST', `/studies/${studyId}/consent`, undefined, p.token)
    assert.equal(r.status, 200, JSON.stringify(r.body))
  }
  assert.equal((await b.json('POST', `/studies/${studyId}/withdraw`, undefined, onB[1]!.token)).status, 200)
  // A record stored after the consent (split among A and B: no single hospital's key opens it) is exported too.
  const late = await b.upload(doctorB.token, onB[0]!.email, ccdaFile, readFileSync(join(fixtures, 'ccda', ccdaFile)))
  assert.equal(late.status, 201, JSON.stringify(late.body))
  // It reaches B without a research copy here, as one B took from its anchor event (or whose anchor was
  // mined later from the journal) does: the copy its upload kept is taken away.
  const lateId = String(late.body.recordId).toLowerCase()
  const db = new Database(join(homes.b, 'medledger.db'), { fileMustExist: true, timeout: 10_000 })
  try { db.prepare('DELETE FROM research_record_keys WHERE record_id = ?').run(lateId) } finally { db.close() }
  assert.deepEqual(query(homes.b, 'SELECT 1 FROM research_record_keys WHERE record_id = ?', lateId), [])
  // Both of B's patients sign in again: the withdrawn one first (their records have no copy, and none is
  // made), then the consenting one, whose key tops up the late record's copy. Top-ups run in turn on a node.
  await b.login(onB[1]!.email, 'patient-password-123')
  await b.login(onB[0]!.email, 'patient-password-123')
  await waitFor('the late record\'s copy topped up at sign-in', async () => query(homes.b, 'SELECT 1 FROM research_record_keys WHERE record_id = ?', lateId).length > 0)
  assert.deepEqual(query(homes.b, 'SELECT record_id FROM research_record_keys WHERE patient_id = ?', onB[1]!.id), [], 'no consent given: no copy')

  ok(await runCli(['login', '--email', researcher.email, '--json'], { api: a.url, cliHome, input: `${researcher.password}\n` }))
  const exported = ok(await runCli(['study', 'export', studyId, '--out', out, '--timeout', '240', '--as', researcher.email], { api: a.url, cliHome }))
  assert.match(exported.stderr, /answered/, 'progress on stderr')
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'))
  for (const key of ['studyId', 'exportNumber', 'patients', 'resources', 'k', 'minK', 'rules', 'output', 'exportId', 'hospitals']) assert.ok(key in manifest, key)
  assert.equal(manifest.patients, 2)
  assert.deepEqual([manifest.ccda, manifest.skippedRecords], [1, 0], 'the C-CDA stored after the consent (its copy topped up at sign-in) is in, nothing left out')
  const [document] = readdirSync(join(out, 'ccda'))
  assert.deepEqual(leaks(identifyingCcdaStrings(readFileSync(join(fixtures, 'ccda', ccdaFile), 'utf8')), readFileSync(join(out, 'ccda', document!), 'utf8')), [])
  const hospitalA = (await status(a)).hospitalAddress.toLowerCase()
  const hospitalB = (await status(b)).hospitalAddress.toLowerCase()
  assert.deepEqual((manifest.hospitals as { hospital: string; answered: boolean; parts: number; patients: number }[]).map((h) => [h.hospital, h.answered, h.parts, h.patients]),
    [[hospitalA, true, 1, 1], [hospitalB, true, 1, 1]].sort(([x], [y]) => String(x).localeCompare(String(y))))
  assert.equal(manifest.resources.Patient, 2, JSON.stringify({ ...manifest, rules: undefined, output: undefined }))
  const patients = readFileSync(join(out, 'Patient.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string })
  assert.equal(patients.length, 2)
  // k over both parts' quasi-identifiers: at least 1 and at most the two patients.
  assert.ok(manifest.k >= 1 && manifest.k <= 2, `k ${manifest.k}`)
  const written = readdirSync(out).filter((f) => f.endsWith('.ndjson')).map((f) => readFileSync(join(out, f), 'utf8')).join('')
  for (const bundle of bundles) assert.deepEqual(leaks(identifyingStrings(JSON.parse(readFileSync(join(fixtures, 'fhir', bundle), 'utf8'))), written), [], bundle)
  // Clinical content of the consenting patients survives; each part's patients are known only on their home node.
  const survived = clinicalCodes({ entry: written.trim().split('\n').map((l) => ({ resource: JSON.parse(l) })) })
  for (const i of [0, 1]) assert.deepEqual([...clinicalCodes(JSON.parse(readFileSync(join(fixtures, 'fhir', bundles[i]!), 'utf8')))].filter((c) => !survived.has(c)), [], `codes of bundle ${i}`)
  assert.deepEqual(query<{ patient_id: string }>(homes.b, 'SELECT patient_id FROM study_export_part_patients').map((r) => r.patient_id), [onB[0]!.id])
  assert.deepEqual(query<{ patient_id: string }>(homes.a, 'SELECT patient_id FROM study_export_part_patients').map((r) => r.patient_id), [founding.patient.id])
  // The copies of data keys a research consent leaves for the home hospital: the withdrawn patient's are gone.
  assert.deepEqual(query<{ patient_id: string }>(homes.b, 'SELECT DISTINCT patient_id FROM research_record_keys').map((r) => r.patient_id), [onB[0]!.id])
  // B's consenting patient's timeline on B shows their data went into the export; the withdrawn one's does not.
  const trail = async (p: Patient) => ((await b.json('GET', `/audit?patient=${p.id}`, undefined, p.token)).body.entries as { event: string; purpose: string | null; why: string | null }[])
  assert.deepEqual((await trail(onB[0]!)).filter((e) => e.event === 'ExportPartSubmitted').map((e) => [e.purpose, e.why]), [['HRESCH', 'Two-node cohort']])
  assert.deepEqual((await trail(onB[1]!)).filter((e) => e.event === 'ExportPartSubmitted'), [])
  // The export is on chain from the researcher's key, as a single-node one is.
  assert.equal(query(homes.a, 'SELECT 1 FROM study_exports WHERE study_id = ?', studyId).length, 1)
  // Collected once: a second collect is refused and records nothing.
  const again = await a.json('POST', `/studies/${studyId}/exports/${manifest.exportId}/collect`, undefined, rita)
  assert.deepEqual([again.status, again.body.code], [409, 'EXPORT_ALREADY_COLLECTED'])
  assert.equal(query(homes.a, 'SELECT 1 FROM study_exports WHERE study_id = ?', studyId).length, 1)
  // A node that stopped after sending the export's transaction but before marking it: its journal
  // row still refuses a second collect, and nothing more is recorded.
  const rw = new Database(join(homes.a, 'medledger.db'), { fileMustExist: true, timeout: 10_000 })
  try { rw.prepare('UPDATE study_export_requests SET export_number = NULL WHERE export_id = ?').run(manifest.exportId) } finally { rw.close() }
  const unmarked = await a.json('POST', `/studies/${studyId}/exports/${manifest.exportId}/collect`, undefined, rita)
  assert.deepEqual([unmarked.status, unmarked.body.code], [409, 'EXPORT_ALREADY_COLLECTED'])
  assert.equal(query(homes.a, 'SELECT 1 FROM study_exports WHERE study_id = ?', studyId).length, 1)
  // Each node answered off its follower's path, once: its queued export done without an error.
  for (const home of [homes.a, homes.b]) {
    await waitFor('the export job done', async () => query<{ done_at: number | null }>(home, 'SELECT done_at FROM study_export_jobs').some((j) => j.done_at !== null))
    assert.deepEqual(query(home, 'SELECT next_at, reason FROM study_export_jobs'), [{ next_at: null, reason: null }])
  }
  assert.equal(query(homes.b, 'SELECT 1 FROM quarantined_events').length, 0)
})

test('a hospital that does not answer is listed in the manifest; with no part at all the export is refused with NO_EXPORT_PARTS and nothing is written', async () => {
  const rita = await a.login(researcher.email, researcher.password)
  // A second study only B's patient consents to, before B's node goes down.
  const created = await a.json('POST', '/studies', { title: 'Only B', purpose: 'Patients of B only.' }, rita)
  const onlyB = created.body.studyId as string
  assert.equal((await a.json('POST', `/studies/${onlyB}/approve`, undefined, founding.admin)).status, 200)
  await waitFor('the second study approved on B', async () => ((await b.json('GET', '/studies', undefined, onB[0]!.token)).body.studies as { studyId: string; status: string }[])
    .some((s) => s.studyId === onlyB && s.status === 'approved'))
  assert.equal((await b.json('POST', `/studies/${onlyB}/consent`, undefined, onB[0]!.token)).status, 200)
  await nodes[1]!.stop()

  const first = ((await a.json('GET', '/studies', undefined, rita)).body.studies as { studyId: string; title: string }[]).find((s) => s.title === 'Two-node cohort')!.studyId
  const partial = join(out, 'partial')
  const r = ok(await runCli(['study', 'export', first, '--out', partial, '--timeout', '3', '--as', researcher.email], { api: a.url, cliHome }))
  assert.match(r.stderr, /no answer from Hospital B/)
  const manifest = JSON.parse(readFileSync(join(partial, 'manifest.json'), 'utf8'))
  assert.equal(manifest.patients, 1)
  assert.deepEqual((manifest.hospitals as { name: string; answered: boolean }[]).map((h) => [h.name, h.answered]).sort(), [['Hospital A', true], ['Hospital B', false]])

  const none = join(out, 'none')
  const refused = await runCli(['study', 'export', onlyB, '--out', none, '--timeout', '3', '--as', researcher.email], { api: a.url, cliHome })
  assert.notEqual(refused.code, 0)
  assert.match(refused.stderr, /NO_EXPORT_PARTS/)
  assert.deepEqual(readdirSync(out).includes('none') ? readdirSync(none) : [], [])
  assert.equal(query(homes.a, 'SELECT 1 FROM study_exports WHERE study_id = ?', onlyB).length, 0)
})
