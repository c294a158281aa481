// Recovery of a patient who lost every secret, on chain (issue 13 item 4): staff of the patient's
// hospital propose a new account (proposeRecovery), a different staff member or the admin approves
// (approveRecovery); then the old account is Retired and every patient-signed path refuses its key,
// while the successor's own reads of the old account's records log as own. Real anvil; exact
// custom errors and events.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { keccak256, zeroAddress, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { consentAbi, recordLedgerAbi, registryAbi } from '../../src/ledger/abis.ts'
import { expectRevert, noFees, startTestChain, type TestChain, type Wallet } from '../helpers/test-chain.ts'

const Role = { Staff: 1, Doctor: 2, Patient: 3 } as const
const Status = { Active: 2, Retired: 5 } as const
const X25519 = 1
const OWN = 1
const hash = (label: string): Hex => keccak256(new TextEncoder().encode(label))
const randomId = (): Hex => generatePrivateKey()

describe('Registry: recovery of a patient account (proposeRecovery, approveRecovery)', () => {
  let t: TestChain
  let registry: Address
  let consent: Address
  let ledger: Address
  const w: Record<string, Wallet> = {}
  const addr = (name: string): Address => w[name]!.account.address
  const call = (to: () => Address, abi: typeof registryAbi | typeof consentAbi | typeof recordLedgerAbi) =>
    (by: string, functionName: string, args: readonly unknown[]) =>
      w[by]!.writeContract({ address: to(), abi, functionName, args, ...noFees } as never) as Promise<Hex>
  const reg = call(() => registry, registryAbi)
  const con = call(() => consent, consentAbi)
  const led = call(() => ledger, recordLedgerAbi)
  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    t.client.readContract({ address: registry, abi: registryAbi, functionName, args } as never) as Promise<T>
  const accountOf = (name: string) => read<{ role: number; status: number; keyScheme: number; hospital: Address }>('accountOf', [addr(name)])
  const propose = (by: string, id: Hex, newName = 'patientNew') =>
    reg(by, 'proposeRecovery', [id, addr('patient'), addr(newName), X25519, hash('new key'), hash('verified in person')])

  before(async () => {
    t = await startTestChain()
    for (const name of ['admin', 'hospitalA', 'hospitalB', 'staffA', 'staffA2', 'staffB', 'doctorA', 'patient', 'patientNew', 'other', 'stranger']) w[name] = t.newWallet()
    registry = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
    consent = (await t.deploy(w.admin!, 'Consent', [registry])).address
    ledger = (await t.deploy(w.admin!, 'RecordLedger', [registry])).address
    const mined = async (p: Promise<Hex>) => t.eventsOf(await p, registryAbi, registry)
    await mined(reg('admin', 'addHospital', [addr('hospitalA'), X25519, hash('emergency key A')]))
    await mined(reg('admin', 'addHospital', [addr('hospitalB'), X25519, hash('emergency key B')]))
    await mined(reg('hospitalA', 'registerAccount', [addr('staffA'), Role.Staff, addr('hospitalA'), X25519, hash('staffA')]))
    await mined(reg('hospitalA', 'registerAccount', [addr('staffA2'), Role.Staff, addr('hospitalA'), X25519, hash('staffA2')]))
    await mined(reg('hospitalB', 'registerAccount', [addr('staffB'), Role.Staff, addr('hospitalB'), X25519, hash('staffB')]))
    await mined(reg('staffA', 'registerAccount', [addr('doctorA'), Role.Doctor, addr('hospitalA'), X25519, hash('doctorA')]))
    await mined(reg('staffA', 'registerAccount', [addr('patient'), Role.Patient, addr('hospitalA'), X25519, hash('patient')]))
    await mined(reg('staffA', 'registerAccount', [addr('other'), Role.Patient, addr('hospitalA'), X25519, hash('other')]))
  })
  after(async () => { await t?.stop() })

  test('only staff of the patient\'s hospital propose, for an active patient and an unused address; a refusal changes nothing', async () => {
    const id = randomId()
    for (const by of ['staffB', 'doctorA', 'hospitalA', 'stranger', 'patient']) {
      await expectRevert(propose(by, id), 'RegistryUnauthorized', [addr(by)])
    }
    await expectRevert(reg('staffA', 'proposeRecovery', [id, addr('doctorA'), addr('patientNew'), X25519, hash('k'), hash('v')]), 'RegistryNotActivePatient', [addr('doctorA')])
    await expectRevert(reg('staffA', 'proposeRecovery', [id, addr('patient'), addr('other'), X25519, hash('k'), hash('v')]), 'RegistryAlreadyRegistered', [addr('other')])
    await expectRevert(reg('staffA', 'proposeRecovery', [id, addr('patient'), zeroAddress, X25519, hash('k'), hash('v')]), 'RegistryZeroAddress')
    await expectRevert(reg('staffA', 'proposeRecovery', [id, addr('patient'), addr('patientNew'), X25519, zeroHash, hash('v')]), 'RegistryInvalidKey')
    await expectRevert(reg('staffA', 'proposeRecovery', [id, addr('patient'), addr('patientNew'), X25519, hash('k'), zeroHash]), 'RegistryEmptyReason')
    await expectRevert(reg('staffA', 'proposeRecovery', [id, addr('patient'), addr('patientNew'), 3, hash('k'), hash('v')]), 'RegistryInvalidKeyScheme', [3])
    assert.equal((await read<{ oldAccount: Address }>('recoveryOf', [id])).oldAccount, zeroAddress)
  })

  test('one approval (the proposal) changes nothing; the proposer cannot approve; a second staff member does, and the old key is refused everywhere', async () => {
    const id = randomId()
    const proposed = await t.eventsOf(await propose('staffA', id), registryAbi, registry)
    assert.deepEqual(proposed.events, [{
      eventName: 'RecoveryProposed',
      args: { recoveryId: id, oldAccount: addr('patient'), newAccount: addr('patientNew'), by: addr('staffA'), encryptionKey: hash('new key') },
    }])
    await expectRevert(propose('staffA2', id), 'RegistryRecoveryExists', [id])
    const unknown = randomId()
    await expectRevert(reg('staffA2', 'approveRecovery', [unknown, hash('rewrapped')]), 'RegistryUnknownRecovery', [unknown])

    // With the proposal alone, the old account still acts and the new one is nobody.
    assert.equal((await accountOf('patient')).status, Status.Active)
    assert.equal((await accountOf('patientNew')).role, 0)
    await expectRevert(reg('staffA', 'approveRecovery', [id, hash('rewrapped')]), 'RegistrySelfApproval', [addr('staffA')])
    for (const by of ['staffB', 'doctorA', 'patient', 'patientNew', 'stranger']) {
      await expectRevert(reg(by, 'approveRecovery', [id, hash('rewrapped')]), 'RegistryUnauthorized', [addr(by)])
    }
    assert.equal((await accountOf('patient')).status, Status.Active, 'refusals change nothing')
    assert.equal(await read('successorOf', [addr('patient')]), zeroAddress)

    // A pending request the old key could still approve, made before the recovery.
    const requestId = randomId()
    await t.eventsOf(await con('doctorA', 'requestAccess', [requestId, addr('patient'), zeroHash, 3, hash('purpose'), 86_400n]), consentAbi, consent)

    // A grant the old key made before the recovery.
    const oldGrant = randomId()
    await t.eventsOf(await con('doctorA', 'requestAccess', [oldGrant, addr('patient'), zeroHash, 3, hash('purpose'), 86_400n]), consentAbi, consent)
    await t.eventsOf(await con('patient', 'approve', [oldGrant, zeroHash, 3_600n, hash('envelopes')]), consentAbi, consent)
    await expectRevert(con('patientNew', 'revoke', [oldGrant]), 'ConsentNotPatient', [addr('patientNew'), oldGrant])

    const approved = await t.eventsOf(await reg('staffA2', 'approveRecovery', [id, hash('rewrapped')]), registryAbi, registry)
    assert.deepEqual(approved.events, [
      { eventName: 'RecoveryApproved', args: { recoveryId: id, oldAccount: addr('patient'), newAccount: addr('patientNew'), by: addr('staffA2'), envelopes: hash('rewrapped') } },
      { eventName: 'AccountRegistered', args: { account: addr('patientNew'), hospital: addr('hospitalA'), role: Role.Patient, keyScheme: X25519, encryptionKey: hash('new key') } },
    ])
    assert.equal((await accountOf('patient')).status, Status.Retired)
    assert.deepEqual(await accountOf('patientNew'), { role: Role.Patient, status: Status.Active, keyScheme: X25519, hospital: addr('hospitalA') })
    assert.equal(await read('successorOf', [addr('patient')]), addr('patientNew'))
    assert.equal(await read('encryptionKeyOf', [addr('patientNew')]), hash('new key'))
    const stored = await read<{ approved: boolean; proposer: Address; verification: Hex }>('recoveryOf', [id])
    assert.deepEqual([stored.approved, stored.proposer, stored.verification], [true, addr('staffA'), hash('verified in person')])
    await expectRevert(reg('admin', 'approveRecovery', [id, hash('rewrapped')]), 'RegistryRecoveryDone', [id])

    // The old key signs nothing as the patient any more: each path answers its exact error.
    await expectRevert(con('patient', 'approve', [requestId, zeroHash, 3_600n, hash('envelopes')]), 'ConsentNotActivePatient', [addr('patient')])
    await expectRevert(con('patient', 'deny', [requestId, hash('no')]), 'ConsentNotActivePatient', [addr('patient')])
    await expectRevert(con('patient', 'share', [randomId(), addr('doctorA'), zeroHash, hash('scope'), 3_600n, false, hash('envelopes')]), 'ConsentNotActivePatient', [addr('patient')])
    await expectRevert(con('patient', 'grantTeam', [randomId(), 3_600n, hash('envelopes')]), 'ConsentNotActivePatient', [addr('patient')])
    await expectRevert(con('patient', 'logAccess', [randomId(), addr('patient'), OWN, zeroHash]), 'ConsentNoAccessPath', [addr('patient'), addr('patient'), OWN, zeroHash])
    await expectRevert(con('doctorA', 'requestAccess', [randomId(), addr('patient'), zeroHash, 3, hash('purpose'), 86_400n]), 'ConsentNotActivePatient', [addr('patient')])
    await expectRevert(led('patient', 'allowRekey', [randomId()]), 'RecordLedgerNotPatient', [addr('patient')])
    await expectRevert(con('patient', 'revoke', [oldGrant]), 'ConsentNotActivePatient', [addr('patient')])
    await expectRevert(con('other', 'revoke', [oldGrant]), 'ConsentNotPatient', [addr('other'), oldGrant])
    // The successor ends what the retired key granted.
    const revoked = await t.eventsOf(await con('patientNew', 'revoke', [oldGrant]), consentAbi, consent)
    assert.deepEqual(revoked.events.map((e) => e.eventName), ['AccessRevoked'])
    // No second recovery of a retired account.
    await expectRevert(reg('staffA2', 'proposeRecovery', [randomId(), addr('patient'), addr('stranger'), X25519, hash('k'), hash('v')]), 'RegistryNotActivePatient', [addr('patient')])

    // The successor's own reads of records anchored for the old account log as own; nobody else's do.
    const recordId = randomId()
    const logged = await t.eventsOf(await con('patientNew', 'logAccess', [recordId, addr('patient'), OWN, zeroHash]), consentAbi, consent)
    assert.deepEqual(logged.events.map((e) => e.eventName), ['AccessLogged'])
    await expectRevert(con('other', 'logAccess', [recordId, addr('patient'), OWN, zeroHash]), 'ConsentNoAccessPath', [addr('other'), addr('patient'), OWN, zeroHash])
    // The new account acts as a patient: it grants.
    await t.eventsOf(await con('patientNew', 'share', [randomId(), addr('doctorA'), zeroHash, hash('scope'), 3_600n, false, hash('envelopes')]), consentAbi, consent)
  })

  test('the admin may approve in place of a second staff member', async () => {
    const id = randomId()
    await t.eventsOf(await reg('staffA2', 'proposeRecovery', [id, addr('other'), addr('stranger'), X25519, hash('k2'), hash('v2')]), registryAbi, registry)
    const { events } = await t.eventsOf(await reg('admin', 'approveRecovery', [id, hash('rewrapped')]), registryAbi, registry)
    assert.equal(events[0]!.eventName, 'RecoveryApproved')
    assert.equal((await accountOf('other')).status, Status.Retired)
    assert.equal(await read('successorOf', [addr('other')]), addr('stranger'))
  })
})
