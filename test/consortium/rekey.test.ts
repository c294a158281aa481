// Re-keying across a consortium (issue 13 item 2): three hospital nodes as separate processes on
// one real anvil chain, peered over libp2p, every record kept by all three (--replicas 2). A
// doctor of B reads a record of A under a listed grant; its data key is taken from B's side (B's
// database and store, with the doctor's password); the patient revokes and re-keys. Then every
// node has dropped the old version through its follower (RecordSuperseded), and, each store
// opened after the nodes stop: no node holds a block of the old version or an envelope that
// opens it, and the doctor's old key decrypts nothing any node still serves. Runs once.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import * as dagPb from '@ipld/dag-pb'
import { hexToBytes, type Address, type Hex } from 'viem'
import type { CID } from 'multiformats/cid'
import { startConsortium, waitFor, type Consortium } from '../helpers/consortium.ts'
import { cleanup, runCli, tempDir, testEnv } from '../helpers/node-process.ts'
import { openIpfs, type Ipfs } from '../../src/storage/open-ipfs.ts'
import { cidFromDigest } from '../../src/storage/read-verified.ts'
import { openKeystore, type Keystore } from '../../src/crypto/keystore.ts'
import { decodeAccountSecrets } from '../../src/accounts/account-secrets.ts'
import { openGrantEnvelope } from '../../src/consent/grant-envelopes.ts'
import { decryptStream } from '../../src/crypto/stream.ts'
import { openManifest, type EnvelopesObject } from '../../src/records/envelopes.ts'

let con: Consortium
let nodes: Consortium['nodes']
let apis: Consortium['apis']
let adminOf: Consortium['adminOf']
let homes: Consortium['homes']
let founding: Consortium['founding']
const doctor: Record<string, { token: string; address: Address; email: string }> = {}
const bytes = randomBytes(2 * 1_048_576 + 4321) // three leaves
let oldId: Hex
let newId: Hex
let grantB = ''
let oldKey: Uint8Array
const oldBlocks: CID[] = []
let oldRow: { digest: Hex; envelopes: Hex }

const status = (k: string) => con.status(k)
const cliHome = tempDir('ml-rk-cli-')
/** A node's database, read while it runs (WAL: a reader sees what is committed). */
function query<T>(k: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(homes[k]!, 'medledger.db'), { readonly: true, fileMustExist: true })
  try { return db.prepare(sql).all(...params) as T[] } finally { db.close() }
}

async function makeDoctor(k: string): Promise<void> {
  const { token, address, email } = await con.makeUser(k, 'doctor', `doctor-${k}@example.org`, `Dr ${k}`)
  doctor[k] = { token, address: address as Address, email }
}

/** A doctor of `k` asks the patient of A for access; the patient approves at home; `k` sees it approved. */
async function grantFrom(k: string, recordIds?: string[]): Promise<string> {
  const req = await apis[k]!.json('POST', '/access-requests', { patient: founding.patient.address, purpose: 'Follow-up', days: 7, ...(recordIds ? { recordIds } : {}) }, doctor[k]!.token)
  assert.equal(req.status, 201, JSON.stringify(req.body))
  const id = req.body.requestId as string
  await waitFor('the request at home', async () => (await apis.a!.json('GET', '/access-requests', undefined, founding.patient.token)).body.requests.some((q: { requestId: string }) => q.requestId === id))
  assert.equal((await apis.a!.json('POST', `/access-requests/${id}/approve`, {}, founding.patient.token)).status, 200)
  await waitFor(`the approval on ${k}`, async () => (await apis[k]!.json('GET', `/access-requests/${id}`, undefined, doctor[k]!.token)).body.status === 'approved')
  return id
}

const pinnedOn = (k: string, id: string) => waitFor(`${id.slice(0, 10)} pinned on ${k}`, async () => (await apis[k]!.json('GET', `/replicas/${id}`, undefined, adminOf[k])).body?.state === 'pinned', 90_000)

before(async () => {
  con = await startConsortium(3, { prefix: 'ml-rk-', args: ['--replicas', '2'], peered: true })
  ;({ nodes, apis, adminOf, homes, founding } = con)
  await makeDoctor('b')
  await makeDoctor('c')
})

after(async () => {
  await con?.stop()
  cleanup(cliHome)
})

