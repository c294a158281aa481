import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { hexToBytes } from 'viem'
import { Api, cleanup, fixtures, seed, startNodeProcess, tempDir, testEnv, type NodeProcess } from './helpers/node-process.ts'
import { startAnvil, type StartAnvilResult } from '../src/ledger/anvil.ts'
import { replicaNodes } from '../src/consortium/placement.ts'
import { cidFromDigest } from '../src/storage/read-verified.ts'
import { blockFilePath } from '../src/storage/block-path.ts'

// A consortium of hospital nodes as separate processes on loopback, on one real anvil chain that
// outlives any of them (as a consortium's own chain nodes would), with real Helia peered over
// libp2p. The tests run in order and build on each other: founding, joining and admission,
// cross-hospital consent, break-glass and share tokens, catch-up, tampering, a node down.

const fhir = readFileSync(join(fixtures, 'fhir', 'Bibi254_Schowalter414_475d72ca-91c7-7211-97e3-f000af33fc04.json'))
const dicom = readFileSync(join(fixtures, 'dicom', 'CT_small.dcm'))

interface Status {
  registry: string; hospitalAddress: string | null; admitted: boolean; ipfsPeerId: string; ipfsAddrs: string[]; peers: string[]
  follow: { lastBlock: number; headBlock: number; lagBlocks: number }
  replication: { pending: number; pinned: number; failing: number; replicas: number }
  cache: { bytes: number; maxBytes: number; hits: number; misses: number }
  recordFetch: { direct: number; bitswap: number; refused: number }
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (err) { last = err }
    await new Promise((r) => setTimeout(r, 150))
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
}

let chain: StartAnvilResult
const chainHome = tempDir('ml-chain-')
const homes: Record<string, string> = { a: tempDir('ml-a-'), b: tempDir('ml-b-'), c: tempDir('ml-c-'), d: tempDir('ml-d-') }
const nodes: Record<string, NodeProcess> = {}
const apis: Record<string, Api> = {}
let registry = ''
let founding: Awaited<ReturnType<typeof seed>>
const adminOf: Record<string, string> = {}
const doctorB: { token: string; address: string } = { token: '', address: '' }
let record1 = ''
let requestId = ''

const status = async (n: string) => (await apis[n].json<Status>('GET', '/status')).body

function joinArgs(name: string): string[] {
  return ['--chain-rpc', chain.rpcUrl, '--registry', registry, '--ipfs-listen', '/ip4/127.0.0.1/tcp/0', '--hospital-name', name]
}

async function startJoining(key: string, name: string, peer: string): Promise<void> {
  nodes[key] = await startNodeProcess({ home: homes[key], args: [...joinArgs(name), '--ipfs-peer', peer] })
  apis[key] = new Api(nodes[key].url)
  adminOf[key] = await apis[key].login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
}

async function makeUser(key: string, role: string, email: string): Promise<{ token: string; address: string; id: string }> {
  const r = await waitFor(`${role} on node ${key}`, async () => {
    const res = await apis[key].json('POST', '/users', { role, email, name: `${role} ${key}`, password: `${role}-password-123` }, adminOf[key])
    if (res.status === 409 && res.body?.code === 'NOT_ADMITTED') return undefined // the admin's staff registration is on its way
    return res
  })
  assert.equal(r.status, 201, JSON.stringify(r.body))
  return { token: await apis[key].login(email, `${role}-password-123`), address: r.body.account.address, id: r.body.account.id }
}

before(async () => {
  chain = await startAnvil({ home: chainHome, port: 0 })
  nodes.a = await startNodeProcess({ home: homes.a, args: ['--chain-rpc', chain.rpcUrl, '--ipfs-listen', '/ip4/127.0.0.1/tcp/0'] })
  apis.a = new Api(nodes.a.url)
  founding = await seed(apis.a, { hospitalName: 'Hospital A', tag: 'a' })
  adminOf.a = founding.admin
  registry = (await status('a')).registry
})

