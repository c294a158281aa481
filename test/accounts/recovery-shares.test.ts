// Recovery of a patient whose records' data keys are split into threshold shares (issue 13 items 1
// and 4), on one node and one anvil: hospital H1 (the node's, the patient's) and four more member
// hospitals registered on the same chain with emergency keys this test holds, as their own nodes
// would (their releases run as node code, releaseRecoverySharesAs, with their own keys). With 5
// hospitals and k = 3: after the recovery's approval H1 releases its shares for the new key at
// once; with two releases the split record is refused (409 RECOVERY_SHARES_PENDING), with three
// (the third sent as another node would, from outside this node, kept through its follower) it
// reads; each release is in the patient's trail; the old key opens none of the released shares;
// the contract refuses a release for a recovery not approved and from a non-member.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { bytesToHex, createWalletClient, http, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { generateEncryptionKeyPair, keySchemeId } from '../../src/crypto/key-wrap.ts'
import { hashSha256 } from '../../src/crypto/hashes.ts'
import { openKeystore, type Keystore } from '../../src/crypto/keystore.ts'
import { putRawBlock } from '../../src/storage/raw-block.ts'
import { decodeAccountSecrets } from '../../src/accounts/account-secrets.ts'
import { unlockHospital } from '../../src/accounts/hospital-keys.ts'
import { sendHospitalProposal } from '../../src/ledger/registry/send-hospital-proposal.ts'
import { sendHospitalVote } from '../../src/ledger/registry/send-hospital-vote.ts'
import { consentAbi } from '../../src/ledger/abis.ts'
import { recoverySharesBlock, releaseRecoverySharesAs } from '../../src/consent/recovery-shares.ts'
import { applyRecoveryApproved } from '../../src/consent/apply-recovery-approved.ts'
import { waitFor } from '../helpers/mail-fixtures.ts'
import type { ReleasingHospital } from '../../src/consent/emergency-shares.ts'
import { recoverySharesKey } from '../../src/records/recovery-shares.ts'
import { isAppError } from '../../src/errors.ts'
import { seed } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { expectRevert, noFees } from '../helpers/test-chain.ts'
import type { Services } from '../../src/services.ts'