test('a record kept by all three nodes; a doctor of B reads it under a listed grant, and its data key is taken from B\'s side', async () => {
  const up = await apis.a!.upload(founding.doctor.token, founding.patient.email, 'ct.bin', bytes)
  assert.equal(up.status, 201, JSON.stringify(up.body))
  oldId = up.body.recordId
  await pinnedOn('b', oldId)
  await pinnedOn('c', oldId)
  grantB = await grantFrom('b', [oldId])
  await grantFrom('c')
  for (const k of ['b', 'c']) {
    const got = await apis[k]!.download(doctor[k]!.token, oldId)
    assert.equal(got.status, 200, JSON.stringify(got.json))
    assert.ok(got.bytes.equals(bytes))
  }

  // The doctor's side: B stopped, its database and store opened with the doctor's password.
  await nodes.b!.stop()
  const db = new Database(join(homes.b!, 'medledger.db'), { readonly: true })
  let ipfs: Ipfs | undefined
  try {
    const account = db.prepare('SELECT keystore FROM accounts WHERE email = ?').get(doctor.b!.email) as { keystore: string }
    const { payload } = await openKeystore(JSON.parse(account.keystore) as Keystore, { password: 'doctor-password-123' })
    const keys = decodeAccountSecrets(payload)
    const grant = db.prepare('SELECT envelopes FROM access_requests WHERE request_id = ?').get(grantB) as { envelopes: Hex }
    oldRow = db.prepare('SELECT digest, envelopes FROM records WHERE record_id = ?').get(oldId) as { digest: Hex; envelopes: Hex }
    ipfs = await openIpfs({ dir: join(homes.b!, 'ipfs') })
    const block = await blockOf(ipfs, cidFromDigest(hexToBytes(grant.envelopes), 'raw'))
    oldKey = await openGrantEnvelope(block!, { grantId: grantB as Hex, recordId: oldId, reader: { kind: 'account', address: doctor.b!.address, scheme: 'x25519-hpke', privateKey: keys.encryptionPrivateKey } })
    oldBlocks.push(...await dagOf(ipfs, cidFromDigest(hexToBytes(oldRow.digest), 'dag')), cidFromDigest(hexToBytes(oldRow.envelopes), 'raw'))
    assert.equal(oldBlocks.length, 5) // the root, three leaves, the envelopes
    assert.ok(Buffer.concat(await decryptAll(ipfs, cidFromDigest(hexToBytes(oldRow.digest), 'dag'), oldKey)).equals(bytes), 'the key opens the old version')
  } finally {
    db.close()
    await ipfs?.stop()
  }
  await con.start('b')
  doctor.b!.token = await apis.b!.login(doctor.b!.email, 'doctor-password-123')
})

test('the patient revokes B\'s grant and re-keys at home; every node drops the old version and serves the new one to whoever may read it', async () => {
  assert.equal((await apis.a!.json('POST', `/access-requests/${grantB}/revoke`, undefined, founding.patient.token)).status, 200)
  const r = await apis.a!.json('POST', `/records/${oldId}/rekey`, undefined, founding.patient.token)
  assert.equal(r.status, 201, `${JSON.stringify(r.body)}\n${nodes.a!.output().slice(-4000)}`)
  // The emergency path as an upload makes it in a consortium of three: the key split among the three hospitals.
  assert.deepEqual(r.body.wrappedFor, { patient: true, author: true, grantees: 1, emergency: true, emergencyShares: 3 })
  newId = r.body.recordId
  await pinnedOn('b', newId)
  await pinnedOn('c', newId)

  const gone = await waitFor('the old id superseded on C', async () => {
    const res = await apis.c!.download(doctor.c!.token, oldId)
    return res.status === 410 ? res : undefined
  })
  assert.deepEqual(gone.json, { code: 'RECORD_SUPERSEDED', message: gone.json.message, supersededBy: newId })
  const read = await apis.c!.download(doctor.c!.token, newId)
  assert.equal(read.status, 200, JSON.stringify(read.json))
  assert.ok(read.bytes.equals(bytes))
  // The revoked doctor: neither id is a record it may see, on its own node.
  await waitFor('the old id dropped on B', async () => (await apis.b!.json('GET', `/replicas/${oldId}`, undefined, adminOf.b)).status === 404)
  for (const id of [oldId, newId]) assert.equal((await apis.b!.download(doctor.b!.token, id)).status, 404)
  const listed = await apis.a!.json('GET', '/records?limit=100', undefined, founding.patient.token)
  assert.deepEqual(listed.body.records.map((x: { recordId: string }) => x.recordId), [newId])
  const fhir = await fetch(`${nodes.a!.url}/fhir/R4/Binary/${oldId.slice(2)}`, { headers: { authorization: `Bearer ${founding.patient.token}` } })
  assert.equal(fhir.status, 410)
  for (const k of ['a', 'b', 'c']) await waitFor(`${k} caught up`, async () => (await status(k)).follow.lagBlocks === 0)
})