after(async () => {
  await Promise.all(Object.values(nodes).map((n) => n.stop()))
  await chain?.stop()
  cleanup(chainHome, ...Object.values(homes))
})

test('founding node: deploys on an external chain, serves its hospital over IPFS and publishes its address', async () => {
  const st = await waitFor('node A publishing its node info', async () => {
    const s = await status('a')
    return s.ipfsAddrs.length > 0 && s.admitted ? s : undefined
  })
  assert.match(st.registry, /^0x[0-9a-f]{40}$/)
  assert.equal(st.hospitalAddress, founding.hospital.address)
  assert.ok(st.ipfsPeerId.length > 40)
  assert.ok(st.ipfsAddrs.every((a) => a.startsWith('/ip4/127.0.0.1/tcp/') && a.endsWith(`/p2p/${st.ipfsPeerId}`)))
})

test('a joining node waits read-only until the sole member admits it; then its admin enrols doctors in its own hospital', async () => {
  const a = await status('a')
  await startJoining('b', 'Hospital B', a.ipfsAddrs[0])
  const b = await status('b')
  assert.equal(b.admitted, false)
  assert.match(b.hospitalAddress!, /^0x[0-9a-f]{40}$/)
  assert.equal(b.registry, registry)
  // Read-only: nothing can be registered for a hospital the consortium has not admitted.
  const early = await apis.b.json('POST', '/users', { role: 'doctor', email: 'early@example.org', name: 'Early', password: 'doctor-password-123' }, adminOf.b)
  assert.equal(early.status, 409)
  assert.equal(early.body.code, 'NOT_ADMITTED')
  // Deny by default: A does not talk to B's IPFS before B is a member.
  assert.ok(!(await status('a')).peers.includes(b.ipfsPeerId))

  const admit = await apis.a.json('POST', '/hospitals/admit', { address: b.hospitalAddress, name: 'Hospital B' }, adminOf.a)
  assert.equal(admit.status, 200, JSON.stringify(admit.body))
  assert.equal(admit.body.admitted, true)
  await waitFor('B admitted', async () => (await status('b')).admitted)

  const doctor = await makeUser('b', 'doctor', 'doctor-b@example.org')
  Object.assign(doctorB, doctor)
  const me = await apis.b.json('GET', '/auth/me', undefined, doctor.token)
  const hospitals = await apis.b.json('GET', '/hospitals', undefined, doctor.token)
  const own = hospitals.body.hospitals.find((h: { address: string }) => h.address === b.hospitalAddress)
  assert.equal((me.body.account ?? me.body).hospitalId, own.id)
  await waitFor('A and B peered', async () => (await status('a')).peers.includes(b.ipfsPeerId) && (await status('b')).peers.includes(a.ipfsPeerId))
})

test('with two members a third needs both votes; with three, a fourth needs two — one is not enough', async () => {
  const a = await status('a')
  await startJoining('c', 'Hospital C', a.ipfsAddrs[0])
  const c = await status('c')
  const first = await apis.a.json('POST', '/hospitals/admit', { address: c.hospitalAddress, name: 'Hospital C' }, adminOf.a)
  assert.equal(first.status, 200, JSON.stringify(first.body))
  assert.equal(first.body.admitted, false) // 1 of 2
  const vote = await apis.b.json('POST', `/hospitals/${c.hospitalAddress}/vote`, { approve: true }, adminOf.b)
  assert.equal(vote.status, 200, JSON.stringify(vote.body))
  await waitFor('C admitted', async () => (await status('c')).admitted)

  await startJoining('d', 'Hospital D', a.ipfsAddrs[0])
  const d = await status('d')
  const one = await apis.a.json('POST', '/hospitals/admit', { address: d.hospitalAddress, name: 'Hospital D' }, adminOf.a)
  assert.equal(one.body.admitted, false) // 1 of 3
  // Still not a member: it cannot enrol anyone (so nothing of it can be anchored), and no member
  // connects to its IPFS node although it dials them.
  await new Promise((r) => setTimeout(r, 1_000))
  assert.equal((await status('d')).admitted, false)
  const blocked = await apis.d.json('POST', '/users', { role: 'doctor', email: 'doctor-d@example.org', name: 'D', password: 'doctor-password-123' }, adminOf.d)
  assert.equal(blocked.body.code, 'NOT_ADMITTED')
  for (const k of ['a', 'b', 'c']) assert.ok(!(await status(k)).peers.includes(d.ipfsPeerId), `node ${k} talks to a non-member`)
  assert.deepEqual((await status('d')).peers, [])

  const two = await apis.c.json('POST', `/hospitals/${d.hospitalAddress}/vote`, { approve: true }, adminOf.c)
  assert.equal(two.status, 200, JSON.stringify(two.body))
  await waitFor('D admitted', async () => (await status('d')).admitted)
  await waitFor('D peered', async () => (await status('a')).peers.includes(d.ipfsPeerId))
})

