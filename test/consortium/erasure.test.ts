// Erasure by crypto-shredding (issue 13 item 3) across a consortium of three node processes on one
// real anvil chain, with real Helia peered over libp2p and every record kept by all three nodes
// (--replicas 2). The tests run in order and build on each other: the patient asks, the hospital
// rejects one request and confirms another; then no node holds a block or an envelope of the
// erased record, every read answers 410 RECORD_ERASED, verify says erased, and a backup made
// before the erasure does not bring it back. Here (test/consortium/) so it runs once.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CarBlockIterator } from '@ipld/car/iterator'
import * as dagPb from '@ipld/dag-pb'
import { createReadStream } from 'node:fs'
import { hexToBytes } from 'viem'
import { cleanup, fixtures, runCli, tempDir } from '../helpers/node-process.ts'
import { startConsortium, waitFor, type Consortium } from '../helpers/consortium.ts'
import { cidFromDigest } from '../../src/storage/read-verified.ts'
import { blockSharding, blocksDir } from '../../src/storage/block-path.ts'
import { DurableFsBlockstore } from '../../src/storage/durable-fs.ts'
import Database from 'better-sqlite3'

const fhir = readFileSync(join(fixtures, 'fhir', 'Bibi254_Schowalter414_475d72ca-91c7-7211-97e3-f000af33fc04.json'))
// Over one 1 MiB chunk, so the erased record's DAG has a root and several leaves.
const dicom = Buffer.concat([readFileSync(join(fixtures, 'dicom', 'CT_small.dcm')), Buffer.alloc(2_500_000, 7)])

let con: Consortium
let nodes: Consortium['nodes']
let apis: Consortium['apis']
let adminOf: Consortium['adminOf']
let homes: Consortium['homes']
const cliHome = tempDir('ml-erase-cli-')
let home: Consortium['founding']
let staffA = ''
let staffB = ''
let otherPatient = ''
let doctorB = ''
let doctorC = ''
let erDoctorB = ''
const ids = { erased: '', kept: '', rejected: '' }
let shareToken = ''
let erasureId = ''
const car = join(cliHome, 'before.car')

const status = (n: string) => con.status(n)
const makeUser = async (n: string, role: string, email: string): Promise<string> => (await con.makeUser(n, role, email)).token

/** A read of `id` on node `n`: with a session, or with the share token. */
const read = (n: string, id: string, token: string | null, shareTokenHeader?: string) =>
  apis[n].call('GET', `/records/${id}`, { token, ...(shareTokenHeader ? { headers: { 'x-medledger-share-token': shareTokenHeader } } : {}) })

before(async () => {
  con = await startConsortium(3, { prefix: 'ml-erase-', args: ['--replicas', '2'] })
  ;({ nodes, apis, adminOf, homes, founding: home } = con)
  staffA = await makeUser('a', 'staff', 'staff-a@example.org')
  otherPatient = await makeUser('a', 'patient', 'other-patient-a@example.org')
  doctorB = await makeUser('b', 'doctor', 'doctor-b@example.org')
  doctorC = await makeUser('c', 'doctor', 'doctor-c@example.org')
  erDoctorB = await makeUser('b', 'doctor', 'er-doctor-b@example.org')
  staffB = await makeUser('b', 'staff', 'staff-b@example.org')
})

after(async () => {
  await con?.stop()
  cleanup(cliHome)
})