test('recovery across nodes: staff of A start it, the admin approves; B mirrors the new key and releases its share through its follower, C once it is back; the patient reads the split record; the old address is refused', async () => {
  const oldAddress = founding.patient.address.toLowerCase()
  const hospital = Object.fromEntries(await Promise.all(['a', 'b', 'c'].map(async (k) => [k, (await status(k)).hospitalAddress.toLowerCase()])))
  const staff = await con.makeUser('a', 'staff', 'staff-a@example.org')
  const cli = (args: string[], input?: string) => runCli(args, { api: nodes.a!.url, cliHome, input })
  assert.equal((await cli(['login', '--email', staff.email], `${staff.password}\n`)).code, 0)
  assert.equal((await cli(['login', '--email', testEnv.MEDLEDGER_ADMIN_EMAIL], `${testEnv.MEDLEDGER_ADMIN_PASSWORD}\n`)).code, 0)
  // The new version's key is split 3 of 3 among A, B and C. With C down, only A (at the approval)
  // and B (through its follower) can release: two of k = 3, whatever the timing.
  await nodes.c!.stop()

  const started = await cli(['recovery', 'start', founding.patient.id, '--verified-by-id', 'passport 98ZY76543', '--json', '--as', staff.email])
  assert.equal(started.code, 0, started.stderr)
  const { recovery, code } = JSON.parse(started.stdout) as { recovery: { recoveryId: Hex }; code: string }
  const self = await cli(['recovery', 'approve', recovery.recoveryId, '--as', staff.email])
  assert.notEqual(self.code, 0)
  assert.match(self.stderr, /FORBIDDEN/)
  const approved = await cli(['recovery', 'approve', recovery.recoveryId, '--json', '--as', testEnv.MEDLEDGER_ADMIN_EMAIL])
  assert.equal(approved.code, 0, approved.stderr)
  const done = JSON.parse(approved.stdout) as { newAddress: string; oldAddress: string; rewrapped: number; notRewrapped: number }
  assert.equal(done.oldAddress.toLowerCase(), oldAddress)
  assert.deepEqual([done.rewrapped, done.notRewrapped], [0, 1], 'the one record is split: left to the hospitals\' shares')
  const newAddress = done.newAddress.toLowerCase()

  const reset = await apis.a!.json('POST', '/auth/recover', { email: founding.patient.email, recoveryCode: code, newPassword: 'a-new-password-456' }, null)
  assert.equal(reset.status, 200, JSON.stringify(reset.body))
  const token = await apis.a!.login(founding.patient.email, 'a-new-password-456')
  const releases = async (n: number) => waitFor(`${n} share releases in the patient's trail`, async () => {
    const trail = await apis.a!.json('GET', `/audit?patient=${founding.patient.id}`, undefined, token)
    const found = (trail.body.entries as { event: string; actor: { address: string }; ref: string | null }[]).filter((e) => e.event === 'RecoveryShareReleased')
    return found.length >= n ? found : undefined
  }, 120_000)
  const two = await releases(2)
  assert.deepEqual(two.map((e) => e.actor.address.toLowerCase()).sort(), [hospital.a, hospital.b].sort())
  // B mirrored the recovery: its row for the patient has the new address and the new public key.
  const newKey = query<{ public_key: Buffer }>('a', 'SELECT public_key FROM accounts WHERE id = ?', founding.patient.id)[0]!.public_key
  const onB = query<{ address: string; state: string; public_key: Buffer }>('b', 'SELECT a.address, a.state, a.public_key FROM accounts a JOIN patient_recoveries r ON r.account_id = a.id WHERE r.recovery_id = ?', recovery.recoveryId)
  assert.deepEqual(onB.map((r) => [r.address, r.state]), [[newAddress, 'remote']])
  assert.ok(Buffer.from(onB[0]!.public_key).equals(Buffer.from(newKey)), 'B holds the new public key')
  assert.equal(query('b', 'SELECT 1 FROM accounts WHERE address = ?', oldAddress).length, 0)
  const pending = await apis.a!.download(token, newId)
  assert.deepEqual([pending.status, pending.json?.code], [409, 'RECOVERY_SHARES_PENDING'])

  await con.start('c')
  const three = await releases(3)
  assert.deepEqual(three.map((e) => e.actor.address.toLowerCase()).sort(), Object.values(hospital).sort())
  for (const e of three) assert.equal(e.ref?.toLowerCase(), recovery.recoveryId.toLowerCase())
  const got = await waitFor('the split record read with k releases', async () => {
    const r = await apis.a!.download(token, newId)
    return r.status === 409 ? undefined : r
  }, 60_000)
  assert.equal(got.status, 200, JSON.stringify(got.json))
  assert.ok(got.bytes.equals(bytes))

  // The old address: its password signs in no more; B finds no patient at it and makes no row for
  // it; C's doctor's grant, which the old key approved, serves nothing.
  assert.equal((await apis.a!.json('POST', '/auth/login', { email: founding.patient.email, password: founding.patient.password }, null)).status, 401)
  const asked = await apis.b!.json('POST', '/access-requests', { patient: oldAddress, purpose: 'Follow-up', days: 7 }, doctor.b!.token)
  assert.deepEqual([asked.status, asked.body.code], [404, 'UNKNOWN_PATIENT'], JSON.stringify(asked.body))
  assert.equal(query('b', 'SELECT 1 FROM accounts WHERE address = ?', oldAddress).length, 0)
  doctor.c!.token = await apis.c!.login(doctor.c!.email, 'doctor-password-123')
  assert.equal((await apis.c!.download(doctor.c!.token, newId)).status, 404)
})

