import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { concat, keccak256, pad, toHex, zeroAddress, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey, type PrivateKeyAccount } from 'viem/accounts'
import { careTeamsAbi, consentAbi, registryAbi } from '../../src/ledger/abis.ts'
import { purposes } from '../../src/ledger/purposes.ts'
import { accessEntryTypes, consentDomain, type AccessEntry, type SignedAccessEntry } from '../../src/ledger/consent/sign-access-entry.ts'
import { expectRevert, noFees, startTestChain, type TestChain, type Wallet } from '../helpers/test-chain.ts'

const Role = { Staff: 1, Doctor: 2, Patient: 3 } as const
const X25519 = 1
const DAY = 86_400n
const hash = (label: string): Hex => keccak256(new TextEncoder().encode(label))
const randomId = (): Hex => generatePrivateKey()

describe('CareTeams and team grants in Consent: membership on chain, a grant to a team, reads logged only by current members', () => {
  let t: TestChain
  let registry: Address
  let consent: Address
  let teams: Address
  const w: Record<string, Wallet> = {}
  const addr = (name: string): Address => w[name]!.account.address
  const send = (by: string, address: Address, abi: typeof careTeamsAbi | typeof consentAbi | typeof registryAbi, functionName: string, args: readonly unknown[]) =>
    w[by]!.writeContract({ address, abi, functionName, args, ...noFees } as never) as Promise<Hex>
  const team = (by: string, fn: string, args: readonly unknown[]) => send(by, teams, careTeamsAbi, fn, args)
  const cons = (by: string, fn: string, args: readonly unknown[]) => send(by, consent, consentAbi, fn, args)
  const isMember = (id: Hex, who: string) => t.client.readContract({ address: teams, abi: careTeamsAbi, functionName: 'isMember', args: [id, addr(who)] })
  const live = (id: Hex, patient: string, reader: string) =>
    t.client.readContract({ address: consent, abi: consentAbi, functionName: 'isTeamGrantLive', args: [id, addr(patient), addr(reader)] })

  let n = BigInt(randomId()) >> 168n << 8n
  async function sign(by: string, entry: Pick<AccessEntry, 'patient' | 'purpose' | 'ref'>): Promise<SignedAccessEntry> {
    const full: AccessEntry = { entryId: concat([addr('hospitalA').toLowerCase() as Hex, pad(toHex(n++), { size: 12 })]), recordId: randomId(), readAt: await t.now(), ...entry }
    const signature = await (w[by]!.account as PrivateKeyAccount).signTypedData({ domain: consentDomain({ chainId: t.chain.id, consent }), types: accessEntryTypes, primaryType: 'AccessEntry', message: full })
    return { ...full, reader: addr(by), signature }
  }

  before(async () => {
    t = await startTestChain()
    for (const name of ['admin', 'hospitalA', 'hospitalB', 'staffA', 'staffB', 'doctorA', 'doctorA2', 'doctorA3', 'doctorB', 'patientA', 'patientB', 'stranger']) w[name] = t.newWallet()
    registry = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
    consent = (await t.deploy(w.admin!, 'Consent', [registry])).address
    teams = (await t.deploy(w.admin!, 'CareTeams', [registry])).address
    const reg = async (by: string, fn: string, args: readonly unknown[]) => t.eventsOf(await send(by, registry, registryAbi, fn, args), registryAbi, registry)
    await reg('admin', 'linkContracts', [(await t.deploy(w.admin!, 'RecordLedger', [registry])).address, consent])
    await reg('admin', 'addHospital', [addr('hospitalA'), X25519, hash('emergency key A')])
    await reg('admin', 'addHospital', [addr('hospitalB'), X25519, hash('emergency key B')])
    await reg('admin', 'registerAccount', [addr('staffA'), Role.Staff, addr('hospitalA'), X25519, hash('staffA')])
    await reg('admin', 'registerAccount', [addr('staffB'), Role.Staff, addr('hospitalB'), X25519, hash('staffB')])
    for (const [staff, who, role, hospital] of [
      ['staffA', 'doctorA', Role.Doctor, 'hospitalA'], ['staffA', 'doctorA2', Role.Doctor, 'hospitalA'], ['staffA', 'doctorA3', Role.Doctor, 'hospitalA'],
      ['staffB', 'doctorB', Role.Doctor, 'hospitalB'], ['staffA', 'patientA', Role.Patient, 'hospitalA'], ['staffB', 'patientB', Role.Patient, 'hospitalB'],
    ] as const) await reg(staff, 'registerAccount', [addr(who), role, addr(hospital), X25519, hash(who)])
  })
  after(() => t?.stop())

  test('only the admin links CareTeams in the Registry, once, and only one bound to it', async () => {
    const link = (by: string, target: Address) => send(by, registry, registryAbi, 'linkCareTeams', [target])
    await expectRevert(link('staffA', teams), 'RegistryUnauthorized', [addr('staffA')])
    await expectRevert(link('admin', zeroAddress), 'RegistryZeroAddress')
    const foreign = (await t.deploy(w.admin!, 'CareTeams', [addr('stranger')])).address
    await expectRevert(link('admin', foreign), 'RegistryForeignContract', [foreign])
    const { events } = await t.eventsOf(await link('admin', teams), registryAbi, registry)
    assert.deepEqual(events, [{ eventName: 'CareTeamsLinked', args: { careTeams: teams } }])
    assert.equal(await t.client.readContract({ address: registry, abi: registryAbi, functionName: 'careTeams' }), teams)
    await expectRevert(link('admin', teams), 'RegistryAlreadyLinked')
  })

  test('the hospital\'s staff or the admin create a team and manage its members; everyone else is refused with the exact error', async () => {
    const id = randomId()
    for (const who of ['staffB', 'doctorA', 'patientA', 'hospitalA', 'stranger']) {
      await expectRevert(team(who, 'createTeam', [id, addr('hospitalA'), hash('key 1')]), 'CareTeamsUnauthorized', [addr(who), addr('hospitalA')])
    }
    await expectRevert(team('staffA', 'createTeam', [zeroHash, addr('hospitalA'), hash('key 1')]), 'CareTeamsZeroValue')
    await expectRevert(team('staffA', 'createTeam', [id, addr('hospitalA'), zeroHash]), 'CareTeamsZeroValue')
    await expectRevert(team('staffA', 'createTeam', [id, addr('stranger'), hash('key 1')]), 'CareTeamsNotMemberHospital', [addr('stranger')])
    const created = await t.eventsOf(await team('staffA', 'createTeam', [id, addr('hospitalA'), hash('key 1')]), careTeamsAbi, teams)
    assert.deepEqual(created.events, [{ eventName: 'TeamCreated', args: { teamId: id, hospital: addr('hospitalA'), by: addr('staffA'), keyDigest: hash('key 1') } }])
    await expectRevert(team('staffA', 'createTeam', [id, addr('hospitalA'), hash('key 1')]), 'CareTeamsTeamExists', [id])
    const other = randomId()
    await t.eventsOf(await team('admin', 'createTeam', [other, addr('hospitalA'), hash('key x')]), careTeamsAbi, teams)

    const unknown = randomId()
    await expectRevert(team('staffA', 'addMember', [unknown, addr('doctorA')]), 'CareTeamsUnknownTeam', [unknown])
    for (const who of ['staffB', 'doctorA', 'patientA', 'stranger']) {
      await expectRevert(team(who, 'addMember', [id, addr('doctorA')]), 'CareTeamsUnauthorized', [addr(who), addr('hospitalA')])
    }
    for (const who of ['doctorB', 'patientA', 'staffA', 'stranger']) {
      await expectRevert(team('staffA', 'addMember', [id, addr(who)]), 'CareTeamsNotHospitalDoctor', [addr(who), addr('hospitalA')])
    }
    const added = await t.eventsOf(await team('staffA', 'addMember', [id, addr('doctorA')]), careTeamsAbi, teams)
    assert.deepEqual(added.events, [{ eventName: 'TeamMemberAdded', args: { teamId: id, doctor: addr('doctorA'), by: addr('staffA'), epoch: 1 } }])
    await t.eventsOf(await team('admin', 'addMember', [id, addr('doctorA2')]), careTeamsAbi, teams)
    await expectRevert(team('staffA', 'addMember', [id, addr('doctorA')]), 'CareTeamsAlreadyMember', [id, addr('doctorA')])
    assert.equal(await isMember(id, 'doctorA'), true)
    assert.equal(await isMember(other, 'doctorA'), false)

    await expectRevert(team('staffB', 'removeMember', [id, addr('doctorA'), hash('key 2')]), 'CareTeamsUnauthorized', [addr('staffB'), addr('hospitalA')])
    await expectRevert(team('staffA', 'removeMember', [id, addr('doctorA3'), hash('key 2')]), 'CareTeamsNotMember', [id, addr('doctorA3')])
    await expectRevert(team('staffA', 'removeMember', [id, addr('doctorA'), hash('key 1')]), 'CareTeamsZeroValue')
    await expectRevert(team('staffA', 'removeMember', [id, addr('doctorA'), zeroHash]), 'CareTeamsZeroValue')
    const removed = await t.eventsOf(await team('staffA', 'removeMember', [id, addr('doctorA'), hash('key 2')]), careTeamsAbi, teams)
    assert.deepEqual(removed.events, [{ eventName: 'TeamMemberRemoved', args: { teamId: id, doctor: addr('doctorA'), by: addr('staffA'), epoch: 2, keyDigest: hash('key 2') } }])
    assert.equal(await isMember(id, 'doctorA'), false)
    assert.deepEqual(await t.client.readContract({ address: teams, abi: careTeamsAbi, functionName: 'teamOf', args: [id] }),
      { hospital: addr('hospitalA'), epoch: 2, keyDigest: hash('key 2') })
  })

  test('a patient grants a team; members read and log while members and while the grant lives, a removed member at once no more', async () => {
    const id = randomId()
    await team('staffA', 'createTeam', [id, addr('hospitalA'), hash('key 1')])
    await t.eventsOf(await team('staffA', 'addMember', [id, addr('doctorA')]), careTeamsAbi, teams)
    await t.eventsOf(await team('staffA', 'addMember', [id, addr('doctorA2')]), careTeamsAbi, teams)

    await expectRevert(cons('patientA', 'grantTeam', [zeroHash, DAY, hash('envelopes')]), 'ConsentZeroId')
    for (const who of ['doctorA', 'staffA', 'stranger']) {
      await expectRevert(cons(who, 'grantTeam', [id, DAY, hash('envelopes')]), 'ConsentNotActivePatient', [addr(who)])
    }
    await expectRevert(cons('patientA', 'grantTeam', [id, 59n * 60n, hash('envelopes')]), 'ConsentInvalidDuration', [59n * 60n])
    await expectRevert(cons('patientA', 'grantTeam', [id, 366n * DAY, hash('envelopes')]), 'ConsentInvalidDuration', [366n * DAY])
    await expectRevert(cons('patientA', 'grantTeam', [id, DAY, zeroHash]), 'ConsentEmptyEnvelopes')
    const granted = await t.eventsOf(await cons('patientA', 'grantTeam', [id, DAY, hash('envelopes')]), consentAbi, consent)
    const expiresAt = (await t.now()) + DAY
    assert.deepEqual(granted.events, [{ eventName: 'TeamAccessGranted', args: { teamId: id, patient: addr('patientA'), expiresAt, envelopes: hash('envelopes') } }])
    assert.ok(granted.gasUsed <= 60_000n, `a team grant costs ${granted.gasUsed} gas, over the 60,000 target`)
    assert.deepEqual(await t.client.readContract({ address: consent, abi: consentAbi, functionName: 'teamGrantOf', args: [id, addr('patientA')] }), [expiresAt, false])

    assert.equal(await live(id, 'patientA', 'doctorA'), true)
    assert.equal(await live(id, 'patientA', 'doctorA3'), false, 'a doctor of the same hospital outside the team')
    assert.equal(await live(id, 'patientB', 'doctorA'), false, 'another patient never granted the team')
    const logged = await t.eventsOf(await cons('doctorA', 'logAccess', [hash('record'), addr('patientA'), purposes.team, id]), consentAbi, consent)
    assert.deepEqual(logged.events, [{ eventName: 'AccessLogged', args: { recordId: hash('record'), patient: addr('patientA'), actor: addr('doctorA'), purpose: purposes.team, ref: id } }])
    for (const [who, patient] of [['doctorA3', 'patientA'], ['doctorB', 'patientA'], ['doctorA', 'patientB']] as const) {
      await expectRevert(cons(who, 'logAccess', [hash('record'), addr(patient), purposes.team, id]), 'ConsentNoAccessPath', [addr(who), addr(patient), purposes.team, id])
    }

    // A batch carries a member's entry; an entry of a member signed before the removal and mined after it is refused.
    const before = await sign('doctorA2', { patient: addr('patientA'), purpose: purposes.team, ref: id })
    const entry = await sign('doctorA', { patient: addr('patientA'), purpose: purposes.team, ref: id })
    const batch = await t.eventsOf(await cons('hospitalA', 'logAccessBatch', [[entry]]), consentAbi, consent)
    assert.deepEqual(batch.events.map((e) => e.eventName), ['AccessLogged'])
    await t.eventsOf(await team('staffA', 'removeMember', [id, addr('doctorA2'), hash('key 2')]), careTeamsAbi, teams)
    assert.equal(await live(id, 'patientA', 'doctorA2'), false)
    await expectRevert(cons('hospitalA', 'logAccessBatch', [[before]]), 'ConsentNoAccessPath', [addr('doctorA2'), addr('patientA'), purposes.team, id])
    await expectRevert(cons('doctorA2', 'logAccess', [hash('record'), addr('patientA'), purposes.team, id]), 'ConsentNoAccessPath', [addr('doctorA2'), addr('patientA'), purposes.team, id])

    // Revocation: only a live grant, only by its patient; then nobody logs under it.
    await expectRevert(cons('patientB', 'revokeTeamGrant', [id]), 'ConsentTeamGrantNotLive', [id, addr('patientB')])
    const revoked = await t.eventsOf(await cons('patientA', 'revokeTeamGrant', [id]), consentAbi, consent)
    assert.deepEqual(revoked.events, [{ eventName: 'TeamAccessRevoked', args: { teamId: id, patient: addr('patientA') } }])
    assert.equal(await live(id, 'patientA', 'doctorA'), false)
    await expectRevert(cons('doctorA', 'logAccess', [hash('record'), addr('patientA'), purposes.team, id]), 'ConsentNoAccessPath', [addr('doctorA'), addr('patientA'), purposes.team, id])
    await expectRevert(cons('patientA', 'revokeTeamGrant', [id]), 'ConsentTeamGrantNotLive', [id, addr('patientA')])
  })

  test('a team grant ends by the chain\'s clock: after it, no member reads or logs; a new grant replaces it', async () => {
    const id = randomId()
    await team('staffA', 'createTeam', [id, addr('hospitalA'), hash('key 1')])
    await t.eventsOf(await team('staffA', 'addMember', [id, addr('doctorA')]), careTeamsAbi, teams)
    await t.eventsOf(await cons('patientA', 'grantTeam', [id, 3_600n, hash('envelopes')]), consentAbi, consent)
    assert.equal(await live(id, 'patientA', 'doctorA'), true)
    await t.advance(3_600)
    assert.equal(await live(id, 'patientA', 'doctorA'), false)
    await expectRevert(cons('doctorA', 'logAccess', [hash('record'), addr('patientA'), purposes.team, id]), 'ConsentNoAccessPath', [addr('doctorA'), addr('patientA'), purposes.team, id])
    await expectRevert(cons('patientA', 'revokeTeamGrant', [id]), 'ConsentTeamGrantNotLive', [id, addr('patientA')])
    await t.eventsOf(await cons('patientA', 'grantTeam', [id, DAY, hash('envelopes 2')]), consentAbi, consent)
    assert.equal(await live(id, 'patientA', 'doctorA'), true)
  })
})
