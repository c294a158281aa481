import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { getAddress, keccak256, zeroAddress, zeroHash, type Address, type Hash, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { openDatabase, type Db } from '../src/db/open-database.ts'
import { isAppError } from '../src/errors.ts'
import { registryAbi } from '../src/ledger/abis.ts'
import { addHospital } from '../src/ledger/add-hospital.ts'
import { connectLedger, type Ledger } from '../src/ledger/connect-ledger.ts'
import { readApplication } from '../src/ledger/registry/read-application.ts'
import { readLinkedContracts } from '../src/ledger/registry/read-linked-contracts.ts'
import { readMembers } from '../src/ledger/registry/read-members.ts'
import { sendLinkContracts } from '../src/ledger/registry/send-link-contracts.ts'
import { sendMembershipApplication } from '../src/ledger/registry/send-membership-application.ts'
import { sendNodeInfo } from '../src/ledger/registry/send-node-info.ts'
import { deployContracts } from '../src/ledger/deploy-contracts.ts'
import { expectRevert, noFees, startTestChain, type TestChain, type Wallet } from './helpers/test-chain.ts'

const Role = { None: 0, Staff: 1, Doctor: 2, Patient: 3 } as const
const Proposal = { None: 0, Admit: 1, Remove: 2 } as const
const X25519 = 1
const RSA = 2

const key = (label: string): Hex => keccak256(new TextEncoder().encode(`public key of ${label}`))
const multiaddr = (n: number) => `/dns4/node${n}.hospital.example/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo`

describe('Registry: a consortium of hospital nodes', () => {
  let t: TestChain
  let registry: Address
  let recordLedger: Address
  let consent: Address
  const w: Record<string, Wallet> = {}
  const addr = (name: string): Address => w[name]!.account.address
  const gasFigures: string[] = []

  const write = (by: string, functionName: string, args: readonly unknown[], address: Address = registry): Promise<Hash> =>
    w[by]!.writeContract({ address, abi: registryAbi, functionName, args, ...noFees } as never)
  const read = <T>(functionName: string, args: readonly unknown[] = [], address: Address = registry): Promise<T> =>
    t.client.readContract({ address, abi: registryAbi, functionName, args } as never) as Promise<T>
  const eventsOf = async (hash: Hash, address: Address = registry) => t.eventsOf(hash, registryAbi, address)

  const applied = (hospital: string, keyScheme: number, emergencyKey: Hex) =>
    ({ eventName: 'MembershipApplied', args: { hospital: addr(hospital), keyScheme, emergencyKey } })
  const added = (hospital: string, keyScheme: number, emergencyKey: Hex) =>
    ({ eventName: 'HospitalAdded', args: { hospital: addr(hospital), keyScheme, emergencyKey } })
  const voted = (hospital: string, proposalId: bigint, voter: string, approve: boolean, approvals: number, rejections: number) =>
    ({ eventName: 'HospitalVoted', args: { hospital: addr(hospital), proposalId, voter: addr(voter), approve, approvals, rejections } })
  const decided = (hospital: string, proposalId: bigint, kind: number, accepted: boolean, memberCount: bigint) =>
    ({ eventName: 'ProposalDecided', args: { hospital: addr(hospital), proposalId, kind, accepted, memberCount } })
  const members = () => read<readonly Address[]>('members')
  const sorted = (list: readonly Address[]) => [...list].sort()

  before(async () => {
    t = await startTestChain()
    for (const name of ['admin', 'hospitalA', 'hospitalB', 'hospitalC', 'hospitalD', 'applicant', 'staffA', 'staffA2', 'patientA', 'stranger']) {
      w[name] = t.newWallet()
    }
    registry = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
    recordLedger = (await t.deploy(w.admin!, 'RecordLedger', [registry])).address
    consent = (await t.deploy(w.admin!, 'Consent', [registry])).address
  })

  after(async () => {
    console.log(`gas used (receipt, including the 21000 base):\n  ${gasFigures.join('\n  ')}`)
    await t?.stop()
  })

  describe('linkContracts', () => {
    test('nothing is linked after deployment', async () => {
      assert.equal(await read('recordLedger'), zeroAddress)
      assert.equal(await read('consent'), zeroAddress)
    })

    test('only the admin links, with non-zero addresses of contracts of this registry', async () => {
      await expectRevert(write('stranger', 'linkContracts', [recordLedger, consent]), 'RegistryUnauthorized', [addr('stranger')])
      await expectRevert(write('hospitalA', 'linkContracts', [recordLedger, consent]), 'RegistryUnauthorized', [addr('hospitalA')])
      await expectRevert(write('admin', 'linkContracts', [zeroAddress, consent]), 'RegistryZeroAddress')
      await expectRevert(write('admin', 'linkContracts', [recordLedger, zeroAddress]), 'RegistryZeroAddress')
      // an address without code
      await expectRevert(write('admin', 'linkContracts', [addr('stranger'), consent]), 'RegistryForeignContract', [addr('stranger')])
      // a contract without registry(): another Registry
      const other = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
      await expectRevert(write('admin', 'linkContracts', [recordLedger, other]), 'RegistryForeignContract', [other])
      // contracts of another registry
      const foreignLedger = (await t.deploy(w.admin!, 'RecordLedger', [other])).address
      const foreignConsent = (await t.deploy(w.admin!, 'Consent', [other])).address
      await expectRevert(write('admin', 'linkContracts', [foreignLedger, consent]), 'RegistryForeignContract', [foreignLedger])
      await expectRevert(write('admin', 'linkContracts', [recordLedger, foreignConsent]), 'RegistryForeignContract', [foreignConsent])
      assert.equal(await read('recordLedger'), zeroAddress)
    })

    test('the admin links them once', async () => {
      const { gasUsed, events } = await eventsOf(await write('admin', 'linkContracts', [recordLedger, consent]))
      gasFigures.push(`linkContracts: ${gasUsed}`)
      assert.deepEqual(events, [{ eventName: 'ContractsLinked', args: { recordLedger, consent } }])
      assert.equal(await read('recordLedger'), recordLedger)
      assert.equal(await read('consent'), consent)
      await expectRevert(write('admin', 'linkContracts', [recordLedger, consent]), 'RegistryAlreadyLinked')
      const again = (await t.deploy(w.admin!, 'RecordLedger', [registry])).address
      await expectRevert(write('admin', 'linkContracts', [again, consent]), 'RegistryAlreadyLinked')
      assert.equal(await read('recordLedger'), recordLedger)
    })
  })

  describe('applyForMembership and admission', () => {
    test('a hospital applies from its own key; a new application replaces the old one', async () => {
      assert.deepEqual(await read('applicationOf', [addr('hospitalA')]), [0, zeroHash])
      await expectRevert(write('hospitalA', 'applyForMembership', [X25519, zeroHash]), 'RegistryInvalidKey')
      for (const scheme of [0, 3, 255]) {
        await expectRevert(write('hospitalA', 'applyForMembership', [scheme, key('A')]), 'RegistryInvalidKeyScheme', [scheme])
      }

      const { gasUsed, events } = await eventsOf(await write('hospitalA', 'applyForMembership', [RSA, key('old A')]))
      gasFigures.push(`applyForMembership: ${gasUsed}`)
      assert.deepEqual(events, [applied('hospitalA', RSA, key('old A'))])
      assert.deepEqual(await read('applicationOf', [addr('hospitalA')]), [RSA, key('old A')])

      const { gasUsed: replaceGas, events: replaced } = await eventsOf(await write('hospitalA', 'applyForMembership', [X25519, key('emergency A')]))
      gasFigures.push(`applyForMembership (replacing an application): ${replaceGas}`)
      assert.deepEqual(replaced, [applied('hospitalA', X25519, key('emergency A'))])
      assert.deepEqual(await read('applicationOf', [addr('hospitalA')]), [X25519, key('emergency A')])
      // an application admits nothing by itself
      assert.deepEqual(await read('hospitalOf', [addr('hospitalA')]), { member: false, keyScheme: 0 })
      assert.equal(await read('memberCount'), 0n)
    })

    test('the admin admits the first hospitals with their application; admission deletes it', async () => {
      const { events } = await eventsOf(await write('admin', 'addHospital', [addr('hospitalA'), X25519, key('emergency A')]))
      assert.deepEqual(events, [added('hospitalA', X25519, key('emergency A'))])
      assert.deepEqual(await read('applicationOf', [addr('hospitalA')]), [0, zeroHash])
      assert.deepEqual(await members(), [addr('hospitalA')])

      // no application: admission works as before
      const { events: eventsB } = await eventsOf(await write('admin', 'addHospital', [addr('hospitalB'), RSA, key('emergency B')]))
      assert.deepEqual(eventsB, [added('hospitalB', RSA, key('emergency B'))])
      assert.deepEqual(await members(), [addr('hospitalA'), addr('hospitalB')])
      assert.equal(await read('memberCount'), 2n)
    })

    test('a member, a registered account or a candidate under a vote cannot apply', async () => {
      await expectRevert(write('hospitalA', 'applyForMembership', [X25519, key('again')]), 'RegistryHospitalExists', [addr('hospitalA')])
      await eventsOf(await write('admin', 'registerAccount', [addr('patientA'), Role.Patient, addr('hospitalA'), X25519, key('patientA')]))
      await expectRevert(write('patientA', 'applyForMembership', [X25519, key('p')]), 'RegistryAlreadyRegistered', [addr('patientA')])

      await eventsOf(await write('hospitalC', 'applyForMembership', [RSA, key('emergency C')]))
      const { events } = await eventsOf(await write('hospitalA', 'proposeHospital', [addr('hospitalC'), RSA, key('emergency C')]))
      assert.equal(events[0]!.eventName, 'HospitalProposed')
      await expectRevert(write('hospitalC', 'applyForMembership', [X25519, key('changed C')]), 'RegistryProposalOpen', [addr('hospitalC')])
      assert.deepEqual(await read('applicationOf', [addr('hospitalC')]), [RSA, key('emergency C')])
    })

    test('admission by a vote deletes the application too', async () => {
      await eventsOf(await write('hospitalA', 'voteOnHospital', [addr('hospitalC'), true]))
      const { events } = await eventsOf(await write('hospitalB', 'voteOnHospital', [addr('hospitalC'), true]))
      assert.deepEqual(events, [
        voted('hospitalC', 1n, 'hospitalB', true, 2, 0),
        decided('hospitalC', 1n, Proposal.Admit, true, 2n),
        added('hospitalC', RSA, key('emergency C')),
      ])
      assert.deepEqual(await read('applicationOf', [addr('hospitalC')]), [0, zeroHash])
      assert.deepEqual(await members(), [addr('hospitalA'), addr('hospitalB'), addr('hospitalC')])
    })
  })

  describe('a member hospital registers its own staff', () => {
    test('from its own key, staff of itself only', async () => {
      const { gasUsed, events } = await eventsOf(await write('hospitalA', 'registerAccount', [addr('staffA'), Role.Staff, addr('hospitalA'), X25519, key('staffA')]))
      gasFigures.push(`registerAccount (a hospital registers its staff): ${gasUsed}`)
      assert.deepEqual(events, [{
        eventName: 'AccountRegistered',
        args: { account: addr('staffA'), hospital: addr('hospitalA'), role: Role.Staff, keyScheme: X25519, encryptionKey: key('staffA') },
      }])
      // the staff it registered act for it
      const doctor = privateKeyToAccount(generatePrivateKey()).address
      const { events: byStaff } = await eventsOf(await write('staffA', 'registerAccount', [doctor, Role.Doctor, addr('hospitalA'), X25519, key('doctor')]))
      assert.equal(byStaff[0]!.eventName, 'AccountRegistered')
    })

    test('not staff of another hospital, nor doctors or patients (staff enrol those)', async () => {
      const fresh = privateKeyToAccount(generatePrivateKey()).address
      await expectRevert(write('hospitalA', 'registerAccount', [fresh, Role.Staff, addr('hospitalB'), X25519, key('x')]), 'RegistryUnauthorized', [addr('hospitalA')])
      await expectRevert(write('hospitalA', 'registerAccount', [fresh, Role.Doctor, addr('hospitalA'), X25519, key('x')]), 'RegistryUnauthorized', [addr('hospitalA')])
      await expectRevert(write('hospitalA', 'registerAccount', [fresh, Role.Patient, addr('hospitalA'), X25519, key('x')]), 'RegistryUnauthorized', [addr('hospitalA')])
    })

    test('a hospital that is not a member (an applicant) cannot register its staff', async () => {
      await eventsOf(await write('applicant', 'applyForMembership', [X25519, key('emergency applicant')]))
      const fresh = privateKeyToAccount(generatePrivateKey()).address
      await expectRevert(
        write('applicant', 'registerAccount', [fresh, Role.Staff, addr('applicant'), X25519, key('x')]),
        'RegistryUnauthorized', [addr('applicant')],
      )
      assert.deepEqual(await read('accountOf', [fresh]), { role: Role.None, status: 0, keyScheme: 0, hospital: zeroAddress })
    })
  })

  describe('setNodeInfo', () => {
    test('only a member hospital, from its own key, publishes its node', async () => {
      for (const by of ['stranger', 'applicant', 'staffA', 'admin']) {
        await expectRevert(write(by, 'setNodeInfo', ['Name', [multiaddr(1)]]), 'RegistryUnauthorized', [addr(by)])
      }
      assert.deepEqual(await read('nodeInfoOf', [addr('hospitalA')]), ['', []])
    })

    test('a member publishes its name and multiaddrs, and replaces them', async () => {
      const addrs = [multiaddr(1), '/ip4/203.0.113.7/udp/4001/quic-v1']
      const { gasUsed, events } = await eventsOf(await write('hospitalA', 'setNodeInfo', ['Hôpital Saint-Louis', addrs]))
      gasFigures.push(`setNodeInfo (first, name + 2 multiaddrs): ${gasUsed}`)
      assert.deepEqual(events, [{ eventName: 'NodeInfoSet', args: { hospital: addr('hospitalA'), name: 'Hôpital Saint-Louis', addrs } }])
      assert.deepEqual(await read('nodeInfoOf', [addr('hospitalA')]), ['Hôpital Saint-Louis', addrs])

      const { gasUsed: updateGas, events: replaced } = await eventsOf(await write('hospitalA', 'setNodeInfo', ['Hôpital Saint-Louis', [multiaddr(2)]]))
      gasFigures.push(`setNodeInfo (update, 1 multiaddr): ${updateGas}`)
      assert.deepEqual(replaced, [{ eventName: 'NodeInfoSet', args: { hospital: addr('hospitalA'), name: 'Hôpital Saint-Louis', addrs: [multiaddr(2)] } }])
      assert.deepEqual(await read('nodeInfoOf', [addr('hospitalA')]), ['Hôpital Saint-Louis', [multiaddr(2)]])

      await eventsOf(await write('hospitalB', 'setNodeInfo', ['Clinic B', []]))
      assert.deepEqual(await read('nodeInfoOf', [addr('hospitalB')]), ['Clinic B', []])
    })

    test('limits: a name of at most 100 bytes, at most 8 addresses of at most 256 bytes each', async () => {
      const long = 'x'.repeat(101)
      await expectRevert(write('hospitalC', 'setNodeInfo', [long, []]), 'RegistryNameTooLong', [101n, 100n])
      // bytes, not characters: 51 × 'é' is 102 bytes
      await expectRevert(write('hospitalC', 'setNodeInfo', ['é'.repeat(51), []]), 'RegistryNameTooLong', [102n, 100n])
      const nine = Array.from({ length: 9 }, (_, i) => multiaddr(i))
      await expectRevert(write('hospitalC', 'setNodeInfo', ['C', nine]), 'RegistryTooManyAddrs', [9n, 8n])
      const tooLong = [multiaddr(0), multiaddr(1), `/dns4/${'a'.repeat(251)}`]
      assert.equal(tooLong[2]!.length, 257)
      await expectRevert(write('hospitalC', 'setNodeInfo', ['C', tooLong]), 'RegistryAddrTooLong', [2n, 257n, 256n])
      assert.deepEqual(await read('nodeInfoOf', [addr('hospitalC')]), ['', []])

      // the limits themselves are allowed
      const name = 'n'.repeat(100)
      const full = Array.from({ length: 8 }, (_, i) => `/dns4/${String(i).repeat(250)}`)
      assert.ok(full.every((a) => a.length === 256))
      const { gasUsed, events } = await eventsOf(await write('hospitalC', 'setNodeInfo', [name, full]))
      gasFigures.push(`setNodeInfo (largest: 100-byte name, 8 × 256-byte addrs): ${gasUsed}`)
      assert.deepEqual(events, [{ eventName: 'NodeInfoSet', args: { hospital: addr('hospitalC'), name, addrs: full } }])
      assert.deepEqual(await read('nodeInfoOf', [addr('hospitalC')]), [name, full])
    })
  })

  describe('members()', () => {
    test('follows admissions and removals by vote, swapping the last member into the freed place', async () => {
      // admit D: A, B, C vote (2 of 3 decide)
      await eventsOf(await write('hospitalD', 'applyForMembership', [X25519, key('emergency D')]))
      await eventsOf(await write('admin', 'proposeHospital', [addr('hospitalD'), X25519, key('emergency D')]))
      await eventsOf(await write('hospitalA', 'voteOnHospital', [addr('hospitalD'), true]))
      const { gasUsed: admitGas } = await eventsOf(await write('hospitalB', 'voteOnHospital', [addr('hospitalD'), true]))
      gasFigures.push(`voteOnHospital (deciding vote, admission): ${admitGas}`)
      assert.deepEqual(await members(), [addr('hospitalA'), addr('hospitalB'), addr('hospitalC'), addr('hospitalD')])
      assert.equal(await read('memberCount'), 4n)

      // remove A, the first: 3 of 4 decide; D takes its place
      await eventsOf(await write('hospitalB', 'proposeRemoval', [addr('hospitalA')]))
      await eventsOf(await write('hospitalB', 'voteOnHospital', [addr('hospitalA'), true]))
      await eventsOf(await write('hospitalC', 'voteOnHospital', [addr('hospitalA'), true]))
      const { gasUsed: removeGas, events } = await eventsOf(await write('hospitalD', 'voteOnHospital', [addr('hospitalA'), true]))
      gasFigures.push(`voteOnHospital (deciding vote, removal with node info): ${removeGas}`)
      assert.deepEqual(events, [
        voted('hospitalA', 3n, 'hospitalD', true, 3, 0),
        decided('hospitalA', 3n, Proposal.Remove, true, 4n),
        { eventName: 'HospitalRemoved', args: { hospital: addr('hospitalA') } },
      ])
      assert.deepEqual(await members(), [addr('hospitalD'), addr('hospitalB'), addr('hospitalC')])
      assert.equal(await read('memberCount'), 3n)
      // its node info is gone; it can neither publish nor register staff any more
      assert.deepEqual(await read('nodeInfoOf', [addr('hospitalA')]), ['', []])
      await expectRevert(write('hospitalA', 'setNodeInfo', ['A', []]), 'RegistryUnauthorized', [addr('hospitalA')])
      const fresh = privateKeyToAccount(generatePrivateKey()).address
      await expectRevert(write('hospitalA', 'registerAccount', [fresh, Role.Staff, addr('hospitalA'), X25519, key('x')]), 'RegistryUnauthorized', [addr('hospitalA')])
      // a removed hospital may apply again
      const { events: reapplied } = await eventsOf(await write('hospitalA', 'applyForMembership', [X25519, key('emergency A2')]))
      assert.deepEqual(reapplied, [applied('hospitalA', X25519, key('emergency A2'))])

      // remove D, which was moved: its new place is known (2 of 3 decide)
      await eventsOf(await write('hospitalB', 'proposeRemoval', [addr('hospitalD')]))
      await eventsOf(await write('hospitalB', 'voteOnHospital', [addr('hospitalD'), true]))
      await eventsOf(await write('hospitalC', 'voteOnHospital', [addr('hospitalD'), true]))
      assert.deepEqual(await members(), [addr('hospitalC'), addr('hospitalB')])

      // remove the last one in the list: nothing moves (2 of 2 decide)
      await eventsOf(await write('hospitalC', 'proposeRemoval', [addr('hospitalB')]))
      await eventsOf(await write('hospitalC', 'voteOnHospital', [addr('hospitalB'), true]))
      await eventsOf(await write('hospitalB', 'voteOnHospital', [addr('hospitalB'), true]))
      assert.deepEqual(await members(), [addr('hospitalC')])
      assert.equal(await read('memberCount'), 1n)
      // C kept its node info through the moves
      assert.equal((await read<readonly [string, readonly string[]]>('nodeInfoOf', [addr('hospitalC')]))[0], 'n'.repeat(100))

      // and the list grows again from there
      await eventsOf(await write('admin', 'addHospital', [addr('hospitalA'), X25519, key('emergency A2')]))
      assert.deepEqual(sorted(await members()), sorted([addr('hospitalC'), addr('hospitalA')]))
      assert.deepEqual(await read('applicationOf', [addr('hospitalA')]), [0, zeroHash])
    })
  })
})

describe('consortium wrappers (src/ledger/registry/)', () => {
  let t: TestChain
  let home: string
  let db: Db
  let ledger: Ledger
  const admin = privateKeyToAccount(generatePrivateKey())
  const hospital = privateKeyToAccount(generatePrivateKey())
  const joining = privateKeyToAccount(generatePrivateKey())

  before(async () => {
    t = await startTestChain()
    home = await mkdtemp(join(tmpdir(), 'medledger-consortium-'))
    db = await openDatabase({ url: `sqlite:${join(home, 'node.db')}` })
    ledger = await connectLedger({ rpcUrl: t.anvil.rpcUrl, db })
  })

  after(async () => {
    await db?.close()
    await t?.stop()
    await rm(home, { recursive: true, force: true })
  })

  test('a fresh deployment is linked: the registry address leads to the other contracts', async () => {
    ledger.contracts = await deployContracts(ledger, { admin })
    const { registry, recordLedger, consent, research } = ledger.contracts
    assert.deepEqual(await readLinkedContracts(ledger, { registry }), { recordLedger: getAddress(recordLedger), consent: getAddress(consent), research: getAddress(research!) })
    await assert.rejects(sendLinkContracts(ledger, { admin, recordLedger, consent }), (err: unknown) => {
      assert.ok(isAppError(err, 'LEDGER_REVERTED'), String(err))
      assert.equal(err.details, 'RegistryAlreadyLinked()')
      return true
    })
  })

  test('readLinkedContracts tells a wrong address from an unlinked registry', async () => {
    const notFound = (err: unknown) => { assert.ok(isAppError(err, 'REGISTRY_NOT_FOUND'), String(err)); return true }
    await assert.rejects(readLinkedContracts(ledger, { registry: joining.address }), notFound) // no code
    await assert.rejects(readLinkedContracts(ledger, { registry: ledger.contracts.recordLedger }), notFound) // another contract
    const unlinked = (await t.deploy(t.newWallet(), 'Registry', [admin.address])).address
    await assert.rejects(readLinkedContracts(ledger, { registry: unlinked }), (err: unknown) => {
      assert.ok(isAppError(err, 'REGISTRY_NOT_LINKED'), String(err))
      return true
    })
  })

  test('a hospital applies, is admitted with its application, publishes its node and is listed', async () => {
    assert.equal(await readApplication(ledger, { hospital: hospital.address }), null)
    await sendMembershipApplication(ledger, { hospital, keyScheme: X25519, emergencyKey: key('emergency') })
    const application = await readApplication(ledger, { hospital: hospital.address })
    assert.deepEqual(application, { keyScheme: X25519, emergencyKey: key('emergency') })

    await sendNodeInfo(ledger, { hospital, name: 'Too early', addrs: [] }).then(
      () => assert.fail('a non-member published node info'),
      (err: unknown) => assert.ok(isAppError(err, 'LEDGER_REVERTED') && err.details === `RegistryUnauthorized(${hospital.address})`, String(err)),
    )

    // the admitting side fills in the admission from the application
    await addHospital(ledger, { admin, hospital: hospital.address, ...application! })
    assert.equal(await readApplication(ledger, { hospital: hospital.address }), null)

    await sendNodeInfo(ledger, { hospital, name: 'General Hospital', addrs: [multiaddr(1)] })
    assert.deepEqual(await readMembers(ledger), [{ address: hospital.address, name: 'General Hospital', addrs: [multiaddr(1)] }])

    await sendMembershipApplication(ledger, { hospital, keyScheme: X25519, emergencyKey: key('again') }).then(
      () => assert.fail('a member applied'),
      (err: unknown) => assert.ok(isAppError(err, 'LEDGER_REVERTED') && err.details === `RegistryHospitalExists(${hospital.address})`, String(err)),
    )
  })
})
