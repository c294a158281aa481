// Threshold break-glass on chain (issue 13 item 1): each member hospital releases its shares of an
// emergency as its own event, and the consortium admin sets the split. Exact custom errors and events.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { keccak256, type Address, type Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { consentAbi, registryAbi } from '../../src/ledger/abis.ts'
import { expectRevert, noFees, startTestChain, type TestChain, type Wallet } from '../helpers/test-chain.ts'

const Role = { Staff: 1, Doctor: 2, Patient: 3 } as const
const X25519 = 1
const hash = (label: string): Hex => keccak256(new TextEncoder().encode(label))
const randomId = (): Hex => generatePrivateKey()

describe('Consent: threshold break-glass (releaseEmergencyShare, setEmergencyThreshold)', () => {
  let t: TestChain
  let registry: Address
  let consent: Address
  const w: Record<string, Wallet> = {}
  const addr = (name: string): Address => w[name]!.account.address
  const write = (by: string, functionName: string, args: readonly unknown[]) =>
    w[by]!.writeContract({ address: consent, abi: consentAbi, functionName, args, ...noFees } as never) as Promise<Hex>
  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    t.client.readContract({ address: consent, abi: consentAbi, functionName, args } as never) as Promise<T>

  before(async () => {
    t = await startTestChain()
    for (const name of ['admin', 'hospitalA', 'hospitalB', 'hospitalC', 'outsider', 'staffA', 'doctorB', 'patientA', 'stranger']) w[name] = t.newWallet()
    registry = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
    consent = (await t.deploy(w.admin!, 'Consent', [registry])).address
    const reg = async (by: string, functionName: string, args: readonly unknown[]) =>
      t.eventsOf(await w[by]!.writeContract({ address: registry, abi: registryAbi, functionName, args, ...noFees } as never) as Hex, registryAbi, registry)
    await reg('admin', 'addHospital', [addr('hospitalA'), X25519, hash('emergency key A')])
    await reg('admin', 'addHospital', [addr('hospitalB'), X25519, hash('emergency key B')])
    await reg('hospitalA', 'proposeHospital', [addr('hospitalC'), X25519, hash('emergency key C')])
    await reg('hospitalA', 'voteOnHospital', [addr('hospitalC'), true])
    await reg('hospitalB', 'voteOnHospital', [addr('hospitalC'), true])
    await reg('admin', 'registerAccount', [addr('staffA'), Role.Staff, addr('hospitalA'), X25519, hash('staffA')])
    await reg('admin', 'registerAccount', [addr('doctorB'), Role.Doctor, addr('hospitalB'), X25519, hash('doctorB')])
    await reg('staffA', 'registerAccount', [addr('patientA'), Role.Patient, addr('hospitalA'), X25519, hash('patientA')])
  })
  after(async () => { await t?.stop() })

  test('every member hospital releases its shares as its own event, naming the patient and the doctor; others are refused', async () => {
    const id = randomId()
    await expectRevert(write('hospitalA', 'releaseEmergencyShare', [id, hash('shares A')]), 'ConsentUnknownEmergency', [id])
    await t.eventsOf(await write('doctorB', 'declareEmergency', [id, addr('patientA'), hash('reason'), 3600n]), consentAbi, consent)
    for (const by of ['outsider', 'staffA', 'doctorB', 'patientA', 'admin']) {
      await expectRevert(write(by, 'releaseEmergencyShare', [id, hash('shares')]), 'ConsentNotMemberHospital', [addr(by)])
    }
    await expectRevert(write('hospitalC', 'releaseEmergencyShare', [id, `0x${'0'.repeat(64)}`]), 'ConsentEmptyEnvelopes')
    for (const h of ['hospitalA', 'hospitalB', 'hospitalC']) {
      const { events, gasUsed } = await t.eventsOf(await write(h, 'releaseEmergencyShare', [id, hash(`shares ${h}`)]), consentAbi, consent)
      assert.deepEqual(events, [{ eventName: 'EmergencyShareReleased', args: { emergencyId: id, patient: addr('patientA'), hospital: addr(h), doctor: addr('doctorB'), shares: hash(`shares ${h}`) } }])
      assert.ok(gasUsed <= 60_000n, `a share release costs ${gasUsed} gas`)
    }
    // The single-key release of records from before the change is untouched (the patient's hospital only).
    await expectRevert(write('hospitalB', 'releaseEmergencyKey', [id, hash('envelopes')]), 'ConsentNotHospitalOf', [addr('hospitalB'), addr('patientA')])
    await t.advance(3601)
    await expectRevert(write('hospitalA', 'releaseEmergencyShare', [id, hash('late')]), 'ConsentEmergencyNotLive', [id])
  })

  test('a member hospital moves an old record to shares (its own event) and rotates its emergency key in the Registry', async () => {
    const recordId = randomId()
    await expectRevert(write('hospitalA', 'moveEmergencyShares', [`0x${'0'.repeat(64)}`, hash('shares')]), 'ConsentZeroId')
    await expectRevert(write('hospitalA', 'moveEmergencyShares', [recordId, `0x${'0'.repeat(64)}`]), 'ConsentEmptyEnvelopes')
    for (const by of ['outsider', 'staffA', 'patientA']) await expectRevert(write(by, 'moveEmergencyShares', [recordId, hash('shares')]), 'ConsentNotMemberHospital', [addr(by)])
    const moved = await t.eventsOf(await write('hospitalA', 'moveEmergencyShares', [recordId, hash('shares')]), consentAbi, consent)
    assert.deepEqual(moved.events, [{ eventName: 'EmergencySharesMoved', args: { recordId, hospital: addr('hospitalA'), shares: hash('shares') } }])

    const rotate = (by: string, key: Hex) => w[by]!.writeContract({ address: registry, abi: registryAbi, functionName: 'rotateEmergencyKey', args: [key], ...noFees } as never) as Promise<Hex>
    for (const by of ['outsider', 'staffA', 'admin']) await expectRevert(rotate(by, hash('new key')), 'RegistryUnknownHospital', [addr(by)])
    await expectRevert(rotate('hospitalA', `0x${'0'.repeat(64)}`), 'RegistryInvalidKey')
    await expectRevert(rotate('hospitalA', hash('emergency key A')), 'RegistryInvalidKey')
    const rotated = await t.eventsOf(await rotate('hospitalA', hash('emergency key A2')), registryAbi, registry)
    assert.deepEqual(rotated.events, [{ eventName: 'EmergencyKeyRotated', args: { hospital: addr('hospitalA'), emergencyKey: hash('emergency key A2') } }])
    assert.equal(await t.client.readContract({ address: registry, abi: registryAbi, functionName: 'emergencyKeyOf', args: [addr('hospitalA')] }), hash('emergency key A2'))
  })

  test('only the consortium admin sets the split, 2 <= k <= n <= 16 or both zero (the default)', async () => {
    assert.deepEqual(await read('emergencyThreshold'), [0, 0])
    for (const by of ['hospitalA', 'staffA', 'stranger']) await expectRevert(write(by, 'setEmergencyThreshold', [5, 3]), 'ConsentNotAdmin', [addr(by)])
    for (const [n, k] of [[5, 1], [3, 4], [17, 9], [0, 2], [2, 0]]) {
      await expectRevert(write('admin', 'setEmergencyThreshold', [n, k]), 'ConsentInvalidThreshold', [n, k])
    }
    assert.deepEqual(await read('emergencyThreshold'), [0, 0], 'refusals change nothing')
    const set = await t.eventsOf(await write('admin', 'setEmergencyThreshold', [5, 3]), consentAbi, consent)
    assert.deepEqual(set.events, [{ eventName: 'EmergencyThresholdSet', args: { shares: 5, threshold: 3 } }])
    assert.deepEqual(await read('emergencyThreshold'), [5, 3])
    await t.eventsOf(await write('admin', 'setEmergencyThreshold', [0, 0]), consentAbi, consent)
    assert.deepEqual(await read('emergencyThreshold'), [0, 0])
  })
})
