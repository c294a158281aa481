import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Api, cleanup, fixtures, seed, startNodeProcess, tempDir, testEnv, type NodeProcess } from '../helpers/node-process.ts'
import { chain, crashAfterSend, crashEnv, pooledCount, waitFor } from '../helpers/crash-after-send.ts'
import { openDatabase } from '../../src/db/open-database.ts'

// A hospital's part of a study export across nodes whose transaction was sent but whose receipt
// the node never handled (killed -9 with `submitExportPart` in the chain's pool, the chain losing
// it too): at the next start the journal sends it again, and the export worker, running the job
// again, keeps the part written pending before the send, so the patient's trail shows it.
describe('study export part, a research withdrawal, a study proposal, its approval and an export on this node: killed -9 after each was sent', () => {
  const home = tempDir('ml-export-crash-')
  let node: NodeProcess | undefined
  after(async () => {
    await node?.stop()
    cleanup(home)
  })

  it('after the restart the part is kept with its patient: the trail shows it and the researcher collects it', async () => {
    node = await startNodeProcess({ home, env: crashEnv })
    let api = new Api(node.url)
    const people = await seed(api)
    const signup = await api.json('POST', '/signup', { role: 'researcher', hospital: people.hospital.id, email: 'rita@example.org', name: 'Rita', password: 'researcher-password-123' }, null)
    assert.equal(signup.status, 201, JSON.stringify(signup.body))
    assert.equal((await api.json('POST', `/researchers/${signup.body.account.id}/confirm`, undefined, people.admin)).status, 200)
    const rita = await api.login('rita@example.org', 'researcher-password-123')
    const bundle = readFileSync(join(fixtures, 'fhir', 'Cris921_Rath779_d4519c92-d241-b2b2-7360-291d60be699e.json'))
    const up = await api.upload(people.doctor.token, people.patient.email, 'bundle.json', bundle, { 'content-type': 'application/fhir+json' })
    assert.equal(up.status, 201, JSON.stringify(up.body))
    const created = await api.json('POST', '/studies', { title: 'Crash cohort', purpose: 'Crash protocol.' }, rita)
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const studyId = created.body.studyId as string
    assert.equal((await api.json('POST', `/studies/${studyId}/approve`, undefined, people.admin)).status, 200)
    assert.equal((await api.json('POST', `/studies/${studyId}/consent`, undefined, people.patient.token)).status, 200)

    // Mining stops; the researcher's request is mined alone, then the hospital's part waits in the pool.
    const rpc = (await api.json('GET', '/status')).body.chainRpc as string
    const pooled = (address: string) => pooledCount(rpc, address)
    await chain(rpc, 'evm_setAutomine', [false])
    const asked = api.json('POST', `/studies/${studyId}/exports`, undefined, rita)
    await waitFor(() => pooled(signup.body.account.address), (n) => n === 1)
    await chain(rpc, 'evm_mine')
    const requested = await asked
    assert.equal(requested.status, 201, JSON.stringify(requested.body))
    const exportId = requested.body.exportId as string
    const part = await waitFor(() => pooled(people.hospital.address), (n) => n === 1)
    assert.equal(part, 1, 'the hospital\'s part is in the chain\'s pool')
    await node.crash()

    node = await startNodeProcess({ home, env: crashEnv })
    assert.match(node.output(), /re-sent from the journal/, 'the chain had lost the part and the journal re-sent it')
    api = new Api(node.url)
    const patient = await api.login(people.patient.email, people.patient.password)
    const trail = await waitFor(async () => ((await api.json('GET', `/audit?patient=${people.patient.id}`, undefined, patient)).body.entries as { event: string; why: string | null }[]),
      (entries) => entries.some((e) => e.event === 'ExportPartSubmitted'))
    assert.deepEqual(trail.filter((e) => e.event === 'ExportPartSubmitted').map((e) => e.why), ['Crash cohort'], 'the patient sees the part that holds their data')
    const researcher = await api.login('rita@example.org', 'researcher-password-123')
    const collected = await api.json('POST', `/studies/${studyId}/exports/${exportId}/collect`, undefined, researcher)
    assert.equal(collected.status, 200, JSON.stringify(collected.body))
    assert.equal(collected.body.manifest.patients, 1)

    // The same node: the patient withdraws, killed -9 with the withdrawal in the pool. After the
    // restart the node holds the chain's withdrawal and no research copy of the patient's keys.
    const keyCopies = async () => {
      if (process.env.MEDLEDGER_TEST_DB === 'postgres') return undefined
      const db = await openDatabase({ url: join(home, 'medledger.db') })
      try {
        return (await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM research_record_keys WHERE patient_id = ?', people.patient.id))!.n
      } finally {
        await db.close()
      }
    }
    assert.notEqual(await keyCopies(), 0, 'the consent left research copies of the patient\'s keys')
    node = await crashAfterSend(node, people.patient.address, () => api.json('POST', `/studies/${studyId}/withdraw`, undefined, patient))
    api = new Api(node.url)
    const again = await api.login(people.patient.email, people.patient.password)
    const consent = async () => ((await api.json('GET', '/studies', undefined, again)).body.studies as { studyId: string; consent: string | null }[]).find((v) => v.studyId === studyId)?.consent
    assert.equal(await waitFor(consent, (c) => c === 'withdrawn'), 'withdrawn', 'the withdrawal the chain holds')
    assert.ok([0, undefined].includes(await keyCopies()), 'no research copy of the patient\'s keys is left')
    assert.equal((await api.json('POST', `/studies/${studyId}/withdraw`, undefined, again)).body.code, 'NO_RESEARCH_CONSENT')

    // A study proposal, then the admin's approval, each killed -9 in the pool: the node holds the
    // study the chain holds, then its approval, and the patient can consent to it.
    let rita2 = await api.login('rita@example.org', 'researcher-password-123')
    node = await crashAfterSend(node, signup.body.account.address, () => api.json('POST', '/studies', { title: 'Second cohort', purpose: 'Second protocol.' }, rita2))
    api = new Api(node.url)
    rita2 = await api.login('rita@example.org', 'researcher-password-123')
    const mine = async () => ((await api.json('GET', '/studies', undefined, rita2)).body.studies as { studyId: string; title: string; status: string }[]).filter((v) => v.title === 'Second cohort')
    const proposed = await waitFor(mine, (v) => v.length === 1)
    assert.deepEqual(proposed.map((v) => v.status), ['proposed'], 'the proposal the chain holds')
    const second = proposed[0]!.studyId
    const admin = await api.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
    const adminAddress = (await api.json('POST', '/auth/login', { email: testEnv.MEDLEDGER_ADMIN_EMAIL, password: testEnv.MEDLEDGER_ADMIN_PASSWORD }, null)).body.account?.address as string
    assert.match(adminAddress, /^0x[0-9a-f]{40}$/i)
    node = await crashAfterSend(node, adminAddress, () => api.json('POST', `/studies/${second}/approve`, undefined, admin))
    api = new Api(node.url)
    rita2 = await api.login('rita@example.org', 'researcher-password-123')
    assert.deepEqual((await waitFor(mine, (v) => v[0]?.status !== 'proposed')).map((v) => v.status), ['approved'], 'the approval the chain holds')
    const consented = await api.json('POST', `/studies/${second}/consent`, undefined, await api.login(people.patient.email, people.patient.password))
    assert.equal(consented.status, 200, JSON.stringify(consented.body))

    // The researcher's export on this node (the patient's home), killed -9 with its StudyExported
    // in the pool: the chain counts the export, and the patient's trail shows that it held their data.
    node = await crashAfterSend(node, signup.body.account.address, () => api.json('POST', `/studies/${second}/export`, undefined, rita2))
    api = new Api(node.url)
    const patient3 = await api.login(people.patient.email, people.patient.password)
    const exported = await waitFor(async () => ((await api.json('GET', `/audit?patient=${people.patient.id}`, undefined, patient3)).body.entries as { event: string; why: string | null }[])
      .filter((e) => e.event === 'StudyExported'), (entries) => entries.length > 0)
    assert.deepEqual(exported.map((e) => e.why), ['Second cohort'], 'the export the chain counts shows in the trail of the patient whose data it held')
  })
})
