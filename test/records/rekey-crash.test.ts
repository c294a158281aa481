import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Api, cleanup, seed, startNodeProcess, tempDir, testEnv, type NodeProcess } from '../helpers/node-process.ts'
import { createTestDatabase } from '../helpers/postgres.ts'
import { chain, crashEnv, pooledCount, waitFor } from '../helpers/crash-after-send.ts'

// A re-key whose supersede transaction was sent but whose receipt the node never handled (killed
// -9 with the transaction in the chain's pool, the chain losing it too): at the next start the
// journal sends it again, and the node must list the new version, not lose the record.
describe('re-key: killed -9 after the supersede transaction was sent', () => {
  const home = tempDir('ml-rekey-crash-')
  let node: NodeProcess | undefined
  after(async () => {
    await node?.stop()
    cleanup(home)
  })

  it('after the restart the new version is listed and reads, the old one answers 410 naming it, and the re-key that lost is not listed', async () => {
    node = await startNodeProcess({ home, env: crashEnv })
    const api = new Api(node.url)
    const people = await seed(api)
    const bytes = randomBytes(300_000)
    const up = await api.upload(people.doctor.token, people.patient.email, 'scan.bin', bytes)
    assert.equal(up.status, 201, JSON.stringify(up.body))
    const old: string = up.body.recordId
    const rpc = (await api.json('GET', '/status')).body.chainRpc as string
    const patientAddress = people.patient.address as string
    const sent = () => pooledCount(rpc, patientAddress)

    // The chain stops mining: two re-keys of the same record by the patient go out. Both pass the
    // node's checks; the second's supersede is refused at once (the chain estimates it on its
    // pending state) or, were it sent too, could only revert once the first is mined. Either way
    // it must leave nothing listed.
    await chain(rpc, 'evm_setAutomine', [false])
    const answers: { status: number; body: any }[] = []
    const rekey = () => api.json('POST', `/records/${old}/rekey`, undefined, people.patient.token)
      .then((r) => { answers.push(r) }, () => { /* the node went away mid-request */ })
    const requests = [rekey(), rekey()]
    for (let i = 0; i < 1200 && (await sent()) + answers.length < 2; i++) await new Promise((r) => setTimeout(r, 50))
    const pooled = await sent()
    assert.ok(pooled >= 1, 'a supersede transaction is in the chain\'s pool')
    assert.equal(pooled + answers.length, 2)
    for (const a of answers) assert.deepEqual([a.status, a.body.code], [502, 'LEDGER_REVERTED'], 'the only answer is the refusal of the second re-key')
    await node.crash()
    await Promise.all(requests)

    node = await startNodeProcess({ home })
    assert.match(node.output(), /re-sent from the journal/, 'the chain had lost the supersede and the journal re-sent it')
    const again = new Api(node.url)
    const patient = await again.login(people.patient.email, people.patient.password)
    const doctor = await again.login(people.doctor.email, people.doctor.password)
    const admin = await again.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)

    // The follower applies the node's own RecordSuperseded after the start: wait for the old id to go.
    let gone = await again.download(patient, old)
    for (let i = 0; i < 400 && gone.status !== 410; i++) {
      await new Promise((r) => setTimeout(r, 50))
      gone = await again.download(patient, old)
    }
    assert.equal(gone.status, 410, JSON.stringify(gone.json))
    assert.equal(gone.json.code, 'RECORD_SUPERSEDED')
    const fresh: string = gone.json.supersededBy
    assert.notEqual(fresh, old)

    for (const token of [patient, doctor]) {
      const list = await again.json('GET', '/records?limit=100', undefined, token)
      assert.equal(list.status, 200)
      assert.deepEqual(list.body.records.map((r: any) => r.recordId), [fresh], 'exactly the new version is listed, once')
      assert.equal(list.body.records[0].problem, undefined)
      const got = await again.download(token, fresh)
      assert.equal(got.status, 200, JSON.stringify(got.json))
      assert.ok(got.bytes.equals(bytes), 'the new version reads back byte-identical')
    }
    const status = (await again.json('GET', '/status')).body
    assert.equal(status.records, 1, 'no half-written or losing version is held as a record')
    const verify = await again.json('POST', '/verify', { all: true }, admin)
    assert.equal(verify.status, 200)
    assert.equal(verify.body.mismatches.length, 0, JSON.stringify(verify.body.mismatches))

    // The record can be re-keyed again from its new version.
    const next = await again.json('POST', `/records/${fresh}/rekey`, undefined, patient)
    assert.equal(next.status, 201, JSON.stringify(next.body))
    assert.equal(next.body.supersedes, fresh)
  })
})

// The same with the node running on: an API process (PostgreSQL, one hospital) sends the
// supersede and is killed -9 before its receipt; the node's follower sees its own RecordAnchored
// (the journal is shared) and settles the pending new version, then drops the old one.
describe('re-key: an API process killed -9 after sending the supersede, the node running on', () => {
  const home = tempDir('ml-rekey-api-crash-')
  const nodes: NodeProcess[] = []
  after(async () => {
    for (const n of nodes.reverse()) await n.stop()
    cleanup(home)
  })

  it('the node\'s follower lists the new version and drops the old one, without a restart', async () => {
    const db = await createTestDatabase()
    const node = await startNodeProcess({ home, args: ['--db', db], env: crashEnv })
    nodes.push(node)
    const api = new Api(node.url)
    const people = await seed(api)
    const bytes = randomBytes(120_000)
    const up = await api.upload(people.doctor.token, people.patient.email, 'scan.bin', bytes)
    assert.equal(up.status, 201, JSON.stringify(up.body))
    const old: string = up.body.recordId
    const rpc = (await api.json('GET', '/status')).body.chainRpc as string
    const apiProcess = await startNodeProcess({ home, args: ['--api-only', '--db', db, '--chain-rpc', rpc] })
    nodes.push(apiProcess)
    const patientAddress = people.patient.address as string
    const pooled = () => pooledCount(rpc, patientAddress)

    await chain(rpc, 'evm_setAutomine', [false])
    let answered: unknown
    const request = new Api(apiProcess.url).json('POST', `/records/${old}/rekey`, undefined, people.patient.token)
      .then((r) => { answered = r }, () => { /* the process went away mid-request */ })
    for (let i = 0; i < 1200 && (await pooled()) < 1 && answered === undefined; i++) await new Promise((r) => setTimeout(r, 50))
    assert.equal(answered, undefined)
    assert.equal(await pooled(), 1, 'the supersede is in the chain\'s pool')
    await apiProcess.crash()
    await request
    await chain(rpc, 'evm_setAutomine', [true])
    await chain(rpc, 'evm_mine')

    const gone = await waitFor(() => api.download(people.patient.token, old), (r) => r.status === 410)
    assert.equal(gone.status, 410, JSON.stringify(gone.json))
    const fresh: string = gone.json.supersededBy
    const list = await api.json('GET', '/records?limit=100', undefined, people.patient.token)
    assert.deepEqual(list.body.records.map((r: any) => r.recordId), [fresh], 'exactly the new version is listed')
    const got = await api.download(people.patient.token, fresh)
    assert.equal(got.status, 200, JSON.stringify(got.json))
    assert.ok(got.bytes.equals(bytes))
  })
})
