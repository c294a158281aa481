import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Api, cleanup, fixtures, seed, startNodeProcess, tempDir, type NodeProcess } from './helpers/node-process.ts'
import { createTestDatabase } from './helpers/postgres.ts'

// Scale-out on PostgreSQL: a second API process serves the same hospital from the node's home
// and database; a user signed in on either acts on both, and one doctor uploading through both
// at once never collides on a nonce.

const nodes: NodeProcess[] = []
const home = tempDir('ml-api-')
after(async () => {
  for (const n of nodes.reverse()) await n.stop()
  cleanup(home)
})

test('two API processes on one PostgreSQL database serve one hospital', async () => {
  const db = await createTestDatabase()
  const node = await startNodeProcess({ home, args: ['--db', db] })
  nodes.push(node)
  const one = new Api(node.url)
  const { doctor, patient } = await seed(one, { hospitalName: 'Scaled Hospital' })
  const chainRpc = (await one.json('GET', '/status')).body.chainRpc

  // An API process needs the node's database and chain, and refuses SQLite.
  const refused = await startNodeProcess({ home, args: ['--api-only', '--chain-rpc', chainRpc, '--db', `sqlite:${join(home, 'other.db')}`] })
    .then(async (n) => { await n.stop(); return 'started' }, (err: Error) => err.message)
  assert.match(refused, /several API processes share one PostgreSQL database/)

  const api = await startNodeProcess({ home, args: ['--api-only', '--db', db, '--chain-rpc', chainRpc] })
  nodes.push(api)
  const two = new Api(api.url)
  assert.match(api.output(), /API process: the chain, ledger follower, replication, peering and mail stay with the node/)

  // A session made on one process works on the other (sessions and keys live in the shared database).
  const onTwo = await two.login(doctor.email, doctor.password)
  const dicom = readFileSync(join(fixtures, 'dicom', 'CT_small.dcm'))
  const viaTwo = await two.upload(onTwo, patient.email, 'ct.dcm', dicom)
  assert.equal(viaTwo.status, 201, JSON.stringify(viaTwo.body))
  const readOnOne = await one.download(patient.token, viaTwo.body.recordId)
  assert.equal(readOnOne.status, 200)
  assert.ok(readOnOne.bytes.equals(dicom))
  const readOnTwo = await two.download(patient.token, viaTwo.body.recordId)
  assert.ok(readOnTwo.bytes.equals(dicom))

  // The same doctor uploads through both processes at once: every anchor is mined, none lost.
  const uploads = await Promise.all(Array.from({ length: 12 }, (_, i) =>
    (i % 2 === 0 ? one.upload(doctor.token, patient.email, `a-${i}.txt`, Buffer.from(`note ${i}`)) : two.upload(onTwo, patient.email, `b-${i}.txt`, Buffer.from(`note ${i}`)))))
  for (const u of uploads) assert.equal(u.status, 201, JSON.stringify(u.body))
  const list = await one.json('GET', '/records?limit=1000', undefined, patient.token)
  assert.equal(list.body.total, 13)
  // Uploads that meet an anchor in flight share a batch root's transaction: each record has one,
  // every upload is listed, and each reads back through the other process.
  for (const r of list.body.records as { txHash: string }[]) assert.match(r.txHash, /^0x[0-9a-f]{64}$/)
  const listed = new Set(list.body.records.map((r: { recordId: string }) => r.recordId))
  for (const [i, u] of uploads.entries()) {
    assert.ok(listed.has(u.body.recordId), `upload ${i} is listed`)
    const back = await (i % 2 === 0 ? two : one).download(patient.token, u.body.recordId)
    assert.equal(back.status, 200)
    assert.equal(back.bytes.toString(), `note ${i}`)
  }
  // The reads' audit entries go on chain after the reads were served: the journal drains.
  let backlog = -1
  for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
    backlog = (await one.json('GET', '/status')).body.journalBacklog as number
    if (backlog === 0) break
  }
  assert.equal(backlog, 0, 'every journaled transaction mined')
})