test('a doctor on node B reads, with the consent given on node A, a record node A stored', async () => {
  const up = await apis.a.upload(founding.doctor.token, founding.patient.email, 'bundle.json', fhir)
  assert.equal(up.status, 201, JSON.stringify(up.body))
  record1 = up.body.recordId

  const req = await apis.b.json('POST', '/access-requests', { patient: founding.patient.address, purpose: 'Second opinion', days: 7 }, doctorB.token)
  assert.equal(req.status, 201, JSON.stringify(req.body))
  requestId = req.body.requestId
  // The patient sees it at home, with the doctor's hospital; the free-text purpose stays at B.
  const seen = await waitFor('the request on node A', async () => {
    const r = await apis.a.json('GET', '/access-requests', undefined, founding.patient.token)
    return r.body.requests.find((q: { requestId: string }) => q.requestId === requestId)
  })
  assert.equal(seen.status, 'pending')
  assert.doesNotMatch(JSON.stringify(seen), /Second opinion/)
  const ok = await apis.a.json('POST', `/access-requests/${requestId}/approve`, {}, founding.patient.token)
  assert.equal(ok.status, 200, JSON.stringify(ok.body))

  await waitFor('the approval on node B', async () => {
    const r = await apis.b.json('GET', `/access-requests/${requestId}`, undefined, doctorB.token)
    return r.body.status === 'approved'
  })
  const list = await apis.b.json('GET', `/records?patient=${founding.patient.address}`, undefined, doctorB.token)
  assert.equal(list.status, 200, JSON.stringify(list.body))
  assert.deepEqual(list.body.records.map((r: { recordId: string }) => r.recordId), [record1])
  assert.equal(list.body.records[0].fileName, 'bundle.json')
  const got = await apis.b.download(doctorB.token, record1)
  assert.equal(got.status, 200, JSON.stringify(got.json))
  assert.ok(got.bytes.equals(fhir))
  // The read is on the ledger, from the doctor's own key; the patient sees it in the audit trail at home.
  const audit = await waitFor('the read in the audit trail', async () => {
    const r = await apis.a.json('GET', `/audit?record=${record1}`, undefined, founding.patient.token)
    return r.body.entries?.find((e: { actor: { address: string } }) => e.actor.address === doctorB.address)
  })
  assert.ok(audit)
})