test('no node holds a block or an envelope that opens the old version; the old key decrypts nothing any node serves', async () => {
  await Promise.all(Object.values(nodes).map((n) => n.stop()))
  for (const k of ['a', 'b', 'c']) {
    const ipfs = await openIpfs({ dir: join(homes[k]!, 'ipfs') })
    const db = new Database(join(homes[k]!, 'medledger.db'), { readonly: true })
    try {
      for (const cid of oldBlocks) assert.equal(await ipfs.helia.blockstore.has(cid), false, `${k} still holds ${cid}`)
      assert.equal(db.prepare('SELECT record_id FROM records WHERE record_id = ?').get(oldId), undefined)
      assert.equal((db.prepare('SELECT superseded_by FROM superseded_records WHERE record_id = ?').get(oldId) as { superseded_by: string } | undefined)?.superseded_by, newId)
      const fresh = db.prepare('SELECT digest FROM records WHERE record_id = ?').get(newId) as { digest: Hex }
      await assert.rejects(decryptAll(ipfs, cidFromDigest(hexToBytes(fresh.digest), 'dag'), oldKey), `the old key opens the new version on ${k}`)
      let envelopes = 0
      for await (const pair of ipfs.helia.blockstore.getAll()) {
        const { cid } = pair
        const chunks: Uint8Array[] = []
        for await (const c of pair.bytes) chunks.push(c)
        const block = Buffer.concat(chunks)
        assert.ok(!oldBlocks.some((old) => old.multihash.bytes.every((b, i) => b === cid.multihash.bytes[i])), `${k} holds an old block`)
        const obj = jsonOf(block)
        if (obj?.type === 'medledger/record-envelopes') {
          envelopes++
          assert.notEqual(obj.recordId, oldId)
          assert.throws(() => openManifest(obj as unknown as EnvelopesObject, oldKey), `a record's envelopes on ${k} open with the old key`)
        }
        if (obj?.type === 'medledger/grant-envelopes') assert.ok(!(obj.keys as { recordId: string }[]).some((x) => x.recordId === oldId), `a grant envelope on ${k} still wraps the old key`)
      }
      assert.ok(envelopes >= 1, `${k} holds the new version's envelopes`)
    } finally {
      db.close()
      await ipfs.stop()
    }
  }
})

async function blockOf(ipfs: Ipfs, cid: CID): Promise<Uint8Array | undefined> {
  if (!(await ipfs.helia.blockstore.has(cid))) return undefined
  const chunks: Uint8Array[] = []
  for await (const c of ipfs.helia.blockstore.get(cid, { offline: true })) chunks.push(c)
  return Buffer.concat(chunks)
}

/** The DAG under `root` as this store holds it, root first, leaves in order. */
async function dagOf(ipfs: Ipfs, root: CID): Promise<CID[]> {
  const out: CID[] = [root]
  const node = dagPb.decode((await blockOf(ipfs, root))!)
  for (const link of node.Links) out.push(link.Hash)
  return out
}

async function decryptAll(ipfs: Ipfs, root: CID, key: Uint8Array): Promise<Uint8Array[]> {
  const leaves = (await dagOf(ipfs, root)).slice(1)
  async function * source (): AsyncGenerator<Uint8Array> { for (const leaf of leaves) yield (await blockOf(ipfs, leaf))! }
  const out: Uint8Array[] = []
  for await (const chunk of decryptStream(source(), { key })) out.push(chunk)
  return out
}

function jsonOf(block: Uint8Array): Record<string, unknown> | undefined {
  if (block[0] !== 0x7b) return undefined
  try { return JSON.parse(Buffer.from(block).toString('utf8')) as Record<string, unknown> } catch { return undefined }
}
