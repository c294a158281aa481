// Recovery of a patient who lost every secret (issue 13 item 4), on one node in process with its
// anvil: a staff member who verified the patient in person starts it (`medledger recovery start`),
// a second staff member approves it (`medledger recovery approve`): the node re-wraps the patient's
// records for the new key with the hospital's emergency key, the Registry retires the old address;
// the one-time code then sets a new password and the patient reads the old records as their own.
// With one approval nothing changes, and the starter cannot approve their own; the old key is
// refused on chain afterwards (a transaction signed with it answers the exact custom error).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createWalletClient, http, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { openKeystore, type Keystore } from '../../src/crypto/keystore.ts'
import { decodeAccountSecrets } from '../../src/accounts/account-secrets.ts'
import { consentAbi, registryAbi } from '../../src/ledger/abis.ts'
import { cleanup, runCli, seed, tempDir } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { expectRevert, noFees } from '../helpers/test-chain.ts'
import type { Services } from '../../src/services.ts'

describe('recovery of a patient who lost every secret', () => {
  let n: InProcessNode
  let s: Services
  let api: InjectApi
  let world: Awaited<ReturnType<typeof seed>>
  const cliHomes: Record<string, string> = {}
  const records: { id: Hex; bytes: Uint8Array }[] = []
  let oldKeystore: Keystore
  let oldAddress: Address
  let recoveryId: Hex
  let code: string
  let doctor2: string
  let newToken: string
  const cli = (who: string, args: string[]) => runCli([...args, '--json'], { api: n.url, cliHome: cliHomes[who]! })

  before(async () => {
    n = await startInProcessNode()
    s = n.node.services
    api = new InjectApi(n.app, n.url)
    world = await seed(api, { hospitalName: 'H1', tag: 'rec' })
    for (const [i, text] of ['HbA1c 6.1 %', 'Discharge letter: appendectomy'].entries()) {
      const bytes = new TextEncoder().encode(text)
      const up = await api.upload(world.doctor.token, world.patient.id, `r${i}.txt`, bytes)
      assert.equal(up.status, 201, JSON.stringify(up.body))
      records.push({ id: up.body.recordId, bytes })
    }
    for (const who of ['staff1', 'staff2']) {
      const mk = await api.json('POST', '/users', { role: 'staff', hospital: world.hospital.id, email: `${who}@h1.example`, name: who, password: `${who}-password-123` }, world.admin)
      assert.equal(mk.status, 201, JSON.stringify(mk.body))
      cliHomes[who] = tempDir('ml-cli-')
      const login = await runCli(['login', '--email', `${who}@h1.example`, '--json'], { api: n.url, cliHome: cliHomes[who]!, input: `${who}-password-123\n` })
      assert.equal(login.code, 0, login.stderr)
    }
    // A second doctor the patient's old key shares a record with, before the recovery.
    const mk = await api.json('POST', '/users', { role: 'doctor', hospital: world.hospital.id, email: 'doctor2@h1.example', name: 'doctor2', password: 'doctor2-password-123' }, world.admin)
    assert.equal(mk.status, 201, JSON.stringify(mk.body))
    doctor2 = await api.login('doctor2@h1.example', 'doctor2-password-123')
    const shared = await api.json('POST', '/shares', { recordIds: [records[1]!.id], to: 'doctor2@h1.example', days: 3 }, world.patient.token)
    assert.equal(shared.status, 201, JSON.stringify(shared.body))
    assert.equal((await api.download(doctor2, records[1]!.id)).status, 200, 'the share works before the recovery')
    const row = await s.db.get<{ keystore: string; address: Address }>('SELECT keystore, address FROM accounts WHERE id = ?', world.patient.id)
    oldKeystore = JSON.parse(row!.keystore) as Keystore
    oldAddress = row!.address
  })
  after(async () => {
    cleanup(...Object.values(cliHomes))
    await n?.stop()
  })

  test('with one approval nothing changes; the staff member who started it cannot approve it', async () => {
    const doctor = await api.json('POST', '/recoveries', { patient: world.patient.id, verifiedById: 'passport 12AB34567' }, world.doctor.token)
    assert.equal(doctor.status, 403, 'a doctor cannot start one')
    const started = await cli('staff1', ['recovery', 'start', world.patient.id, '--verified-by-id', 'passport 12AB34567'])
    assert.equal(started.code, 0, started.stderr)
    const out = JSON.parse(started.stdout) as { recovery: { recoveryId: Hex; state: string; oldAddress: string }; code: string }
    assert.equal(out.recovery.state, 'proposed')
    assert.equal(out.recovery.oldAddress, oldAddress)
    recoveryId = out.recovery.recoveryId
    code = out.code
    const stored = await s.db.get<{ keystore: string }>('SELECT * FROM patient_recoveries WHERE recovery_id = ?', recoveryId)
    assert.equal(JSON.stringify(stored).includes('12AB34567'), false, 'the document number is not kept')

    // One approval: the code opens nothing, the old password still signs in, the old address is active.
    const early = await api.json('POST', '/auth/recover', { email: world.patient.email, recoveryCode: code, newPassword: 'a-new-password-456' })
    assert.equal(early.status, 401)
    assert.equal(early.body.code, 'INVALID_CREDENTIALS')
    assert.ok(await api.login(world.patient.email, world.patient.password))
    const status = await s.ledger.client.readContract({ address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'accountOf', args: [oldAddress] })
    assert.equal(status.status, 2, 'still Active')

    const self = await cli('staff1', ['recovery', 'approve', recoveryId])
    assert.notEqual(self.code, 0)
    assert.match(self.stderr + self.stdout, /FORBIDDEN/)
    const doctorApproves = await api.json('POST', `/recoveries/${recoveryId}/approve`, undefined, world.doctor.token)
    assert.equal(doctorApproves.status, 403)
    assert.equal((await s.db.get<{ state: string }>('SELECT state FROM patient_recoveries WHERE recovery_id = ?', recoveryId))!.state, 'proposed')
  })

  test('with the second approval the records are re-wrapped, the code sets a new password and the patient reads the old records with the new key', async () => {
    const approved = await cli('staff2', ['recovery', 'approve', recoveryId])
    assert.equal(approved.code, 0, approved.stderr)
    const r = JSON.parse(approved.stdout) as { state: string; rewrapped: number; notRewrapped: number; newAddress: Address; envelopes: Hex }
    assert.deepEqual([r.state, r.rewrapped, r.notRewrapped], ['approved', 2, 0])
    const again = await cli('staff2', ['recovery', 'approve', recoveryId])
    assert.match(again.stderr + again.stdout, /RECOVERY_NOT_PENDING/)

    assert.equal((await api.json('POST', '/auth/login', { email: world.patient.email, password: world.patient.password })).status, 401, 'the old password opens nothing')
    const reset = await api.json('POST', '/auth/recover', { email: world.patient.email, recoveryCode: code, newPassword: 'a-new-password-456' })
    assert.equal(reset.status, 200, JSON.stringify(reset.body))
    const token = await api.login(world.patient.email, 'a-new-password-456')
    newToken = token
    for (const rec of records) {
      const d = await api.download(token, rec.id)
      assert.equal(d.status, 200, JSON.stringify(d.json))
      assert.deepEqual(new Uint8Array(d.bytes), rec.bytes)
    }
    // The new key grants the old records too: a share by token, opened from the recovery's block.
    const share = await api.json('POST', '/shares', { recordIds: [records[0]!.id], token: true }, token)
    assert.equal(share.status, 201, JSON.stringify(share.body))
    const byToken = await api.call('GET', `/records/${records[0]!.id}`, { headers: { 'X-Medledger-Share-Token': share.body.token }, token: null })
    assert.equal(byToken.status, 200)
    assert.deepEqual(new Uint8Array(await byToken.arrayBuffer()), records[0]!.bytes)
    const me = await api.json('GET', '/auth/me', undefined, token)
    assert.equal(me.body.account?.address ?? me.body.address, r.newAddress)

    // The timeline shows both approvals (the proposal by staff1, the approval by staff2 with the re-wrapping's digest).
    const trail = await api.json('GET', `/audit?patient=${world.patient.id}`, undefined, token)
    assert.equal(trail.status, 200, JSON.stringify(trail.body))
    const events = (trail.body.events ?? trail.body.entries) as { event: string; actor: { name: string | null }; ref: string | null }[]
    const rec = events.filter((e) => e.event.startsWith('Recovery'))
    assert.deepEqual(rec.map((e) => [e.event, e.actor.name, e.ref?.toLowerCase()]).sort(), [
      ['RecoveryApproved', 'staff2', recoveryId.toLowerCase()],
      ['RecoveryProposed', 'staff1', recoveryId.toLowerCase()],
    ])
    assert.ok(events.some((e) => e.event === 'RecordAnchored'), 'the records anchored under the retired address are still in the trail')
  })

  test('a share the retired key made serves nothing and leaves no refused audit entry; the new key shares the old record again', async () => {
    const before = await s.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit_entries')
    const stale = await api.download(doctor2, records[1]!.id)
    assert.equal(stale.status, 404, JSON.stringify(stale.json))
    assert.equal(stale.json?.code, 'RECORD_NOT_FOUND')
    assert.ok(!stale.bytes.includes(Buffer.from(records[1]!.bytes)), 'no plaintext in the refusal')
    assert.equal((await s.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit_entries'))!.n, before!.n, 'no entry left to be refused after serving')
    const again = await api.json('POST', '/shares', { recordIds: [records[1]!.id], to: 'doctor2@h1.example', days: 3 }, newToken)
    assert.equal(again.status, 201, JSON.stringify(again.body))
    const read = await api.download(doctor2, records[1]!.id)
    assert.equal(read.status, 200, JSON.stringify(read.json))
    assert.deepEqual(new Uint8Array(read.bytes), records[1]!.bytes)
  })

  test('the old key is refused on chain: a transaction signed with it answers ConsentNotActivePatient', async () => {
    const { ledger } = decodeAccountSecrets((await openKeystore(oldKeystore, { password: world.patient.password })).payload)
    assert.equal(ledger.address.toLowerCase(), oldAddress.toLowerCase())
    const wallet = createWalletClient({ account: ledger, chain: { id: s.ledger.chainId, name: 'anvil', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [s.ledger.rpcUrl] } } }, transport: http(s.ledger.rpcUrl) })
    await expectRevert(wallet.writeContract({
      address: s.ledger.contracts.consent, abi: consentAbi, functionName: 'share',
      args: [generatePrivateKey(), world.doctor.address as Address, zeroHash, generatePrivateKey(), 3_600n, false, generatePrivateKey()], ...noFees,
    }), 'ConsentNotActivePatient', [ledger.address])
    const successor = await s.ledger.client.readContract({ address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'successorOf', args: [oldAddress] })
    assert.equal(successor.toLowerCase(), (await s.db.get<{ address: string }>('SELECT address FROM accounts WHERE id = ?', world.patient.id))!.address)
  })
})
