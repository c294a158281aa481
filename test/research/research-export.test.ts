import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startInProcessNode, InjectApi, type InProcessNode } from '../helpers/in-process-node.ts'
import { fixtures, seed } from '../helpers/node-process.ts'
import * as dicomParserModule from 'dicom-parser'
import { clinicalCodes, identifyingCcdaStrings, identifyingHl7Strings, identifyingStrings, identifyingValues, leaks, type DS } from './identifying-strings.ts'

const dicomParser = ((dicomParserModule as unknown as { default?: typeof dicomParserModule }).default ?? dicomParserModule)

// One whole node in this process (embedded anvil, Helia on a temp dir, SQLite), its API through
// inject(): researchers, studies, research consent and de-identified exports (issue 12).
describe('research: studies, consent and de-identified exports', () => {
  let node: InProcessNode
  let api: InjectApi
  let a: Awaited<ReturnType<typeof seed>>
  let researcher = ''
  const bundles = readdirSync(join(fixtures, 'fhir')).filter((f) => /^[A-Z].*\.json$/.test(f)).sort()
  const originals = bundles.map((f) => JSON.parse(readFileSync(join(fixtures, 'fhir', f), 'utf8')))
  const patients: { email: string; token: string; id: string }[] = []
  const recordIds: string[] = []
  const ccdaFile = readdirSync(join(fixtures, 'ccda')).sort()[0]!

  const study = async (title: string, minK?: number) => {
    const r = await api.json('POST', '/studies', { title, purpose: `Protocol of ${title}: retrospective, de-identified.`, ...(minK ? { minK } : {}) }, researcher)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return r.body.studyId as string
  }
  const exportOf = async (id: string) => api.json('POST', `/studies/${id}/export`, undefined, researcher)

  before(async () => {
    node = await startInProcessNode()
    api = new InjectApi(node.app, node.url)
    a = await seed(api, { hospitalName: 'Research General', tag: 'r' })
    const signup = await api.json('POST', '/signup', { role: 'researcher', hospital: a.hospital.id, email: 'researcher@example.org', name: 'Rita Search', password: 'researcher-password-123' }, null)
    assert.equal(signup.status, 201, JSON.stringify(signup.body))
    assert.equal(signup.body.account.status, 'pending')
    researcher = await api.login('researcher@example.org', 'researcher-password-123')
    // pending: no study yet
    assert.equal((await api.json('POST', '/studies', { title: 'Too early', purpose: 'x' }, researcher)).status, 403)
    const confirmed = await api.json('POST', `/researchers/${signup.body.account.id}/confirm`, undefined, a.admin)
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body))
    researcher = await api.login('researcher@example.org', 'researcher-password-123')
    patients.push({ email: a.patient.email, token: a.patient.token, id: a.patient.id })
    for (let i = 1; i < bundles.length; i++) {
      const email = `research-patient-${i}@example.org`
      const r = await api.json('POST', '/users', { role: 'patient', hospital: a.hospital.id, email, name: `Patient ${i}`, password: 'patient-password-123' }, a.admin)
      assert.equal(r.status, 201, JSON.stringify(r.body))
      patients.push({ email, token: await api.login(email, 'patient-password-123'), id: r.body.account.id })
    }
    for (let i = 0; i < bundles.length; i++) {
      const up = await api.upload(a.doctor.token, patients[i]!.email, bundles[i]!, readFileSync(join(fixtures, 'fhir', bundles[i]!)))
      assert.equal(up.status, 201, JSON.stringify(up.body))
      recordIds.push(up.body.recordId)
    }
    // a DICOM image, a C-CDA document and an HL7 v2 message of the first patient (exported de-identified)
    for (const [folder, file] of [['dicom', 'CT_small.dcm'], ['ccda', ccdaFile], ['hl7v2', 'message1.hl7']]) {
      const up = await api.upload(a.doctor.token, patients[0]!.email, file!, readFileSync(join(fixtures, folder!, file!)))
      assert.equal(up.status, 201, JSON.stringify(up.body))
    }
  })
  after(() => node?.stop())

  it('a researcher reaches no identified record, native or FHIR, whatever grant exists', async () => {
    // the patient shares the record with the researcher by name, and by a token the researcher holds
    const named = await api.json('POST', '/shares', { recordIds: [recordIds[0]], to: 'researcher@example.org', days: 1 }, patients[0]!.token)
    assert.equal(named.status, 201, JSON.stringify(named.body))
    const token = await api.json('POST', '/shares', { recordIds: [recordIds[0]], token: true, days: 1 }, patients[0]!.token)
    assert.equal(token.status, 201, JSON.stringify(token.body))
    const withToken = await api.call('GET', `/records/${recordIds[0]}`, { token: researcher, headers: { 'x-medledger-share-token': token.body.token } })
    assert.equal(withToken.status, 404)
    for (const path of [`/records/${recordIds[0]}`, `/records/${recordIds[0]}/meta`]) {
      const r = await api.json('GET', path, undefined, researcher)
      assert.equal(r.status, 404, path)
      assert.equal(r.body.code, 'RECORD_NOT_FOUND')
    }
    const fhir = await api.call('GET', '', { token: researcher }).then(() => node.app.inject({ method: 'GET', url: `/fhir/R4/Binary/${recordIds[0]!.slice(2)}`, headers: { authorization: `Bearer ${researcher}` } }))
    assert.equal(fhir.statusCode, 404)
    assert.equal((await api.json('GET', '/records', undefined, researcher)).status, 403)
  })

  it('an unapproved study takes no consent and no export; a rejected one neither', async () => {
    const id = await study('Unapproved')
    const consent = await api.json('POST', `/studies/${id}/consent`, undefined, patients[0]!.token)
    assert.equal(consent.status, 409)
    assert.equal(consent.body.code, 'STUDY_NOT_APPROVED')
    const exported = await exportOf(id)
    assert.equal(exported.status, 409)
    assert.equal(exported.body.code, 'STUDY_NOT_APPROVED')
    // only the admin decides
    assert.equal((await api.json('POST', `/studies/${id}/approve`, undefined, researcher)).status, 403)
    assert.equal((await api.json('POST', `/studies/${id}/reject`, undefined, a.admin)).body.status, 'rejected')
    assert.equal((await api.json('POST', `/studies/${id}/approve`, undefined, a.admin)).body.code, 'STUDY_NOT_PENDING')
    assert.equal((await api.json('POST', `/studies/${id}/consent`, undefined, patients[0]!.token)).body.code, 'STUDY_NOT_APPROVED')
  })

  it('exports the consenting patients de-identified: no identifying string of any original, every clinical code, the manifest; a withdrawal is honoured at the next export', async () => {
    const id = await study('COVID-19 outcomes in children')
    assert.equal((await api.json('POST', `/studies/${id}/approve`, undefined, a.admin)).status, 200)
    for (const p of patients) {
      const r = await api.json('POST', `/studies/${id}/consent`, undefined, p.token)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      assert.deepEqual([r.body.consent, r.body.purpose], ['given', 'HRESCH'])
    }
    assert.equal((await api.json('POST', `/studies/${id}/consent`, undefined, patients[0]!.token)).body.code, 'RESEARCH_CONSENT_EXISTS')

    const first = await exportOf(id)
    assert.equal(first.status, 200, JSON.stringify(first.body))
    const { manifest, files: all } = first.body as { manifest: Record<string, any>; files: { name: string; content: string; encoding?: string }[] }
    const files = all.filter((f) => f.name.endsWith('.ndjson'))
    const documents = all.filter((f) => f.name.startsWith('ccda/'))
    assert.equal(documents.length, 1)
    assert.equal(manifest.ccda, 1)
    const ccdaSecrets = identifyingCcdaStrings(readFileSync(join(fixtures, 'ccda', ccdaFile), 'utf8'))
    assert.deepEqual(leaks(ccdaSecrets, documents[0]!.content), [])
    const messages = all.filter((f) => f.name.startsWith('hl7v2/'))
    assert.equal(messages.length, 1)
    assert.equal(manifest.hl7v2, 1)
    assert.match(messages[0]!.name, /^hl7v2\/[0-9a-f]{32}\.hl7$/)
    assert.deepEqual(leaks(identifyingHl7Strings(readFileSync(join(fixtures, 'hl7v2', 'message1.hl7'), 'utf8')), messages[0]!.content), [])
    assert.match(messages[0]!.content, /^MSH\|\^~\\&\|.*\|ADT\^A01\|/)
    const images = all.filter((f) => f.name.startsWith('dicom/'))
    assert.equal(images.length, 1)
    assert.equal(manifest.dicom, 1)
    const ct = Buffer.from(images[0]!.content, 'base64')
    const secretValues = identifyingValues(dicomParser.parseDicom(new Uint8Array(readFileSync(join(fixtures, 'dicom', 'CT_small.dcm')))) as unknown as DS)
    assert.deepEqual(leaks(secretValues, ct.toString('latin1')), [])
    assert.match(images[0]!.name, /^dicom\/2\.25\.\d+\.dcm$/)
    // the manifest names every file with its SHA-256, so its hash on chain covers them all
    const sha = (b: Buffer) => `0x${createHash('sha256').update(b).digest('hex')}`
    const byUrl = new Map((manifest.output as { url: string; sha256: string }[]).map((o) => [o.url, o.sha256]))
    for (const f of all) assert.equal(byUrl.get(f.name), sha(Buffer.from(f.content, f.encoding === 'base64' ? 'base64' : 'utf8')), f.name)
    assert.equal(byUrl.size, all.length)
    assert.equal(first.body.manifestHash, sha(Buffer.from(JSON.stringify(manifest, null, 2) + '\n')))
    assert.equal(manifest.studyId, id)
    assert.equal(manifest.patients, patients.length)
    assert.equal(manifest.skippedRecords, 0)
    assert.ok(Array.isArray(manifest.rules) && manifest.rules.length > 3)
    assert.equal(typeof manifest.k, 'number')
    const text = files.map((f) => f.content).join('')
    for (const [i, original] of originals.entries()) {
      const leaked = leaks(identifyingStrings(original), text)
      assert.deepEqual(leaked, [], `${bundles[i]}: identifying strings in the export`)
    }
    assert.doesNotMatch(text, /\d{4}-\d{2}-\d{2}/, 'no full date')
    // none of the patients' accounts (e-mail, name, address, id) either
    for (const p of patients) assert.ok(!text.includes(p.email) && !text.includes(p.id))
    const exported = clinicalCodes({ entry: files.flatMap((f) => f.content.trim().split('\n')).map((l) => ({ resource: JSON.parse(l) })) })
    for (const original of originals) assert.deepEqual([...clinicalCodes(original)].filter((c) => !exported.has(c)), [])
    for (const f of files) {
      const type = f.name.replace(/\.ndjson$/, '')
      const lines = f.content.trim().split('\n').map((l) => JSON.parse(l))
      assert.ok(lines.every((r) => r.resourceType === type), f.name)
      assert.equal(manifest.resources[type], lines.length)
    }
    const patientsFile = files.find((f) => f.name === 'Patient.ndjson')!.content.trim().split('\n').map((l) => JSON.parse(l))
    assert.equal(patientsFile.length, patients.length)
    // k: the smallest group over (birth year, sex, ZIP3), computed here from the exported Patients
    const groups = new Map<string, number>()
    for (const p of patientsFile) groups.set(`${p.birthDate}|${p.gender}|${p.address?.[0]?.postalCode}`, (groups.get(`${p.birthDate}|${p.gender}|${p.address?.[0]?.postalCode}`) ?? 0) + 1)
    assert.equal(manifest.k, Math.min(...groups.values()))

    // the first patient withdraws: gone from the next export; the others keep their pseudonyms
    const withdrawn = await api.json('POST', `/studies/${id}/withdraw`, undefined, patients[0]!.token)
    assert.equal(withdrawn.body.consent, 'withdrawn')
    assert.equal((await api.json('POST', `/studies/${id}/withdraw`, undefined, patients[0]!.token)).body.code, 'NO_RESEARCH_CONSENT')
    const second = await exportOf(id)
    assert.equal(second.status, 200, JSON.stringify(second.body))
    assert.equal(second.body.manifest.patients, patients.length - 1)
    assert.equal(second.body.manifest.exportNumber, first.body.manifest.exportNumber + 1)
    const ids = (r: typeof first) => new Set((r.body.files as { name: string; content: string }[]).find((f) => f.name === 'Patient.ndjson')!.content.trim().split('\n').map((l) => JSON.parse(l).id as string))
    const before = ids(first)
    const after = ids(second)
    assert.equal([...after].filter((x) => !before.has(x)).length, 0)
    assert.equal(before.size - after.size, 1)
    // another study: other pseudonyms for the same patients
    const other = await study('Another study')
    await api.json('POST', `/studies/${other}/approve`, undefined, a.admin)
    await api.json('POST', `/studies/${other}/consent`, undefined, patients[1]!.token)
    const third = await exportOf(other)
    assert.equal(third.body.manifest.patients, 1)
    assert.equal([...ids(third)].filter((x) => before.has(x)).length, 0)

    // the timelines: the withdrawn patient sees their consent, the first export only and the withdrawal; the others both exports
    const trail = async (p: { id: string; token: string }) => ((await api.json('GET', `/audit?patient=${p.id}`, undefined, p.token)).body.entries as { event: string; purpose: string | null; txHash: string; why: string | null; ref: string | null }[])
      .filter((e) => e.ref === id)
    const gone = await trail(patients[0]!)
    assert.deepEqual(gone.map((e) => e.event).sort(), ['ResearchConsentGiven', 'ResearchConsentWithdrawn', 'StudyExported'])
    assert.ok(gone.every((e) => e.purpose === 'HRESCH' && e.why === 'COVID-19 outcomes in children'))
    assert.deepEqual(gone.filter((e) => e.event === 'StudyExported').map((e) => e.txHash), [first.body.txHash])
    const stayed = await trail(patients[1]!)
    assert.deepEqual(stayed.filter((e) => e.event === 'StudyExported').map((e) => e.txHash).sort(), [first.body.txHash, second.body.txHash].sort())

    // and as FHIR Consents (purpose HRESCH): inactive once withdrawn, active while given; each patient sees their own
    const consents = async (p: { token: string }) => {
      const r = await node.app.inject({ method: 'GET', url: '/fhir/R4/Consent', headers: { authorization: `Bearer ${p.token}` } })
      assert.equal(r.statusCode, 200, r.body)
      return (JSON.parse(r.body).entry ?? []).map((e: { resource: any }) => e.resource)
        .filter((c: any) => c.identifier.some((i: { value: string }) => i.value === `urn:medledger:study:${id.toLowerCase()}`))
    }
    const [withdrawnConsent] = await consents(patients[0]!)
    const [givenConsent] = await consents(patients[1]!)
    assert.equal(withdrawnConsent.status, 'inactive')
    assert.equal(givenConsent.status, 'active')
    assert.deepEqual(givenConsent.provision.purpose, [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'HRESCH', display: 'healthcare research' }])
    assert.notEqual(withdrawnConsent.id, givenConsent.id)
    assert.equal(givenConsent.patient.reference, `Patient/${patients[1]!.id}`)
  })

  it('a consent to every approved study of a hospital covers a new study until withdrawn from it', async () => {
    const p = patients[2]!
    const given = await api.json('POST', `/hospitals/${a.hospital.id}/research-consent`, undefined, p.token)
    assert.equal(given.status, 200, JSON.stringify(given.body))
    assert.deepEqual([given.body.consent, given.body.purpose], ['given', 'HRESCH'])
    assert.equal((await api.json('POST', `/hospitals/${a.hospital.id}/research-consent`, undefined, p.token)).body.code, 'RESEARCH_CONSENT_EXISTS')
    const id = await study('Hospital-wide cohort')
    await api.json('POST', `/studies/${id}/approve`, undefined, a.admin)
    const listed = (await api.json('GET', '/studies', undefined, p.token)).body.studies as { studyId: string; consent: string | null }[]
    assert.equal(listed.find((s) => s.studyId === id)?.consent, 'given')
    const exported = await exportOf(id)
    assert.equal(exported.body.manifest.patients, 1)
    // withdrawn from this study alone: out of its next export, the hospital-wide consent stays
    assert.equal((await api.json('POST', `/studies/${id}/withdraw`, undefined, p.token)).body.consent, 'withdrawn')
    assert.equal((await exportOf(id)).body.manifest.patients, 0)
    const trail = ((await api.json('GET', `/audit?patient=${p.id}`, undefined, p.token)).body.entries as { event: string; purpose: string | null }[])
    assert.ok(trail.some((e) => e.event === 'HospitalResearchConsentGiven' && e.purpose === 'HRESCH'))
    assert.equal((await api.json('POST', `/hospitals/${a.hospital.id}/research-withdraw`, undefined, p.token)).body.consent, 'withdrawn')
    assert.equal((await api.json('POST', `/hospitals/${a.hospital.id}/research-withdraw`, undefined, p.token)).body.code, 'NO_RESEARCH_CONSENT')
    const fhir = await node.app.inject({ method: 'GET', url: '/fhir/R4/Consent', headers: { authorization: `Bearer ${p.token}` } })
    const all = (JSON.parse(fhir.body).entry ?? []).map((e: { resource: any }) => e.resource)
    const hospitalWide = all.filter((c: any) => c.identifier.some((i: { value: string }) => i.value === `urn:medledger:hospital-studies:${a.hospital.address.toLowerCase()}`))
    assert.equal(hospitalWide.length, 1)
    assert.equal(hospitalWide[0].status, 'inactive')
    assert.equal(hospitalWide[0].provision.purpose[0].code, 'HRESCH')
    assert.equal(hospitalWide[0].provision.actor[0].reference.reference, `Organization/${a.hospital.id}`)
  })

  it('a research consent keeps a copy of the patient\'s records\' keys for their hospital; an erased record\'s copy goes, and withdrawing the last consent drops the rest', async () => {
    const email = 'research-keys@example.org'
    const made = await api.json('POST', '/users', { role: 'patient', hospital: a.hospital.id, email, name: 'Keys Patient', password: 'patient-password-123' }, a.admin)
    assert.equal(made.status, 201, JSON.stringify(made.body))
    const token = await api.login(email, 'patient-password-123')
    const ids: string[] = []
    for (const name of ['one.txt', 'two.txt']) ids.push((await api.upload(a.doctor.token, email, name, Buffer.from(`research keys ${name}`))).body.recordId as string)
    const kept = async () => (await node.node.services.db.all<{ record_id: string }>('SELECT record_id FROM research_record_keys WHERE patient_id = ? ORDER BY record_id', made.body.account.id)).map((r) => r.record_id)
    assert.deepEqual(await kept(), [])
    const id = await study('Research keys cohort')
    assert.equal((await api.json('POST', `/studies/${id}/approve`, undefined, a.admin)).status, 200)
    assert.equal((await api.json('POST', `/studies/${id}/consent`, undefined, token)).status, 200)
    assert.deepEqual(await kept(), [...ids].map((x) => x.toLowerCase()).sort())
    // a record uploaded after the consent gets its copy at upload; a re-keyed one's new version too, the old one's goes
    const three = await api.upload(a.doctor.token, email, 'three.txt', Buffer.from('research keys three.txt'))
    assert.equal(three.status, 201, JSON.stringify(three.body))
    const rekeyed = await api.json('POST', `/records/${ids[1]}/rekey`, undefined, token)
    assert.equal(rekeyed.status, 201, JSON.stringify(rekeyed.body))
    ids[1] = rekeyed.body.recordId as string
    assert.deepEqual(await kept(), [ids[0]!, ids[1]!, three.body.recordId as string].map((x) => x.toLowerCase()).sort())
    // kept for the patient's home hospital
    const copy = await node.node.services.db.get<{ hospital_id: string }>('SELECT hospital_id FROM research_record_keys WHERE record_id = ?', String(three.body.recordId).toLowerCase())
    assert.equal(copy?.hospital_id, a.hospital.id)
    const erasure = await api.json('POST', `/records/${ids[0]}/erasure`, { reason: 'no longer needed' }, token)
    assert.equal(erasure.status, 201, JSON.stringify(erasure.body))
    assert.equal((await api.json('POST', `/erasures/${erasure.body.erasureId}/confirm`, undefined, a.admin)).status, 200)
    for (let i = 0; i < 100 && (await kept()).length > 2; i++) await new Promise((r) => setTimeout(r, 100))
    assert.deepEqual(await kept(), [ids[1]!, three.body.recordId as string].map((x) => x.toLowerCase()).sort())
    assert.equal((await api.json('POST', `/studies/${id}/withdraw`, undefined, token)).status, 200)
    assert.deepEqual(await kept(), [])
    // with no consent given, an upload keeps no copy
    await api.upload(a.doctor.token, email, 'four.txt', Buffer.from('research keys four.txt'))
    assert.deepEqual(await kept(), [])
  })

  it('an export under the study\'s min-k is refused, and nothing is recorded', async () => {
    const id = await study('Small cohort', 2)
    await api.json('POST', `/studies/${id}/approve`, undefined, a.admin)
    await api.json('POST', `/studies/${id}/consent`, undefined, patients[1]!.token)
    const r = await exportOf(id)
    assert.equal(r.status, 409)
    assert.equal(r.body.code, 'K_TOO_SMALL')
    const listed = (await api.json('GET', '/studies', undefined, researcher)).body.studies as { studyId: string; minK: number | null }[]
    assert.equal(listed.find((s) => s.studyId === id)?.minK, 2)
    // someone else's study is not the researcher's to export; a patient sees only approved studies with their consent
    const mine = (await api.json('GET', '/studies', undefined, patients[1]!.token)).body.studies as { studyId: string; consent: string | null; purpose?: string }[]
    assert.equal(mine.find((s) => s.studyId === id)?.consent, 'given')
    assert.ok(mine.every((s) => s.purpose === undefined))
  })

  it('k counts a patient known only by a C-CDA document or an HL7 v2 message by the birth year, sex and ZIP it still shows', async () => {
    // Before: such a patient counted as unknown (*, *, *), so two of them with different
    // birth years and sexes made a group of 2 and passed min-k 2, each alone in the export.
    const id = await study('Documents only', 2)
    await api.json('POST', `/studies/${id}/approve`, undefined, a.admin)
    for (const [folder, file] of [['hl7v2', 'message1.hl7'], ['ccda', ccdaFile]] as const) {
      const email = `documents-only-${folder}@example.org`
      const created = await api.json('POST', '/users', { role: 'patient', hospital: a.hospital.id, email, name: `Only ${folder}`, password: 'patient-password-123' }, a.admin)
      assert.equal(created.status, 201, JSON.stringify(created.body))
      assert.equal((await api.upload(a.doctor.token, email, file, readFileSync(join(fixtures, folder, file)))).status, 201)
      const token = await api.login(email, 'patient-password-123')
      assert.equal((await api.json('POST', `/studies/${id}/consent`, undefined, token)).status, 200)
    }
    const r = await exportOf(id)
    assert.equal(r.status, 409, JSON.stringify(r.body).slice(0, 300))
    assert.equal(r.body.code, 'K_TOO_SMALL')
  })

  it('tells the researcher by mail, as a doctor is told: confirmed or not, and each study approved or rejected, naming no study and no reason', async () => {
    type Mail = { kind: string; subject: string; body: string }
    const approved = await study('Mailed approval cohort')
    const rejected = await study('Mailed rejection cohort')
    assert.equal((await api.json('POST', `/studies/${approved}/approve`, undefined, a.admin)).status, 200)
    assert.equal((await api.json('POST', `/studies/${rejected}/reject`, undefined, a.admin)).status, 200)
    const got = (await api.json('GET', '/mail?limit=100', undefined, researcher)).body.mail as Mail[]
    const kinds = got.map((m) => m.kind)
    for (const k of ['researcher-confirmed', 'study-approved', 'study-rejected']) assert.ok(kinds.includes(k), `${k} in ${kinds}`)
    assert.equal(kinds.filter((k) => k === 'researcher-confirmed').length, 1)
    const decided = (await api.json('GET', '/studies', undefined, researcher)).body.studies as { studyId: string; status: string }[]
    assert.equal(kinds.filter((k) => k === 'study-approved').length, decided.filter((s) => s.status === 'approved').length)
    assert.equal(kinds.filter((k) => k === 'study-rejected').length, decided.filter((s) => s.status === 'rejected').length)
    const newest = (kind: string) => got.find((m) => m.kind === kind)!
    assert.match(newest('study-approved').body, /^Hello Rita Search,\n/)
    assert.match(newest('study-approved').body, /\(consortium admin\) approved one of your studies/)
    assert.match(newest('study-rejected').subject, /^Your study was not approved$/)
    assert.match(newest('researcher-confirmed').body, /confirmed your researcher account/)
    for (const m of got) assert.ok(!/cohort|Protocol of|0x[0-9a-f]{16,}|password/i.test(m.subject + m.body), `${m.kind} names no study, id or secret`)
    // a second sign-up, rejected with a reason: told so, without the reason
    const reason = 'Institution not registered with the ethics board 7Q4Z'
    const signup = await api.json('POST', '/signup', { role: 'researcher', hospital: a.hospital.id, email: 'refused-researcher@example.org', name: 'Rob Refused', password: 'researcher-password-456' }, null)
    assert.equal(signup.status, 201, JSON.stringify(signup.body))
    const refused = await api.json('POST', `/researchers/${signup.body.account.id}/reject`, { reason }, a.admin)
    assert.equal(refused.status, 200, JSON.stringify(refused.body))
    const theirs = await node.node.services.db.all('SELECT kind, subject, body FROM outbox WHERE account_id = ?', signup.body.account.id) as Mail[]
    assert.deepEqual(theirs.map((m) => m.kind), ['researcher-rejected'])
    assert.match(theirs[0]!.body, /^Hello Rob Refused,\n/)
    assert.match(theirs[0]!.body, /did not confirm your researcher account/)
    assert.ok(!theirs[0]!.body.includes('7Q4Z') && !theirs[0]!.subject.includes('7Q4Z'), 'no reason in the mail')
  })
})
