// Recovery seen by a node that knows the patient only as a `remote` account (issue 13, the
// follower's RecoveryApproved branch), on one node in process and one anvil: hospital H1 (the
// node's) and four more member hospitals with emergency keys this test holds; k = 3. A record is
// uploaded for the patient, its data key split among the five; then the patient's row here is made
// what the follower keeps for another node's patient (state 'remote', no keystore) and the
// recovery is proposed and approved from outside the node, by two staff accounts H1's key
// registers on chain with keys only this test holds. The node's real follower must mirror it:
// the account row takes the new address and key, the recovery is kept approved, the split record
// as recovered-split, and H1 (the only hospital whose keys the node holds) releases its share for
// the new key once (RecoveryShareReleased from H1's address); applying the event again sends
// nothing.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { bytesToHex, createPublicClient, createWalletClient, http, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { generateEncryptionKeyPair, keySchemeId, type KeyScheme } from '../../src/crypto/key-wrap.ts'
import { hashSha256 } from '../../src/crypto/hashes.ts'
import { putRawBlock } from '../../src/storage/raw-block.ts'
import { unlockHospital } from '../../src/accounts/hospital-keys.ts'
import { sendHospitalProposal } from '../../src/ledger/registry/send-hospital-proposal.ts'
import { sendHospitalVote } from '../../src/ledger/registry/send-hospital-vote.ts'
import { consentAbi, registryAbi } from '../../src/ledger/abis.ts'
import { applyRecoveryApproved } from '../../src/consent/apply-recovery-approved.ts'
import { waitFor } from '../helpers/mail-fixtures.ts'
import type { ReleasingHospital } from '../../src/consent/emergency-shares.ts'
import { seed } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { noFees } from '../helpers/test-chain.ts'
import type { Services } from '../../src/services.ts'

