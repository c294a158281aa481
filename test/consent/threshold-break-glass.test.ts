// Threshold break-glass (issue 13 item 1) on one node and one anvil: hospital H1 (the node's,
// the patient's) and four more member hospitals registered on the same chain with emergency keys
// this test holds, as their own nodes would. Each one's release runs as node code
// (releaseSharesAs) with its own keys. With 5 hospitals and k = 3: two releases are not enough and
// three are; H1's emergency key alone opens nothing of a new record; a record stored before the
// consortium grew keeps its single emergency envelope and still reads.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { generateEncryptionKeyPair, keySchemeId } from '../../src/crypto/key-wrap.ts'
import { hashSha256 } from '../../src/crypto/hashes.ts'
import { putRawBlock, getRawBlockVerified } from '../../src/storage/raw-block.ts'
import { cidFromDigest } from '../../src/storage/read-verified.ts'
import { unlockHospital } from '../../src/accounts/hospital-keys.ts'
import { sendHospitalProposal } from '../../src/ledger/registry/send-hospital-proposal.ts'
import { sendHospitalVote } from '../../src/ledger/registry/send-hospital-vote.ts'
import { openEnvelopes, openManifest, parseEnvelopes } from '../../src/records/envelopes.ts'
import { combineShares, openShare } from '../../src/records/emergency-shares.ts'
import { releaseSharesAs, type ReleasingHospital } from '../../src/consent/emergency-shares.ts'
import { isAppError } from '../../src/errors.ts'
import { authenticate } from '../../src/accounts/sessions.ts'
import { keepResearchKeys, openResearchKey } from '../../src/consent/research-keys.ts'
import type { RecordRow } from '../../src/records/record.ts'
import { cleanup, runCli, seed, tempDir } from '../helpers/node-process.ts'
import { consentAbi, registryAbi } from '../../src/ledger/abis.ts'
import { consortiumHandlers } from '../../src/consortium/ledger-events.ts'
import type { LedgerEvent } from '../../src/consortium/follower.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import type { Services } from '../../src/services.ts'