test('only the patient asks; the record reads as before until the hospital decides', async () => {
  for (const [key, name, bytes] of [['erased', 'scan.dcm', dicom], ['kept', 'bundle.json', fhir], ['rejected', 'note.txt', Buffer.from('keep me')]] as const) {
    const up = await apis.a.upload(home.doctor.token, home.patient.email, name, bytes)
    assert.equal(up.status, 201, JSON.stringify(up.body))
    ids[key] = up.body.recordId
  }
  // B's doctor holds a grant whose envelopes block wraps the keys of all three; a share token wraps two.
  const req = await apis.b.json('POST', '/access-requests', { patient: home.patient.address, purpose: 'Follow-up', days: 7 }, doctorB)
  await waitFor('the request on A', async () => (await apis.a.json('POST', `/access-requests/${req.body.requestId}/approve`, {}, home.patient.token)).status === 200)
  await waitFor('the grant on B', async () => (await read('b', ids.erased, doctorB)).status === 200)
  // C's doctor holds another all-records grant, and reads nothing before the erasure.
  const reqC = await apis.c.json('POST', '/access-requests', { patient: home.patient.address, purpose: 'Consult', days: 7 }, doctorC)
  await waitFor('the request of C on A', async () => (await apis.a.json('POST', `/access-requests/${reqC.body.requestId}/approve`, {}, home.patient.token)).status === 200)
  await waitFor('the grant on C', async () => (await apis.c.json('GET', `/access-requests/${reqC.body.requestId}`, undefined, doctorC)).body.status === 'approved')
  const share = await apis.a.json('POST', '/shares', { recordIds: [ids.erased, ids.kept], token: true, days: 1 }, home.patient.token)
  assert.equal(share.status, 201, JSON.stringify(share.body))
  shareToken = share.body.token
  await waitFor('the share on C', async () => (await read('c', ids.kept, null, shareToken)).status === 200)
  for (const n of ['b', 'c']) await waitFor(`replicas on ${n}`, async () => (await status(n)).replication.pinned >= 3)
  // A break-glass from B, read nothing yet: the three hospitals release their shares of the
  // records' keys (k = 3 of n = 3), each in a block that wraps them for the doctor.
  const declared = await apis.b.json('POST', '/emergencies', { patient: home.patient.address, reason: 'Unconscious on arrival' }, erDoctorB)
  assert.equal(declared.status, 201, JSON.stringify(declared.body))
  const dbB = new Database(nodes.b.dbUrl, { readonly: true, fileMustExist: true })
  try {
    await waitFor('three share releases on B', async () => (dbB.prepare('SELECT COUNT(*) AS n FROM emergency_shares WHERE emergency_id = ?').get(declared.body.emergencyId) as { n: number }).n >= 3)
  } finally {
    dbB.close()
  }

  const ask = (token: string, id = ids.erased) => apis.a.json('POST', `/records/${id}/erasure`, { reason: 'I moved abroad and want this scan gone' }, token)
  const byDoctor = await ask(home.doctor.token)
  assert.deepEqual([byDoctor.status, byDoctor.body.code], [403, 'FORBIDDEN'])
  const byStaff = await ask(staffA)
  assert.deepEqual([byStaff.status, byStaff.body.code], [403, 'FORBIDDEN'])
  const byOther = await ask(otherPatient)
  assert.deepEqual([byOther.status, byOther.body.code], [404, 'RECORD_NOT_FOUND'])
  const blank = await apis.a.json('POST', `/records/${ids.erased}/erasure`, { reason: ' \u200b ' }, home.patient.token)
  assert.deepEqual([blank.status, blank.body.code], [400, 'VALIDATION_FAILED'])

  const asked = await ask(home.patient.token)
  assert.equal(asked.status, 201, JSON.stringify(asked.body))
  erasureId = asked.body.erasureId
  assert.match(erasureId, /^0x[0-9a-f]{64}$/)
  assert.equal(asked.body.status, 'pending')
  assert.match(asked.body.requestTx, /^0x[0-9a-f]{64}$/)
  const again = await ask(home.patient.token)
  assert.deepEqual([again.status, again.body.code], [409, 'ERASURE_PENDING'])

  // The chain holds the request's keyed reason hash, never the text.
  const tx = await (await fetch(con.chain.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getTransactionByHash', params: [asked.body.requestTx] }) })).json()
  assert.ok(!Buffer.from(tx.result.input.slice(2), 'hex').toString('latin1').includes('abroad'))
  // Staff of A are told, without the reason.
  const mail = await apis.a.json('GET', '/mail', undefined, staffA)
  const told = mail.body.mail.find((m: { kind: string }) => m.kind === 'erasure-requested')
  assert.ok(told, JSON.stringify(mail.body))
  assert.doesNotMatch(JSON.stringify(told), /abroad|scan|dcm/)
  // Until decided, everything reads as before.
  assert.equal((await read('a', ids.erased, home.patient.token)).status, 200)
  assert.equal((await read('b', ids.erased, doctorB)).status, 200)
})

test('only staff of the patient\'s hospital or the admin decide; a rejected erasure leaves the record readable', async () => {
  // This one goes through the CLI, as the patient and the staff would use it.
  const cli = (args: string[], input?: string) => runCli(args, { api: nodes.a.url, cliHome, input })
  assert.equal((await cli(['login', '--email', home.patient.email], `${home.patient.password}\n`)).code, 0)
  assert.equal((await cli(['login', '--email', 'staff-a@example.org'], 'staff-password-123\n')).code, 0)
  const asked = await cli(['record', 'erase', ids.rejected, '--reason', 'Not needed', '--as', home.patient.email]) // JSON with erasureId, no --json needed
  assert.equal(asked.code, 0, asked.stderr)
  const id = JSON.parse(asked.stdout).erasureId as string
  assert.match(id, /^0x[0-9a-f]{64}$/)
  // B mirrors the request from the chain, but B's staff are not the patient's hospital's.
  await waitFor('the request on B', async () => (await apis.b.json('GET', '/erasures', undefined, adminOf.b)).body.erasures.some((e: { erasureId: string }) => e.erasureId === id))
  assert.deepEqual((await apis.b.json('GET', '/erasures', undefined, staffB)).body.erasures, [])
  for (const [n, token, status, code] of [['b', staffB, 404, 'ERASURE_NOT_FOUND'], ['a', home.doctor.token, 403, 'FORBIDDEN'], ['a', home.patient.token, 403, 'FORBIDDEN'], ['b', doctorB, 403, 'FORBIDDEN']] as const) {
    const r = await apis[n].json('POST', `/erasures/${id}/confirm`, undefined, token)
    assert.deepEqual([r.status, r.body.code], [status, code], `${n}: ${JSON.stringify(r.body)}`)
  }
  const noReason = await apis.a.json('POST', `/erasures/${id}/reject`, {}, staffA)
  assert.equal(noReason.status, 400)
  const listed = await apis.a.json('GET', '/erasures?status=pending', undefined, staffA)
  assert.deepEqual(listed.body.erasures.map((e: { erasureId: string }) => e.erasureId).sort(), [erasureId, id].sort())
  assert.equal(listed.body.erasures.find((e: { erasureId: string }) => e.erasureId === id).reason, 'Not needed')

  const pending = await cli(['erasure', 'list', '--status', 'pending', '--as', 'staff-a@example.org'])
  assert.equal(pending.code, 0, pending.stderr)
  assert.match(pending.stdout, new RegExp(`${id}\\s+pending`))
  const rejected = await cli(['erasure', 'reject', id, '--reason', 'Retention duty of ten years', '--as', 'staff-a@example.org'])
  assert.equal(rejected.code, 0, rejected.stderr)
  assert.match(rejected.stdout, /rejected .*stays/)
  assert.equal((await apis.a.json('GET', '/erasures?status=rejected', undefined, staffA)).body.erasures[0].decisionReason, 'Retention duty of ten years')
  const twice = await apis.a.json('POST', `/erasures/${id}/confirm`, undefined, staffA)
  assert.deepEqual([twice.status, twice.body.code], [409, 'ERASURE_NOT_PENDING'])
  const got = await read('a', ids.rejected, home.patient.token)
  assert.equal(got.status, 200)
  assert.equal(Buffer.from(await got.arrayBuffer()).toString(), 'keep me')
  await waitFor('the rejection mirrored on B', async () => (await apis.b.json('GET', '/erasures?status=rejected', undefined, adminOf.b)).body.erasures.some((e: { erasureId: string }) => e.erasureId === id))
  const mail = await apis.a.json('GET', '/mail', undefined, home.patient.token)
  const told = mail.body.mail.find((m: { kind: string }) => m.kind === 'erasure-rejected')
  assert.ok(told)
  assert.doesNotMatch(JSON.stringify(told), /Retention|ten years/)
})

test('a backup of node C is made before the erasure', async () => {
  await nodes.c.stop()
  const r = await runCli(['backup', 'export', '--all', '--home', homes.c, '--out', car, '--json'], { api: 'http://127.0.0.1:1', cliHome })
  assert.equal(r.code, 0, r.stderr)
  await con.start('c')
  await waitFor('C following again', async () => (await status('c')).follow.lagBlocks === 0)
})

test('confirmed: every node answers 410 RECORD_ERASED within 30 s, the other records still read, verify says erased', async () => {
  const confirmed = await apis.a.json('POST', `/erasures/${erasureId}/confirm`, undefined, staffA)
  assert.equal(confirmed.status, 200, `${JSON.stringify(confirmed.body)}\n${nodes.a.output().slice(-4000)}`)
  assert.equal(confirmed.body.status, 'confirmed')
  const confirmedAt = Date.now()
  const gone = async (res: Response) => res.status === 410 && (await res.json()).code === 'RECORD_ERASED'
  assert.ok(await gone(await read('a', ids.erased, home.patient.token)), 'at once on the confirming node')
  await waitFor('410 on B', async () => gone(await read('b', ids.erased, doctorB)), 30_000)
  await waitFor('410 on C, by share token', async () => gone(await read('c', ids.erased, null, shareToken)), 30_000)
  console.log(`erasure: 410 on all three nodes ${Date.now() - confirmedAt} ms after the confirmation was answered`)
  const fhirRead = await fetch(`${nodes.a.url}/fhir/R4/Binary/${ids.erased.slice(2)}`, { headers: { authorization: `Bearer ${home.patient.token}` } })
  assert.equal(fhirRead.status, 410)
  assert.match(await fhirRead.text(), /RECORD_ERASED/)
  const meta = await apis.b.json('GET', `/records/${ids.erased}/meta`, undefined, doctorB)
  assert.ok([404, 410].includes(meta.status))

  // The rewritten grant and share blocks still open the records they also covered.
  const kept = await read('b', ids.kept, doctorB)
  assert.equal(kept.status, 200)
  assert.ok(Buffer.from(await kept.arrayBuffer()).equals(fhir))
  assert.equal((await read('c', ids.kept, null, shareToken)).status, 200)
  // C's doctor never read under their grant before the erasure: C rewrote the block it fetched
  // when the grant was approved, and its first read opens the rewritten one.
  await waitFor('410 on C for its grantee', async () => gone(await read('c', ids.erased, doctorC)))
  const first = await read('c', ids.kept, doctorC)
  assert.equal(first.status, 200, await first.clone().text())
  assert.ok(Buffer.from(await first.arrayBuffer()).equals(fhir))
  // The break-glass doctor on B, who read nothing before: B holds every release block (fetched
  // when the releases were seen) and rewrote them, so the other record opens with k shares.
  await waitFor('410 on B for the break-glass doctor', async () => gone(await read('b', ids.erased, erDoctorB)))
  const er = await read('b', ids.kept, erDoctorB)
  assert.equal(er.status, 200, await er.clone().text())
  assert.ok(Buffer.from(await er.arrayBuffer()).equals(fhir))
  const list = await apis.a.json('GET', '/records', undefined, home.patient.token)
  assert.ok(!list.body.records.some((r: { recordId: string }) => r.recordId === ids.erased))

  const verified = await apis.a.json('POST', '/verify', { recordIds: [ids.erased, ids.kept] }, home.patient.token)
  assert.equal(verified.status, 200, JSON.stringify(verified.body))
  assert.deepEqual([verified.body.intact, verified.body.erased, verified.body.mismatches], [1, 1, []])
  assert.deepEqual(verified.body.results.find((r: { recordId: string }) => r.recordId === ids.erased), { recordId: ids.erased, ok: false, erased: true, problem: 'RECORD_ERASED' })
  // The CLI says erased, not damaged, and exits 0.
  assert.equal((await runCli(['login', '--email', home.patient.email], { api: nodes.a.url, cliHome, input: `${home.patient.password}\n` })).code, 0)
  const cli = await runCli(['verify', ids.erased], { api: nodes.a.url, cliHome })
  assert.equal(cli.code, 0, cli.stderr)
  assert.match(cli.stdout, new RegExp(`ERASED ${ids.erased}`))
  assert.doesNotMatch(cli.stdout, /MISMATCH/)
  const mail = await apis.a.json('GET', '/mail', undefined, home.patient.token)
  assert.ok(mail.body.mail.some((m: { kind: string }) => m.kind === 'erasure-confirmed'))
})

test('a backup import does not bring the erased record back', async () => {
  await waitFor('C shredded', async () => (await read('c', ids.erased, null, shareToken)).status === 410)
  await nodes.c.stop()
  const r = await runCli(['backup', 'import', car, '--home', homes.c, '--json'], { api: 'http://127.0.0.1:1', cliHome })
  assert.equal(r.code, 0, r.stderr)
  const result = JSON.parse(r.stdout)
  assert.ok(result.erasedBlocks >= 4, r.stdout) // root, leaves and envelopes block
  assert.ok(!result.pinned.includes(ids.erased))
  await con.start('c')
  const again = await read('c', ids.erased, null, shareToken)
  assert.equal(again.status, 410)
  assert.equal((await read('c', ids.kept, null, shareToken)).status, 200)
})

test('no node holds a block or an envelope of the erased record', async () => {
  // The erased record's blocks, as the backup made before the erasure holds them.
  const reader = await CarBlockIterator.fromIterable(createReadStream(car))
  // Blocks are compared by their multihash: a store may name a block by another CID version.
  const mh = (cid: { multihash: { bytes: Uint8Array } }) => Buffer.from(cid.multihash.bytes).toString('hex')
  const blocks = new Map<string, Uint8Array>()
  for await (const { cid, bytes } of reader) blocks.set(mh(cid), bytes)
  const erasedRow = { digest: '', envelopes: '' }
  for (const n of ['a', 'b', 'c']) await nodes[n].stop()
  const { openDatabase } = await import('../../src/db/open-database.ts')
  const dbA = await openDatabase({ url: nodes.a.dbUrl })
  Object.assign(erasedRow, await dbA.get('SELECT digest, envelopes FROM erased_records WHERE record_id = ?', ids.erased))
  await dbA.close()
  const root = cidFromDigest(hexToBytes(erasedRow.digest as `0x${string}`), 'dag')
  const owned = new Set([mh(root), mh(cidFromDigest(hexToBytes(erasedRow.envelopes as `0x${string}`), 'raw'))])
  for (const link of dagPb.decode(blocks.get(mh(root))!).Links) owned.add(mh(link.Hash))
  assert.ok(owned.size >= 5, `root, envelopes and at least 3 leaves: ${owned.size}`)
  const keyBlocks = /"type":"medledger\/(record-envelopes|grant-envelopes|emergency-shares)"/
  const id = ids.erased.slice(2).toLowerCase()
  for (const n of ['a', 'b', 'c']) {
    const store = new DurableFsBlockstore(blocksDir(join(homes[n], 'ipfs')), { sharding: blockSharding })
    await store.open()
    try {
      let keysOfKept = 0
      for await (const { cid, bytes } of store.getAll()) {
        assert.ok(!owned.has(mh(cid)), `node ${n} still holds ${cid}`)
        const chunks: Uint8Array[] = []
        for await (const chunk of bytes) chunks.push(chunk)
        const text = Buffer.concat(chunks).toString('latin1')
        if (!keyBlocks.test(text)) continue
        assert.ok(!text.toLowerCase().includes(id), `node ${n} holds a key block naming the erased record: ${cid}`)
        if (text.toLowerCase().includes(ids.kept.slice(2).toLowerCase())) keysOfKept++
      }
      if (n === 'a') assert.ok(keysOfKept >= 3, `node A keeps the other record's envelopes, grant and share blocks: ${keysOfKept}`)
    } finally {
      await store.close()
    }
  }
  delete nodes.a
  delete nodes.b
  delete nodes.c
})
