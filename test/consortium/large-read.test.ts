// A record over the in-memory limit (32 MiB) read on a member node that holds no replica of it.
// Node A is a node process founding the consortium on a real anvil chain; node B runs in this
// process (real Helia peered with A over libp2p, its own SQLite database, the same chain) so the
// test can see how B's read hands out the plaintext: whole from memory (an array of chunks) or
// by the streaming pass. B keeps no replicas (--replicas 0), so the record's row on B is the one
// the follower mirrored from the chain: it does not know the record's size (stored_bytes 0).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { authenticate } from '../../src/accounts/sessions.ts'
import { readRecordFor } from '../../src/consent/read-record-for.ts'
import { startConsortium, waitFor, type Consortium } from '../helpers/consortium.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { testEnv } from '../helpers/node-process.ts'

let con: Consortium
let b: InProcessNode
let apiB: InjectApi
let doctorB: string
let requestId: string

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

before(async () => {
  con = await startConsortium(1, { prefix: 'ml-big-' })
  const a = await con.status('a')
  b = await startInProcessNode({
    env: {
      MEDLEDGER_CHAIN_RPC: con.chain.rpcUrl,
      MEDLEDGER_REGISTRY: con.registry,
      MEDLEDGER_HOSPITAL_NAME: 'Hospital B',
      MEDLEDGER_IPFS_LISTEN: '/ip4/127.0.0.1/tcp/0',
      MEDLEDGER_IPFS_PEERS: a.ipfsAddrs[0]!,
      MEDLEDGER_REPLICAS: '0',
    },
  })
  apiB = new InjectApi(b.app, b.url)
  const address = (await apiB.json('GET', '/status')).body.hospitalAddress
  const admit = await con.apis.a!.json('POST', '/hospitals/admit', { address, name: 'Hospital B' }, con.adminOf.a)
  assert.equal(admit.status, 200, JSON.stringify(admit.body))
  await waitFor('B admitted', async () => (await apiB.json('GET', '/status')).body.admitted === true)
  const admin = await apiB.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
  const made = await waitFor('a doctor on B', async () => {
    const r = await apiB.json('POST', '/users', { role: 'doctor', email: 'big-doctor-b@example.org', name: 'Doctor B', password: 'doctor-password-123' }, admin)
    return r.status === 409 && r.body?.code === 'NOT_ADMITTED' ? undefined : r
  })
  assert.equal(made.status, 201, JSON.stringify(made.body))
  doctorB = await apiB.login('big-doctor-b@example.org', 'doctor-password-123')
  // B's doctor asks A's patient for all records; the patient approves at home.
  const req = await apiB.json('POST', '/access-requests', { patient: con.founding.patient.address, purpose: 'Imaging review', days: 7 }, doctorB)
  assert.equal(req.status, 201, JSON.stringify(req.body))
  requestId = req.body.requestId
  await waitFor('the request on A', async () => {
    const r = await con.apis.a!.json('GET', '/access-requests', undefined, con.founding.patient.token)
    return r.body.requests?.some((q: { requestId: string }) => q.requestId === requestId)
  })
  const ok = await con.apis.a!.json('POST', `/access-requests/${requestId}/approve`, {}, con.founding.patient.token)
  assert.equal(ok.status, 200, JSON.stringify(ok.body))
  await waitFor('the approval on B', async () => (await apiB.json('GET', `/access-requests/${requestId}`, undefined, doctorB)).body.status === 'approved')
})

after(async () => {
  await b?.stop()
  await con?.stop()
})

/** A uploads `bytes` for its patient; resolves once B has mirrored the record's row. */
async function storedOnA(fileName: string, bytes: Uint8Array): Promise<string> {
  const up = await con.apis.a!.upload(con.founding.doctor.token, con.founding.patient.email, fileName, bytes)
  assert.equal(up.status, 201, JSON.stringify(up.body))
  const id = up.body.recordId as string
  await waitFor(`${fileName} mirrored on B`, async () => {
    const r = await apiB.json('GET', `/records?patient=${con.founding.patient.address}&limit=100`, undefined, doctorB)
    return r.body.records?.some((x: { recordId: string }) => x.recordId === id)
  }, 120_000)
  const row = await b.node.services.db.get<{ stored_bytes: number }>('SELECT stored_bytes FROM records WHERE record_id = ?', id)
  assert.equal(row?.stored_bytes, 0, 'B holds no replica: its row does not know the size')
  return id
}

/** B's doctor reads `id` on B: whether the plaintext came whole from memory, and its bytes' digest. */
async function readOnB(id: string): Promise<{ inMemory: boolean; size: number; sha256: string }> {
  const actor = await authenticate(b.node.services, doctorB)
  const { body } = await readRecordFor(b.node.services, { actor, recordId: id })
  const inMemory = Array.isArray(body)
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of body) {
    hash.update(chunk)
    size += chunk.byteLength
  }
  return { inMemory, size, sha256: hash.digest('hex') }
}

test('a record over 32 MiB that A stored is read on B by the streaming pass, not held whole in memory', async () => {
  const bytes = randomBytes(33 * 1024 * 1024 + 7)
  const id = await storedOnA('study.bin', bytes)
  const got = await readOnB(id)
  assert.equal(got.inMemory, false, 'B decrypted a 33 MiB record whole into memory')
  assert.deepEqual([got.size, got.sha256], [bytes.byteLength, sha256(bytes)])
})

test('a small record that A stored is still decrypted once into memory on B', async () => {
  const bytes = randomBytes(200_000)
  const id = await storedOnA('note.bin', bytes)
  const got = await readOnB(id)
  assert.equal(got.inMemory, true)
  assert.deepEqual([got.size, got.sha256], [bytes.byteLength, sha256(bytes)])
})