test('break-glass from node B: the patient\'s home node releases the keys, the patient is told', async () => {
  const other = await makeUser('b', 'doctor', 'er-doctor-b@example.org')
  const declared = await apis.b.json('POST', '/emergencies', { patient: founding.patient.address, reason: 'Unconscious on arrival' }, other.token)
  assert.equal(declared.status, 201, JSON.stringify(declared.body))
  await waitFor('the keys released', async () => {
    const r = await apis.b.json('GET', '/emergencies', undefined, other.token)
    return r.body.emergencies.find((e: { emergencyId: string; live: boolean }) => e.emergencyId === declared.body.emergencyId && e.live)
  })
  // Threshold break-glass: record1's key is split 3 of 4 among A, B, C and D; the read is
  // served once three of their nodes have each released their share (409 until then).
  const got = await waitFor('k hospitals\' shares released', async () => {
    const r = await apis.b.download(other.token, record1)
    return r.status === 409 && r.json?.code === 'EMERGENCY_SHARES_PENDING' ? undefined : r
  })
  assert.equal(got.status, 200, JSON.stringify(got.json))
  assert.ok(got.bytes.equals(fhir))
  const atHome = await apis.a.json('GET', '/emergencies', undefined, founding.patient.token)
  assert.equal(atHome.body.emergencies.length, 1)
  const mail = await apis.a.json('GET', '/mail', undefined, founding.patient.token)
  assert.ok(JSON.stringify(mail.body).match(/emergency/i))
})

test('a share token made on node A opens the record on node B, without an account', async () => {
  const share = await apis.a.json('POST', '/shares', { recordIds: [record1], token: true, days: 1 }, founding.patient.token)
  assert.equal(share.status, 201, JSON.stringify(share.body))
  const got = await waitFor('the share known on node B', async () => {
    const res = await apis.b.call('GET', `/records/${record1}`, { token: null, headers: { 'x-medledger-share-token': share.body.token } })
    return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : undefined
  })
  assert.ok(got.equals(fhir))
})

test('a node that missed 50 anchors while stopped catches up and pins its share', async () => {
  await nodes.c.stop()
  const ids: string[] = []
  // Ten at a time: uploads that arrive while an anchor is in flight share a batch root, which the
  // others learn from its BatchAnchored event and manifest (issue 14 item 2).
  for (let wave = 0; wave < 5; wave++) {
    const ups = await Promise.all(Array.from({ length: 10 }, (_, j) => wave * 10 + j).map((i) =>
      apis.a.upload(founding.doctor.token, founding.patient.email, `note-${i}.txt`, Buffer.from(`clinical note ${i} `.repeat(200)))))
    for (const up of ups) {
      assert.equal(up.status, 201)
      ids.push(up.body.recordId)
    }
  }
  nodes.c = await startNodeProcess({ home: homes.c, args: joinArgs('Hospital C') })
  apis.c = new Api(nodes.c.url)
  const peers = await Promise.all(['a', 'b', 'c', 'd'].map(async (k) => (await status(k)).ipfsPeerId))
  const expected = ids.filter((id) => replicaNodes(id, peers[0], peers, 1).includes(peers[2]))
  assert.ok(expected.length > 0)
  const st = await waitFor('C caught up', async () => {
    const s = await status('c')
    return s.follow.lagBlocks === 0 && s.replication.pending === 0 && s.replication.pinned >= expected.length ? s : undefined
  }, 90_000)
  // Exactly its share: the record of the first test, if it fell to C, plus the 50 that did.
  const first = replicaNodes(record1, peers[0], peers, 1).includes(peers[2]) ? 1 : 0
  assert.equal(st.replication.pinned, expected.length + first)
  // Nobody read on C since it restarted: what its block cache holds, replication put there.
  assert.ok(st.cache.bytes > 0, 'replication filled the block cache')
  for (const id of expected.slice(0, 5)) {
    const row = (await apis.c.json('GET', `/replicas/${id}`, undefined, adminOf.c)).body
    assert.equal(row.state, 'pinned')
  }
  // C learnt the batched records with their proofs: each verifies on C against its root on chain.
  const onA = (await apis.a.json('POST', '/verify', { recordIds: ids }, adminOf.a)).body
  const batched = new Map<string, string>(onA.results.filter((r: { root?: string }) => r.root).map((r: { recordId: string; root: string }) => [r.recordId, r.root]))
  assert.ok(batched.size > 0, 'some of the 50 went in batches')
  const onC = (await apis.c.json('POST', '/verify', { recordIds: expected }, adminOf.c)).body
  assert.deepEqual(onC.mismatches, [])
  for (const r of onC.results) assert.equal(r.root, batched.get(r.recordId))
})

