import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { hexToBytes, type Hex } from 'viem'
import { cleanup, runCli, seed, tempDir } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { cidFromDigest } from '../../src/storage/read-verified.ts'

// Re-keying on one node (issue 13 item 2), in process on a real chain, Helia and database: who
// may re-key, whom the new key is wrapped for, what the old id answers. The same across three
// node processes, replicas and the revoked doctor's old key: test/consortium/rekey.test.ts.
describe('re-key: a record re-encrypted under a new data key supersedes its old id', () => {
  let node: InProcessNode
  let api: InjectApi
  let a: Awaited<ReturnType<typeof seed>>
  const doctors: Record<string, { token: string; id: string }> = {}
  const bytes = randomBytes(70_000)
  let first = ''
  let second = ''
  let newest = ''

  const grant = async (doctor: string, recordIds?: string[]) => {
    const r = await api.json('POST', '/access-requests', { patient: a.patient.email, purpose: 'follow-up', days: 7, ...(recordIds ? { recordIds } : {}) }, doctors[doctor]!.token)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    const ok = await api.json('POST', `/access-requests/${r.body.requestId}/approve`, {}, a.patient.token)
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    return r.body.requestId as string
  }
  const fhir = async (path: string, token: string) => {
    const res = await node.app.inject({ method: 'GET', url: `/fhir/R4${path}`, headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json' } })
    return { status: res.statusCode, body: res.json() as { issue?: { details: { coding: { code: string }[] }; diagnostics?: string }[] } }
  }

  before(async () => {
    node = await startInProcessNode()
    api = new InjectApi(node.app, node.url)
    a = await seed(api)
    for (const name of ['listed', 'all', 'revoked', 'teamed']) {
      const r = await api.json('POST', '/users', { role: 'doctor', hospital: a.hospital.id, email: `${name}@example.org`, name: `Dr ${name}`, password: 'doctor-password-123' }, a.admin)
      assert.equal(r.status, 201, JSON.stringify(r.body))
      doctors[name] = { id: r.body.account.id, token: await api.login(`${name}@example.org`, 'doctor-password-123') }
    }
    const up = await api.upload(a.doctor.token, a.patient.email, 'scan.bin', bytes)
    assert.equal(up.status, 201, JSON.stringify(up.body))
    first = up.body.recordId
  })
  after(async () => {
    await node?.stop()
  })

  it('only the patient re-keys at once; a grantee is refused as for a record it cannot see, the author until the patient allows it', async () => {
    await grant('listed', [first])
    await grant('all')
    // A care team the patient granted: its member reads through the team key.
    const team = await api.json('POST', '/teams', { name: 'Ward' }, a.admin)
    assert.equal(team.status, 201, JSON.stringify(team.body))
    assert.equal((await api.json('POST', `/teams/${team.body.teamId}/members`, { doctor: 'teamed@example.org' }, a.admin)).status, 200)
    assert.equal((await api.json('POST', `/teams/${team.body.teamId}/grant`, { days: 7 }, a.patient.token)).status, 201)
    assert.equal((await api.download(doctors.teamed!.token, first)).status, 200)
    const revoked = await grant('revoked', [first])
    assert.equal((await api.download(doctors.revoked!.token, first)).status, 200)
    assert.equal((await api.json('POST', `/access-requests/${revoked}/revoke`, undefined, a.patient.token)).status, 200)

    const byGrantee = await api.json('POST', `/records/${first}/rekey`, undefined, doctors.listed!.token)
    assert.equal(byGrantee.status, 404)
    assert.equal(byGrantee.body.code, 'RECORD_NOT_FOUND')
    const byAuthor = await api.json('POST', `/records/${first}/rekey`, undefined, a.doctor.token)
    assert.equal(byAuthor.status, 403)
    assert.equal(byAuthor.body.code, 'REKEY_NOT_ALLOWED')
    const leaveByAuthor = await api.json('POST', `/records/${first}/rekey-leave`, undefined, a.doctor.token)
    assert.equal(leaveByAuthor.body.code, 'REKEY_NOT_ALLOWED')
    const bad = await api.json('POST', '/records/0x1234/rekey', undefined, a.patient.token)
    assert.equal(bad.body.code, 'INVALID_RECORD_ID')
    assert.equal((await api.json('GET', '/records?limit=100', undefined, a.patient.token)).body.total, 1)
  })

  it('the patient re-keys: the new key is wrapped for the patient, the author, the live grantees and the emergency key, never the revoked doctor', async () => {
    const { db } = node.node.services
    const old = (await db.get<{ digest: Hex; envelopes: Hex }>('SELECT digest, envelopes FROM records WHERE record_id = ?', first))!
    const r = await api.json('POST', `/records/${first}/rekey`, undefined, a.patient.token)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.equal(r.body.supersedes, first)
    assert.deepEqual(r.body.wrappedFor, { patient: true, author: true, grantees: 3, emergency: true, emergencyShares: 0 })
    second = r.body.recordId
    assert.notEqual(second, first)

    const env = JSON.parse(Buffer.from(await blockBytes(cidFromDigest(hexToBytes((await db.get<{ envelopes: Hex }>('SELECT envelopes FROM records WHERE record_id = ?', second))!.envelopes), 'raw'))).toString()) as { keys: { for: string; to: string }[] }
    const address = async (id: string) => (await db.get<{ address: string }>('SELECT address FROM accounts WHERE id = ?', id))!.address.toLowerCase()
    const grantees = env.keys.filter((k) => k.for === 'grantee').map((k) => k.to)
    // The two doctors' accounts and the care team's key.
    assert.equal(grantees.length, 3)
    for (const d of ['listed', 'all']) assert.ok(grantees.includes(await address(doctors[d]!.id)), d)
    assert.ok(!grantees.includes(await address(doctors.revoked!.id)))
    assert.deepEqual(env.keys.map((k) => k.for).sort(), ['author', 'emergency', 'grantee', 'grantee', 'grantee', 'patient'])

    // The old version's blocks are gone from this node: unpinned and deleted.
    for (const cid of [cidFromDigest(hexToBytes(old.digest), 'dag'), cidFromDigest(hexToBytes(old.envelopes), 'raw')]) {
      assert.equal(await node.node.services.ipfs.helia.blockstore.has(cid), false)
      assert.equal(await node.node.services.ipfs.helia.pins.isPinned(cid), false)
    }
  })

  it('reads of the old id answer 410 with the new id; reads of the new one give the same bytes to whoever holds access now', async () => {
    for (const token of [a.patient.token, a.doctor.token, doctors.listed!.token, doctors.all!.token, doctors.teamed!.token]) {
      const old = await api.download(token, first)
      assert.equal(old.status, 410)
      assert.deepEqual(old.json, { code: 'RECORD_SUPERSEDED', message: old.json.message, supersededBy: second })
      const fresh = await api.download(token, second)
      assert.equal(fresh.status, 200)
      assert.ok(fresh.bytes.equals(bytes))
    }
    // The revoked doctor learns nothing: both ids are records it cannot see.
    assert.equal((await api.download(doctors.revoked!.token, first)).status, 404)
    assert.equal((await api.download(doctors.revoked!.token, second)).status, 404)
    const listed = await api.json('GET', '/records?limit=100', undefined, a.patient.token)
    assert.deepEqual(listed.body.records.map((r: { recordId: string }) => r.recordId), [second])
    for (const path of [`/DocumentReference/${first.slice(2)}`, `/Binary/${first.slice(2)}`]) {
      const res = await fhir(path, a.patient.token)
      assert.equal(res.status, 410, path)
      assert.equal(res.body.issue?.[0]?.details.coding[0]?.code, 'RECORD_SUPERSEDED')
      assert.equal(res.body.issue?.[0]?.diagnostics, `supersededBy DocumentReference/${second.slice(2)}`)
    }
    assert.equal((await fhir(`/DocumentReference/${second.slice(2)}`, a.patient.token)).status, 200)
    const again = await api.json('POST', `/records/${first}/rekey`, undefined, a.patient.token)
    assert.equal(again.status, 410)
    assert.equal(again.body.supersededBy, second)
  })

  it('the author re-keys once the patient allowed it on chain, once', async () => {
    const leave = await api.json('POST', `/records/${second}/rekey-leave`, undefined, a.patient.token)
    assert.equal(leave.status, 200, JSON.stringify(leave.body))
    const r = await api.json('POST', `/records/${second}/rekey`, undefined, a.doctor.token)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    const third = r.body.recordId as string
    // The first id now points to the newest version.
    assert.equal((await api.download(a.patient.token, first)).json.supersededBy, third)
    assert.ok((await api.download(doctors.listed!.token, third)).bytes.equals(bytes))
    const notAgain = await api.json('POST', `/records/${third}/rekey`, undefined, a.doctor.token)
    assert.equal(notAgain.body.code, 'REKEY_NOT_ALLOWED')
    newest = third
  })

  it('from the CLI: medledger record rekey RECORD_ID prints the new id; the old one is refused with it', async () => {
    const cliHome = tempDir('ml-rekey-cli-')
    try {
      const cli = (args: string[], input?: string) => runCli(args, { api: node.url, cliHome, input })
      assert.equal((await cli(['login', '--email', a.patient.email], `${a.patient.password}\n`)).code, 0)
      const done = await cli(['record', 'rekey', newest, '--json'])
      assert.equal(done.code, 0, done.stderr)
      const out = JSON.parse(done.stdout) as { recordId: string; supersedes: string }
      assert.equal(out.supersedes, newest)
      const refused = await cli(['record', 'rekey', first])
      assert.notEqual(refused.code, 0)
      assert.match(refused.stderr, new RegExp(`RECORD_SUPERSEDED: .*supersededBy ${out.recordId}`))
      assert.equal((await cli(['record', 'rekey'])).code, 2)
    } finally {
      cleanup(cliHome)
    }
  })

  async function blockBytes(cid: ReturnType<typeof cidFromDigest>): Promise<Uint8Array> {
    const chunks: Uint8Array[] = []
    for await (const c of node.node.services.ipfs.helia.blockstore.get(cid)) chunks.push(c)
    return Buffer.concat(chunks)
  }
})