describe('recovery re-wraps split records through k member hospitals\' shares', () => {
  let n: InProcessNode
  let s: Services
  let api: InjectApi
  let world: Awaited<ReturnType<typeof seed>>
  const others: ReleasingHospital[] = []
  let h1: ReleasingHospital
  let splitRecord: Hex
  let oldKeystore: Keystore
  const bytes = new TextEncoder().encode('Allergy list: penicillin (anaphylaxis)')

  before(async () => {
    n = await startInProcessNode()
    s = n.node.services
    api = new InjectApi(n.app, n.url)
    world = await seed(api, { hospitalName: 'H1', tag: 'rs' })
    const unlocked = await unlockHospital(s, world.hospital.id)
    h1 = { address: unlocked.row.address as Address, scheme: unlocked.row.key_scheme, privateKey: unlocked.keys.encryptionPrivateKey, ledger: unlocked.keys.ledger }
    const members = [h1]
    for (let i = 2; i <= 5; i++) {
      const keys = await generateEncryptionKeyPair('x25519-hpke')
      await putRawBlock(s.ipfs, keys.publicKey)
      const ledger = privateKeyToAccount(generatePrivateKey())
      const hospital: ReleasingHospital = { address: ledger.address, scheme: 'x25519-hpke', privateKey: keys.privateKey, ledger }
      await sendHospitalProposal(s.ledger, { by: h1.ledger, hospital: hospital.address, keyScheme: keySchemeId('x25519-hpke'), emergencyKey: bytesToHex(hashSha256(keys.publicKey)) })
      for (const voter of members.slice(0, Math.floor(members.length / 2) + 1)) await sendHospitalVote(s.ledger, { voter: voter.ledger, candidate: hospital.address, approve: true })
      members.push(hospital)
      others.push(hospital)
    }
    const set = await api.json('PUT', '/emergencies/threshold', { shares: 5, threshold: 3 }, world.admin)
    assert.equal(set.status, 200, JSON.stringify(set.body))
    const up = await api.upload(world.doctor.token, world.patient.id, 'allergies.txt', bytes)
    assert.equal(up.status, 201, JSON.stringify(up.body))
    splitRecord = up.body.recordId
    oldKeystore = JSON.parse((await s.db.get<{ keystore: string }>('SELECT keystore FROM accounts WHERE id = ?', world.patient.id))!.keystore) as Keystore
    for (const who of ['staff1', 'staff2']) {
      const mk = await api.json('POST', '/users', { role: 'staff', hospital: world.hospital.id, email: `${who}@rs.example`, name: who, password: `${who}-password-123` }, world.admin)
      assert.equal(mk.status, 201, JSON.stringify(mk.body))
    }
  })
  after(async () => { await n?.stop() })

  test('with 5 hospitals and k = 3: two releases leave the split record unreadable, three open it; each release is in the trail; the old key opens none', async () => {
    const staff1 = await api.login('staff1@rs.example', 'staff1-password-123')
    const staff2 = await api.login('staff2@rs.example', 'staff2-password-123')
    const started = await api.json('POST', '/recoveries', { patient: world.patient.id, verifiedById: 'passport 98ZY76543' }, staff1)
    assert.equal(started.status, 201, JSON.stringify(started.body))
    const recoveryId = started.body.recovery.recoveryId as Hex

    // A release before the approval is refused on chain, with the exact error.
    const wallet = (key: ReleasingHospital['ledger']) => createWalletClient({ account: key, chain: { id: s.ledger.chainId, name: 'anvil', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [s.ledger.rpcUrl] } } }, transport: http(s.ledger.rpcUrl) })
    await expectRevert(wallet(others[0]!.ledger).writeContract({ address: s.ledger.contracts.consent, abi: consentAbi, functionName: 'releaseRecoveryShare', args: [recoveryId, bytesToHex(hashSha256(bytes))], ...noFees }), 'ConsentRecoveryNotApproved', [recoveryId])

    const approved = await api.json('POST', `/recoveries/${recoveryId}/approve`, undefined, staff2)
    assert.equal(approved.status, 200, JSON.stringify(approved.body))
    assert.deepEqual([approved.body.rewrapped, approved.body.notRewrapped], [0, 1], 'the split record is left to the hospitals\' shares')
    const released = await s.db.all<{ hospital: string }>('SELECT hospital FROM recovery_shares WHERE recovery_id = ?', recoveryId)
    assert.deepEqual(released.map((r) => r.hospital), [h1.address.toLowerCase()], 'the home hospital released at once')
    // The follower's RecoveryApproved handler on the home node (the recovery known here): the
    // release only, once per hospital: H1 released already, the others' keys are not held here.
    const event = { recoveryId, oldAccount: approved.body.oldAddress as Address, newAccount: approved.body.newAddress as Address, envelopes: approved.body.envelopes as Hex, fetchMs: 15_000 }
    assert.equal(await applyRecoveryApproved(s, event), 0, 'a hospital releases once')
    assert.equal((await s.db.all('SELECT 1 FROM patient_recoveries WHERE recovery_id = ?', recoveryId)).length, 1, 'nothing mirrored over the home row')
    // Not a member: refused.
    const stranger = privateKeyToAccount(generatePrivateKey())
    await expectRevert(wallet(stranger).writeContract({ address: s.ledger.contracts.consent, abi: consentAbi, functionName: 'releaseRecoveryShare', args: [recoveryId, bytesToHex(hashSha256(bytes))], ...noFees }), 'ConsentNotMemberHospital', [stranger.address])

    const reset = await api.json('POST', '/auth/recover', { email: world.patient.email, recoveryCode: started.body.code, newPassword: 'a-new-password-456' })
    assert.equal(reset.status, 200, JSON.stringify(reset.body))
    const token = await api.login(world.patient.email, 'a-new-password-456')

    let r = await api.download(token, splitRecord)
    assert.equal(r.status, 409, 'one release (the home\'s) is not enough')
    assert.equal(r.json.code, 'RECOVERY_SHARES_PENDING')
    assert.equal(await releaseRecoverySharesAs(s, { recoveryId, hospital: others[0]! }), 1)
    assert.equal(await releaseRecoverySharesAs(s, { recoveryId, hospital: others[0]! }), 0, 'a hospital releases once')
    r = await api.download(token, splitRecord)
    assert.equal(r.status, 409, 'two releases are not enough')
    assert.equal(r.json.code, 'RECOVERY_SHARES_PENDING')
    assert.equal(r.bytes.includes(Buffer.from('penicillin')), false)
    // Listed meanwhile, with what it waits for, and the rest of the list not failed by it.
    const listed = async () => ((await api.json('GET', '/records', undefined, token)).body.records as { recordId: string; fileName: string; problem?: string }[]).map((x) => [x.recordId, x.fileName, x.problem ?? null])
    assert.deepEqual(await listed(), [[splitRecord, '', 'RECOVERY_SHARES_PENDING']])
    const recoveries = (await api.json('GET', '/recoveries', undefined, staff1)).body.recoveries as { recoveryId: string; rewrapped: number; notRewrapped: number; proposedByName: string; approvedByName: string }[]
    assert.deepEqual(recoveries.map((x) => [x.recoveryId, x.rewrapped, x.notRewrapped, x.proposedByName, x.approvedByName]), [[recoveryId, 0, 1, 'staff1', 'staff2']])

    // The third comes as another node's would: its block and its transaction only; this node's
    // follower sees RecoveryShareReleased and keeps it.
    const rec = (await s.db.get<{ new_address: Address; key_scheme: ReleasingHospital['scheme']; public_key: Uint8Array }>('SELECT new_address, key_scheme, public_key FROM patient_recoveries WHERE recovery_id = ?', recoveryId))!
    const built = await recoverySharesBlock(s, { recoveryId, recordIds: [splitRecord], hospital: others[1]!, to: { address: rec.new_address, scheme: rec.key_scheme, publicKey: new Uint8Array(rec.public_key) } })
    assert.equal(built?.count, 1)
    await wallet(others[1]!.ledger).writeContract({ address: s.ledger.contracts.consent, abi: consentAbi, functionName: 'releaseRecoveryShare', args: [recoveryId, built!.digest], ...noFees })
    await waitFor(() => s.db.get('SELECT 1 AS x FROM recovery_shares WHERE recovery_id = ? AND hospital = ?', recoveryId, others[1]!.address.toLowerCase()), { timeoutMs: 60_000, what: 'the follower to keep the third release' })
    r = await api.download(token, splitRecord)
    assert.equal(r.status, 200, 'three are')
    assert.deepEqual(new Uint8Array(r.bytes), bytes)
    assert.deepEqual(await listed(), [[splitRecord, 'allergies.txt', null]])

    // The old key: its password no longer signs in, and the released shares do not open with it.
    assert.equal((await api.json('POST', '/auth/login', { email: world.patient.email, password: world.patient.password })).status, 401)
    const old = decodeAccountSecrets((await openKeystore(oldKeystore, { password: world.patient.password })).payload)
    const scheme = (await s.db.get<{ key_scheme: ReleasingHospital['scheme'] }>('SELECT key_scheme FROM accounts WHERE id = ?', world.patient.id))!.key_scheme
    const oldReader = { address: old.ledger.address.toLowerCase() as Address, scheme, privateKey: old.encryptionPrivateKey }
    const newAddress = approved.body.newAddress as Address
    await assert.rejects(recoverySharesKey(s, { recoveryId, recordId: splitRecord, reader: oldReader }), (e: unknown) => isAppError(e, 'RECOVERY_SHARES_PENDING'))
    await assert.rejects(recoverySharesKey(s, { recoveryId, recordId: splitRecord, reader: { ...oldReader, address: newAddress } }), (e: unknown) => isAppError(e, 'RECOVERY_SHARES_PENDING'), 'nor under the new address')

    const trail = await api.json('GET', `/audit?patient=${world.patient.id}`, undefined, token)
    assert.equal(trail.status, 200, JSON.stringify(trail.body))
    const events = (trail.body.events ?? trail.body.entries) as { event: string; actor: { address: string }; ref: string | null }[]
    const releases = events.filter((e) => e.event === 'RecoveryShareReleased')
    assert.deepEqual(new Set(releases.map((e) => e.actor.address.toLowerCase())), new Set([h1, others[0]!, others[1]!].map((h) => h.address.toLowerCase())))
    for (const e of releases) assert.equal(e.ref?.toLowerCase(), recoveryId.toLowerCase())
  })
})