describe('a node that mirrors the patient applies another node\'s recovery through its follower', () => {
  let n: InProcessNode
  let s: Services
  let world: Awaited<ReturnType<typeof seed>>
  let h1: ReleasingHospital
  let splitRecord: Hex

  before(async () => {
    n = await startInProcessNode()
    s = n.node.services
    const api = new InjectApi(n.app, n.url)
    world = await seed(api, { hospitalName: 'H1', tag: 'rm' })
    const unlocked = await unlockHospital(s, world.hospital.id)
    h1 = { address: unlocked.row.address as Address, scheme: unlocked.row.key_scheme, privateKey: unlocked.keys.encryptionPrivateKey, ledger: unlocked.keys.ledger }
    const members = [h1]
    for (let i = 2; i <= 5; i++) {
      const keys = await generateEncryptionKeyPair('x25519-hpke')
      await putRawBlock(s.ipfs, keys.publicKey)
      const ledger = privateKeyToAccount(generatePrivateKey())
      await sendHospitalProposal(s.ledger, { by: h1.ledger, hospital: ledger.address, keyScheme: keySchemeId('x25519-hpke'), emergencyKey: bytesToHex(hashSha256(keys.publicKey)) })
      for (const voter of members.slice(0, Math.floor(members.length / 2) + 1)) await sendHospitalVote(s.ledger, { voter: voter.ledger, candidate: ledger.address, approve: true })
      members.push({ address: ledger.address, scheme: 'x25519-hpke', privateKey: keys.privateKey, ledger })
    }
    const set = await api.json('PUT', '/emergencies/threshold', { shares: 5, threshold: 3 }, world.admin)
    assert.equal(set.status, 200, JSON.stringify(set.body))
    const up = await api.upload(world.doctor.token, world.patient.id, 'allergies.txt', new TextEncoder().encode('Allergy list: penicillin (anaphylaxis)'))
    assert.equal(up.status, 201, JSON.stringify(up.body))
    splitRecord = up.body.recordId
  })
  after(async () => { await n?.stop() })

  test('the follower mirrors the new address and key, keeps the recovery approved and the record recovered-split, and H1 releases its share once', async () => {
    const chain = { id: s.ledger.chainId, name: 'anvil', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [s.ledger.rpcUrl] } } }
    const wallet = (key: PrivateKeyAccount) => createWalletClient({ account: key, chain, transport: http(s.ledger.rpcUrl) })
    const reader = createPublicClient({ chain, transport: http(s.ledger.rpcUrl) })
    const send = async (key: PrivateKeyAccount, functionName: string, args: unknown[]) => {
      const hash = await wallet(key).writeContract({ address: s.ledger.contracts.registry, abi: registryAbi, functionName, args, ...noFees } as never)
      const receipt = await reader.waitForTransactionReceipt({ hash })
      assert.equal(receipt.status, 'success', functionName)
    }
    const patient = (await s.db.get<{ id: string; address: Address; key_scheme: KeyScheme }>('SELECT id, address, key_scheme FROM accounts WHERE id = ?', world.patient.id))!
    // The patient as this node would know another node's patient: a remote row with no keystore.
    await s.db.run(`UPDATE accounts SET state = 'remote', keystore = '' WHERE id = ?`, patient.id)

    // Two staff of H1 registered on chain by H1's key; their keys are held by this test only.
    const staffA = privateKeyToAccount(generatePrivateKey())
    const staffB = privateKeyToAccount(generatePrivateKey())
    for (const st of [staffA, staffB]) {
      const k = await generateEncryptionKeyPair('x25519-hpke')
      await send(h1.ledger as PrivateKeyAccount, 'registerAccount', [st.address, 1, h1.address, keySchemeId('x25519-hpke'), bytesToHex(hashSha256(k.publicKey))])
    }
    const newKeys = await generateEncryptionKeyPair(patient.key_scheme)
    await putRawBlock(s.ipfs, newKeys.publicKey) // the home node publishes the new key; this node fetches it by the Registry digest
    const newAccount = privateKeyToAccount(generatePrivateKey()).address
    const recoveryId = bytesToHex(hashSha256(new TextEncoder().encode(`recovery ${patient.address} ${Date.now()}`)))
    await send(staffA, 'proposeRecovery', [recoveryId, patient.address, newAccount, keySchemeId(patient.key_scheme), bytesToHex(hashSha256(newKeys.publicKey)), bytesToHex(hashSha256(new TextEncoder().encode('passport 98ZY76543')))])
    await send(staffB, 'approveRecovery', [recoveryId, zeroHash])

    await waitFor(() => s.db.get('SELECT 1 AS x FROM recovery_shares WHERE recovery_id = ?', recoveryId.toLowerCase()), { timeoutMs: 120_000, everyMs: 200, what: 'the follower to mirror the recovery and release H1\'s share' })
    const row = (await s.db.get<{ address: string; public_key: Uint8Array; state: string }>('SELECT address, public_key, state FROM accounts WHERE id = ?', patient.id))!
    assert.equal(row.address, newAccount.toLowerCase())
    assert.deepEqual(new Uint8Array(row.public_key), newKeys.publicKey)
    assert.equal(row.state, 'remote')
    const rec = (await s.db.get<{ state: string; old_address: string; new_address: string; keystore: string }>('SELECT state, old_address, new_address, keystore FROM patient_recoveries WHERE recovery_id = ?', recoveryId.toLowerCase()))!
    assert.deepEqual([rec.state, rec.old_address, rec.new_address, rec.keystore], ['approved', patient.address.toLowerCase(), newAccount.toLowerCase(), ''])
    assert.deepEqual(await s.db.all('SELECT record_id, split FROM recovered_records WHERE recovery_id = ?', recoveryId.toLowerCase()), [{ record_id: splitRecord.toLowerCase(), split: 1 }])
    const released = async () => (await s.db.all<{ hospital: string }>('SELECT hospital FROM recovery_shares WHERE recovery_id = ?', recoveryId.toLowerCase())).map((r) => r.hospital)
    assert.deepEqual(await released(), [h1.address.toLowerCase()], 'only the hospital whose keys this node holds')
    const onChain = async () => reader.getContractEvents({ address: s.ledger.contracts.consent, abi: consentAbi, eventName: 'RecoveryShareReleased', args: { recoveryId }, fromBlock: 0n })
    const events = await onChain()
    assert.deepEqual(events.map((e) => { const a = e.args as { hospital: Address; patient: Address }; return [a.hospital.toLowerCase(), a.patient.toLowerCase()] }), [[h1.address.toLowerCase(), newAccount.toLowerCase()]], 'from H1\'s address, naming the new account')

    // The event again (as after a restart's replay): nothing mirrored twice, no second release.
    assert.equal(await applyRecoveryApproved(s, { recoveryId, oldAccount: patient.address, newAccount, envelopes: zeroHash, fetchMs: 15_000 }), 0)
    assert.deepEqual(await released(), [h1.address.toLowerCase()])
    assert.equal((await onChain()).length, 1)
    assert.equal((await s.db.all('SELECT 1 FROM patient_recoveries WHERE recovery_id = ?', recoveryId.toLowerCase())).length, 1)
  })
})