describe('threshold break-glass: k of n member hospitals release their shares', () => {
  let n: InProcessNode
  let s: Services
  let api: InjectApi
  let world: Awaited<ReturnType<typeof seed>>
  let er: { token: string; address: Address }
  const others: ReleasingHospital[] = []
  let h1: ReleasingHospital
  let oldRecord: Hex
  let newRecord: Hex
  const oldBytes = new TextEncoder().encode('ECG before the consortium grew')
  const newBytes = new TextEncoder().encode('Allergy list: penicillin (anaphylaxis)')

  const envelopesOf = async (recordId: Hex) => {
    const row = await s.db.get<{ envelopes: Hex }>('SELECT envelopes FROM records WHERE record_id = ?', recordId)
    return parseEnvelopes(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(row!.envelopes), 'raw')), recordId)
  }

  before(async () => {
    n = await startInProcessNode()
    s = n.node.services
    api = new InjectApi(n.app, n.url)
    world = await seed(api, { hospitalName: 'H1', tag: 'h1' })
    const mk = await api.json('POST', '/users', { role: 'doctor', hospital: world.hospital.id, email: 'er@h1.example', name: 'ER Doctor', password: 'doctor-password-123' }, world.admin)
    assert.equal(mk.status, 201, JSON.stringify(mk.body))
    er = { token: await api.login('er@h1.example', 'doctor-password-123'), address: mk.body.account.address }

    // While H1 is the only member, a record keeps today's single emergency envelope.
    const up = await api.upload(world.doctor.token, world.patient.id, 'ecg.txt', oldBytes)
    assert.equal(up.status, 201, JSON.stringify(up.body))
    oldRecord = up.body.recordId

    const unlocked = await unlockHospital(s, world.hospital.id)
    h1 = { address: unlocked.row.address as Address, scheme: unlocked.row.key_scheme, privateKey: unlocked.keys.encryptionPrivateKey, ledger: unlocked.keys.ledger }
    // Four more hospitals, each with its own ledger and emergency keys; their public emergency
    // keys are in IPFS under the digest the Registry holds, as a joining node publishes them.
    const members = [h1]
    for (let i = 2; i <= 5; i++) {
      const keys = await generateEncryptionKeyPair('x25519-hpke')
      await putRawBlock(s.ipfs, keys.publicKey)
      const hospital: ReleasingHospital = { address: privateKeyToAccount(generatePrivateKey()).address, scheme: 'x25519-hpke', privateKey: keys.privateKey, ledger: privateKeyToAccount(generatePrivateKey()) }
      hospital.address = hospital.ledger.address
      await sendHospitalProposal(s.ledger, { by: h1.ledger, hospital: hospital.address, keyScheme: keySchemeId('x25519-hpke'), emergencyKey: bytesToHex(hashSha256(keys.publicKey)) })
      for (const voter of members.slice(0, Math.floor(members.length / 2) + 1)) await sendHospitalVote(s.ledger, { voter: voter.ledger, candidate: hospital.address, approve: true })
      members.push(hospital)
      others.push(hospital)
    }
    const set = await api.json('PUT', '/emergencies/threshold', { shares: 5, threshold: 3 }, world.admin)
    assert.equal(set.status, 200, JSON.stringify(set.body))

    const up2 = await api.upload(world.doctor.token, world.patient.id, 'allergies.txt', newBytes)
    assert.equal(up2.status, 201, JSON.stringify(up2.body))
    newRecord = up2.body.recordId
  })
  after(async () => { await n?.stop() })

  test('a new record\'s data key is split 3 of 5 among the member hospitals, its home among them; no single emergency envelope', async () => {
    const env = await envelopesOf(newRecord)
    assert.equal(env.keys.some((k) => k.for === 'emergency'), false)
    assert.equal(env.shares?.k, 3)
    assert.equal(env.shares?.n, 5)
    assert.deepEqual(new Set(env.shares!.keys.map((k) => k.to)), new Set([h1, ...others].map((h) => h.address.toLowerCase())))
    const old = await envelopesOf(oldRecord)
    assert.equal(old.shares, undefined)
    assert.equal(old.keys.filter((k) => k.for === 'emergency').length, 1)
  })

  test('a copied emergency key (H1\'s, the home node\'s) opens no new record from what is stored', async () => {
    const env = await envelopesOf(newRecord)
    await assert.rejects(openEnvelopes(env, h1), (e: unknown) => isAppError(e, 'RECORD_NOT_FOUND'))
    const share = await openShare(env.shares!, newRecord, h1)
    assert.ok(share, 'H1 holds one share')
    await assert.rejects(combineShares(env.shares!, new Map([[h1.address.toLowerCase(), share]])), (e: unknown) => isAppError(e, 'EMERGENCY_SHARES_PENDING'))
    assert.throws(() => openManifest(env, share.subarray(0, 32)), (e: unknown) => isAppError(e, 'RECORD_INTEGRITY'))
    // Nor another hospital's share: each is wrapped for its own hospital's key.
    for (const other of env.shares!.keys.filter((k) => k.to !== h1.address.toLowerCase())) {
      await assert.rejects(openShare({ ...env.shares!, keys: [{ ...other, to: h1.address }] }, newRecord, h1), (e: unknown) => isAppError(e, 'RECORD_INTEGRITY'))
    }
  })

  test('break-glass: the home releases on the declaration; with two releases the read is refused, with three it is served; each release is in the patient\'s trail', async () => {
    const open = await api.json('POST', '/emergencies', { patient: world.patient.id, reason: 'Unconscious on arrival' }, er.token)
    assert.equal(open.status, 201, JSON.stringify(open.body))
    const emergencyId = open.body.emergencyId as Hex

    // The record from before the change reads through the home hospital's single release.
    const old = await api.download(er.token, oldRecord)
    assert.equal(old.status, 200)
    assert.deepEqual(new Uint8Array(old.bytes), oldBytes)

    // H1 released its share with the declaration: one of three.
    let r = await api.download(er.token, newRecord)
    assert.equal(r.status, 409)
    assert.equal(r.json.code, 'EMERGENCY_SHARES_PENDING')
    assert.equal(await releaseSharesAs(s, { emergencyId, hospital: others[0]! }), 1, 'its share of the new record (the old one has none)')
    r = await api.download(er.token, newRecord)
    assert.equal(r.status, 409, 'two releases are not enough')
    assert.equal(r.json.code, 'EMERGENCY_SHARES_PENDING')
    assert.equal(r.bytes.includes(Buffer.from('penicillin')), false)

    assert.equal(await releaseSharesAs(s, { emergencyId, hospital: others[1]! }), 1)
    r = await api.download(er.token, newRecord)
    assert.equal(r.status, 200, 'three are')
    assert.deepEqual(new Uint8Array(r.bytes), newBytes)

    const trail = await api.json('GET', `/audit?patient=${world.patient.id}`, undefined, world.patient.token)
    assert.equal(trail.status, 200)
    const releases = (trail.body.events ?? trail.body.entries).filter((e: { event: string }) => e.event === 'EmergencyShareReleased')
    assert.deepEqual(new Set(releases.map((e: { actor: { address: string } }) => e.actor.address.toLowerCase())), new Set([h1, others[0]!, others[1]!].map((h) => h.address.toLowerCase())))
    for (const e of releases) assert.equal(e.ref.toLowerCase(), emergencyId.toLowerCase())
  })

  test('record rekey --all-emergency (staff): the old record moves to shares and the home\'s emergency key is replaced; the node\'s key alone then opens neither record, and both read with k releases', async () => {
    const staff = await api.json('POST', '/users', { role: 'staff', hospital: world.hospital.id, email: 'staff@h1.example', name: 'Staff H1', password: 'staff-password-123' }, world.admin)
    assert.equal(staff.status, 201, JSON.stringify(staff.body))
    // The copies of the patient's records' keys a research consent keeps for H1, made with the patient's own key.
    const patient = await authenticate(s, world.patient.token)
    assert.equal(await keepResearchKeys(s, { patientId: world.patient.id, address: patient.account.address, scheme: patient.account.keyScheme, privateKey: patient.keys!.encryptionPrivateKey, hospitalId: world.hospital.id }), 2)
    const cliHome = tempDir('ml-cli-')
    try {
      assert.equal((await runCli(['login', '--email', 'staff@h1.example', '--json'], { api: n.url, cliHome, input: 'staff-password-123\n' })).code, 0)
      const run = await runCli(['record', 'rekey', '--all-emergency', '--json'], { api: n.url, cliHome })
      assert.equal(run.code, 0, run.stderr)
      assert.deepEqual(JSON.parse(run.stdout), { hospital: h1.address.toLowerCase(), moved: 1, rewrapped: 1, rotated: true })
      const again = await runCli(['record', 'rekey', '--all-emergency', '--json'], { api: n.url, cliHome })
      assert.deepEqual(JSON.parse(again.stdout), { hospital: h1.address.toLowerCase(), moved: 0, rewrapped: 0, rotated: false }, 'nothing is left to move')
    } finally {
      cleanup(cliHome)
    }
    assert.equal(await s.db.get('SELECT 1 FROM retired_emergency_keys'), undefined, 'the old key is gone from the node')
    const rotated = await unlockHospital(s, world.hospital.id)
    const named = await s.ledger.client.readContract({ address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'emergencyKeyOf', args: [h1.address] })
    assert.equal(named, bytesToHex(hashSha256(rotated.row.emergency_public_key)), 'the Registry names the new key')
    const stolen = { address: h1.address, scheme: h1.scheme, privateKey: rotated.keys.encryptionPrivateKey }
    await assert.rejects(openEnvelopes(await envelopesOf(oldRecord), stolen), (e: unknown) => isAppError(e, 'RECORD_INTEGRITY'), 'the new key does not open the old single envelope')
    await assert.rejects(openEnvelopes(await envelopesOf(newRecord), stolen), (e: unknown) => isAppError(e, 'RECORD_NOT_FOUND'))
    // The research copies followed the key: the new one opens them, as an export does; the old key is gone.
    for (const [id, bytes] of [[oldRecord, oldBytes], [newRecord, newBytes]] as const) {
      const row = await s.db.get<RecordRow>('SELECT * FROM records WHERE record_id = ?', id)
      const opened = await openResearchKey(s, row!, { id: world.hospital.id, scheme: rotated.row.key_scheme, privateKey: rotated.keys.encryptionPrivateKey })
      assert.equal(opened?.manifest.size, bytes.length, 'the research copy opens with the new key')
    }

    const open = await api.json('POST', '/emergencies', { patient: world.patient.id, reason: 'Second admission, unconscious' }, er.token)
    assert.equal(open.status, 201, JSON.stringify(open.body))
    const emergencyId = open.body.emergencyId as Hex
    for (const id of [oldRecord, newRecord]) {
      const r = await api.download(er.token, id)
      assert.equal(r.status, 409, 'the home\'s release alone is not enough, for the old record too')
      assert.equal(r.json.code, 'EMERGENCY_SHARES_PENDING')
    }
    assert.equal(await releaseSharesAs(s, { emergencyId, hospital: others[2]! }), 2, 'a share of each record')
    assert.equal(await releaseSharesAs(s, { emergencyId, hospital: others[3]! }), 2)
    assert.deepEqual(new Uint8Array((await api.download(er.token, oldRecord)).bytes), oldBytes)
    assert.deepEqual(new Uint8Array((await api.download(er.token, newRecord)).bytes), newBytes)
  })
  // A node killed after its EmergencySharesMoved was mined and before the flow wrote the row: the
  // follower writes it from the node's own event (the real ones the run above sent, handled by the
  // follower's own handler), so a re-run finds the records moved and splits none a second time.
  test('record rekey --all-emergency cut off after the receipt: the follower keeps the moved shares from the node\'s own EmergencySharesMoved; a re-run moves nothing (rows taken from its journal), and an earlier transaction does not replace a later one', async () => {
    const events = await s.ledger.client.getContractEvents({ address: s.ledger.contracts.consent, abi: consentAbi, eventName: 'EmergencySharesMoved', fromBlock: 0n }) as unknown as LedgerEvent[]
    assert.deepEqual(new Set(events.map((e) => (e.args as { recordId: Hex }).recordId.toLowerCase())), new Set([oldRecord, newRecord].map((id) => id.toLowerCase())))
    const chainHolds = new Map(events.map((e) => [(e.args as { recordId: Hex }).recordId.toLowerCase(), { shares: (e.args as { shares: Hex }).shares.toLowerCase(), tx: e.transactionHash }]))
    await s.db.run('DELETE FROM emergency_moved')
    const handle = consortiumHandlers(s, { onMembership: async () => {} })
    for (const e of events) await handle(e, { fetchMs: 2000 })
    const rows = await s.db.all<{ record_id: string; shares: string; tx_hash: string }>('SELECT record_id, shares, tx_hash FROM emergency_moved')
    assert.deepEqual(new Map(rows.map((r) => [r.record_id, { shares: r.shares.toLowerCase(), tx: r.tx_hash }])), chainHolds, 'each record\'s row is the shares block the chain holds')

    // The event of an earlier transaction of this node (the key rotation's, journaled, mined before) does not put a row back.
    const first = await s.db.get<{ tx_hash: Hex }>(`SELECT tx_hash FROM journal WHERE purpose = 'rotate-emergency-key' ORDER BY id LIMIT 1`)
    assert.ok(first, 'the rotation is in the journal')
    const receipt = await s.ledger.client.getTransactionReceipt({ hash: first.tx_hash })
    const stale = { ...events[0]!, transactionHash: first.tx_hash, blockNumber: receipt.blockNumber, args: { ...(events[0]!.args as object), shares: '0x' + '11'.repeat(32) } } as unknown as LedgerEvent
    await handle(stale, { fetchMs: 2000 })
    const kept = await s.db.get<{ shares: string }>('SELECT shares FROM emergency_moved WHERE record_id = ?', (events[0]!.args as { recordId: Hex }).recordId.toLowerCase())
    assert.equal(kept?.shares.toLowerCase(), chainHolds.get((events[0]!.args as { recordId: Hex }).recordId.toLowerCase())?.shares)

    // A re-run before the follower reached those blocks (rows gone again): the run takes them from its journal first.
    await s.db.run('DELETE FROM emergency_moved')
    const cliHome = tempDir('ml-cli-')
    try {
      assert.equal((await runCli(['login', '--email', 'staff@h1.example', '--json'], { api: n.url, cliHome, input: 'staff-password-123\n' })).code, 0)
      const again = await runCli(['record', 'rekey', '--all-emergency', '--json'], { api: n.url, cliHome })
      assert.equal(again.code, 0, again.stderr)
      assert.deepEqual(JSON.parse(again.stdout), { hospital: h1.address.toLowerCase(), moved: 0, rewrapped: 0, rotated: false }, 'nothing is split a second time')
    } finally {
      cleanup(cliHome)
    }
    const after = await s.db.all<{ record_id: string; shares: string; tx_hash: string }>('SELECT record_id, shares, tx_hash FROM emergency_moved')
    assert.deepEqual(new Map(after.map((r) => [r.record_id, { shares: r.shares.toLowerCase(), tx: r.tx_hash }])), chainHolds, 'the re-run wrote the rows the chain holds')
  })
})