test('a peer serving a tampered block is refused and the block comes from another peer', async () => {
  // A record whose replica is on C: C's copy of its first leaf is corrupted on disk.
  const peers = await Promise.all(['a', 'b', 'c', 'd'].map(async (k) => (await status(k)).ipfsPeerId))
  const list = await apis.b.json('GET', `/records?patient=${founding.patient.address}&limit=1000`, undefined, doctorB.token)
  const onC = list.body.records.find((r: { recordId: string }) => replicaNodes(r.recordId, peers[0], peers, 1)[0] === peers[2])
  assert.ok(onC, 'no record replicated on C')
  const leafDir = join(homes.c, 'ipfs', 'blocks')
  const rootPath = blockFilePath(leafDir, cidFromDigest(hexToBytes(onC.digest), 'dag'))
  // The small notes are one leaf under the root; corrupt every block file of C that is not the root's.
  const target = findLeaf(leafDir, rootPath)
  const good = readFileSync(target)
  writeFileSync(target, Buffer.concat([Buffer.from('tampered'), good.subarray(8)]))
  const got = await apis.b.download(doctorB.token, onC.recordId)
  assert.equal(got.status, 200, JSON.stringify(got.json))
  assert.equal(got.bytes.toString('utf8').slice(0, 14), 'clinical note ')
})

test('with node A stopped, a consented doctor on node B still reads A\'s records from the replicas', async () => {
  const peers = await Promise.all(['a', 'b', 'c', 'd'].map(async (k) => (await status(k)).ipfsPeerId))
  const list = await apis.b.json('GET', `/records?patient=${founding.patient.address}&limit=1000`, undefined, doctorB.token)
  // One record kept by a replica other than B, never read on B before.
  const elsewhere = list.body.records.find((r: { recordId: string; fileName: string }) => {
    const [replica] = replicaNodes(r.recordId, peers[0], peers, 1)
    return replica === peers[3] && r.fileName.startsWith('note-')
  })
  assert.ok(elsewhere, 'no record replicated on D')
  await nodes.a.stop()
  // B's replicator idle, so that only the read fetches while it runs.
  const fetchedBefore = (await waitFor('B with nothing left to replicate', async () => {
    const st = await status('b')
    return st.replication.pending === 0 ? st : undefined
  })).recordFetch
  const got = await apis.b.download(doctorB.token, elsewhere.recordId)
  assert.equal(got.status, 200, JSON.stringify(got.json))
  assert.match(got.bytes.toString('utf8'), /^clinical note \d+ /)
  // Its envelopes and DAG came from D in one round (RECORD_BLOCKS_PROTOCOL), not over bitswap.
  const fetched = (await status('b')).recordFetch
  assert.equal(fetched.direct, fetchedBefore.direct + 1)
  assert.equal(fetched.bitswap, fetchedBefore.bitswap)
  const first = await apis.b.download(doctorB.token, record1)
  assert.equal(first.status, 200)
  assert.ok(first.bytes.equals(fhir))
})

/** The block file under `dir` holding the root's only leaf: the newest file that is not the root. */
function findLeaf(dir: string, rootPath: string): string {
  const files: { path: string; mtime: number; size: number }[] = []
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (p !== rootPath) files.push({ path: p, mtime: statSync(p).mtimeMs, size: statSync(p).size })
    }
  }
  walk(dir)
  // A note is 3–4 KB of ciphertext; the envelopes block is JSON of about 1–2 KB.
  const leaf = files.filter((f) => f.size > 3000 && f.size < 5000).sort((x, y) => y.mtime - x.mtime)[0]
  if (!leaf) throw new Error('no leaf block found')
  return leaf.path
}

void dicom
