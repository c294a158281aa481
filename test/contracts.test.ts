import assert from 'node:assert/strict'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  decodeErrorResult,
  defineChain,
  encodeDeployData,
  getAddress,
  encodeAbiParameters,
  http,
  keccak256,
  parseEventLogs,
  zeroAddress,
  zeroHash,
  type Abi,
  type Address,
  type Hash,
  type Hex,
  type PublicClient,
  type WalletClient,
  type Account,
  type Chain,
  type Transport,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { isAppError } from '../src/errors.ts'
import { expectRevert, noFees } from './helpers/test-chain.ts'
import { recordLedgerAbi, registryAbi } from '../src/ledger/abis.ts'
import { startAnvil, type StartAnvilResult } from '../src/ledger/anvil.ts'
import { loadArtifacts } from '../src/ledger/artifacts.ts'
import { abiModulePath, buildContracts, compileContracts, renderAbiModule } from '../src/ledger/compile-contracts.ts'

const Role = { None: 0, Staff: 1, Doctor: 2, Patient: 3, Researcher: 4 } as const
const Status = { None: 0, Pending: 1, Active: 2, Suspended: 3, Rejected: 4 } as const
const Proposal = { None: 0, Admit: 1, Remove: 2 } as const
const X25519 = 1
const RSA = 2

type Wallet = WalletClient<Transport, Chain, Account>

const key = (label: string): Hex => keccak256(new TextEncoder().encode(`public key of ${label}`))
const randomId = (): Hex => generatePrivateKey() // 32 random bytes

describe('contracts', () => {
  let home: string
  let anvil: StartAnvilResult
  let chain: Chain
  let client: PublicClient<Transport, Chain>
  let registry: Address
  let ledger: Address
  const wallets: Record<string, Wallet> = {}
  const addr = (name: string): Address => wallets[name]!.account.address
  const gasFigures: string[] = []

  /** Waits for `hash` and returns its decoded events (name and args), asserting success. */
  async function eventsOf(hash: Hash, abi: Abi, emitter: Address) {
    const receipt = await client.waitForTransactionReceipt({ hash })
    assert.equal(receipt.status, 'success')
    for (const log of receipt.logs) assert.equal(log.address.toLowerCase(), emitter.toLowerCase())
    return { receipt, events: parseEventLogs({ abi, logs: receipt.logs }).map(({ eventName, args }) => ({ eventName, args })) }
  }

  const addHospital = (by: string, hospital: Address, keyScheme: number, emergencyKey: Hex) =>
    wallets[by]!.writeContract({ address: registry, abi: registryAbi, functionName: 'addHospital', args: [hospital, keyScheme, emergencyKey], ...noFees })

  const register = (by: string, account: Address, role: number, hospital: Address, keyScheme: number, encryptionKey: Hex) =>
    wallets[by]!.writeContract({
      address: registry, abi: registryAbi, functionName: 'registerAccount',
      args: [account, role, hospital, keyScheme, encryptionKey], ...noFees,
    })

  const anchor = (by: string, recordId: Hex, patient: Address, hospital: Address, digest: Hex, envelopes: Hex) =>
    wallets[by]!.writeContract({
      address: ledger, abi: recordLedgerAbi, functionName: 'anchor',
      args: [recordId, patient, hospital, digest, envelopes], ...noFees,
    })

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'medledger-contracts-'))
    anvil = await startAnvil({ home })
    chain = defineChain({
      id: anvil.chainId, name: 'medledger-test', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [anvil.rpcUrl] } },
    })
    client = createPublicClient({ chain, transport: http() })
    // Every actor has a fresh key and no balance: the chain charges no gas.
    for (const name of [
      'admin', 'hospitalA', 'hospitalB', 'hospitalC', 'hospitalD', 'hospitalE', 'staffA', 'staffB',
      'doctorA', 'doctorA2', 'doctorB', 'patientA', 'patientB', 'stranger',
      'selfDoctor', 'selfDoctor2', 'selfDoctor3', 'selfPatient', 'selfResearcher',
    ]) {
      wallets[name] = createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http() })
    }
    const { contracts } = loadArtifacts()
    const deploy = async (name: 'Registry' | 'RecordLedger', args: readonly unknown[]) => {
      const hash = await wallets.admin!.deployContract({
        abi: contracts[name]!.abi, bytecode: contracts[name]!.bytecode, args, ...noFees,
      })
      const receipt = await client.waitForTransactionReceipt({ hash })
      assert.equal(receipt.status, 'success')
      gasFigures.push(`deploy ${name}: ${receipt.gasUsed}`)
      return getAddress(receipt.contractAddress!)
    }
    registry = await deploy('Registry', [addr('admin')])
    ledger = await deploy('RecordLedger', [registry])
  })

  after(async () => {
    console.log(`gas used (receipt, including the 21000 base):\n  ${gasFigures.join('\n  ')}`)
    await anvil?.stop()
    await rm(home, { recursive: true, force: true })
  })

  describe('Registry', () => {
    test('the constructor makes the given address the admin', async () => {
      const adminRole = await client.readContract({ address: registry, abi: registryAbi, functionName: 'DEFAULT_ADMIN_ROLE' })
      assert.equal(adminRole, zeroHash)
      assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'hasRole', args: [zeroHash, addr('admin')] }), true)
      assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'hasRole', args: [zeroHash, addr('stranger')] }), false)
    })

    test('the constructor refuses a zero admin', async () => {
      const { contracts } = loadArtifacts()
      const data = encodeDeployData({ abi: registryAbi, bytecode: contracts.Registry!.bytecode, args: [zeroAddress] })
      await assert.rejects(client.call({ account: addr('admin'), data }), (err: unknown) => {
        assert.ok(err instanceof BaseError, String(err))
        const withData = err.walk((e) => typeof (e as { data?: unknown }).data === 'string') as { data: Hex } | null
        assert.ok(withData, `no revert data: ${err.shortMessage}`)
        assert.deepEqual(decodeErrorResult({ abi: registryAbi, data: withData.data }), {
          abiItem: registryAbi.find((i) => i.type === 'error' && i.name === 'RegistryZeroAddress'),
          errorName: 'RegistryZeroAddress',
          args: undefined,
        })
        return true
      })
    })

    test('only the admin adds hospitals, with a non-zero address and emergency key', async () => {
      await expectRevert(addHospital('stranger', addr('hospitalA'), X25519, key('hospitalA')), 'RegistryUnauthorized', [addr('stranger')])
      await expectRevert(addHospital('admin', zeroAddress, X25519, key('hospitalA')), 'RegistryZeroAddress')
      await expectRevert(addHospital('admin', addr('hospitalA'), X25519, zeroHash), 'RegistryInvalidKey')
      for (const scheme of [0, 3, 255]) {
        await expectRevert(addHospital('admin', addr('hospitalA'), scheme, key('hospitalA')), 'RegistryInvalidKeyScheme', [scheme])
      }

      const { events } = await eventsOf(await addHospital('admin', addr('hospitalA'), X25519, key('emergency A')), registryAbi, registry)
      assert.deepEqual(events, [
        { eventName: 'HospitalAdded', args: { hospital: addr('hospitalA'), keyScheme: X25519, emergencyKey: key('emergency A') } },
      ])
      const { events: eventsB } = await eventsOf(await addHospital('admin', addr('hospitalB'), RSA, key('emergency B')), registryAbi, registry)
      assert.deepEqual(eventsB, [
        { eventName: 'HospitalAdded', args: { hospital: addr('hospitalB'), keyScheme: RSA, emergencyKey: key('emergency B') } },
      ])

      assert.deepEqual(
        await client.readContract({ address: registry, abi: registryAbi, functionName: 'hospitalOf', args: [addr('hospitalA')] }),
        { member: true, keyScheme: X25519 },
      )
      assert.deepEqual(
        await client.readContract({ address: registry, abi: registryAbi, functionName: 'hospitalOf', args: [addr('stranger')] }),
        { member: false, keyScheme: 0 },
      )
      assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'emergencyKeyOf', args: [addr('hospitalB')] }), key('emergency B'))
      assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'emergencyKeyOf', args: [addr('stranger')] }), zeroHash)

      await expectRevert(addHospital('admin', addr('hospitalA'), X25519, key('again')), 'RegistryHospitalExists', [addr('hospitalA')])
    })

    test('the admin registers staff; staff register doctors and patients of their own hospital', async () => {
      const { receipt, events } = await eventsOf(await register('admin', addr('staffA'), Role.Staff, addr('hospitalA'), X25519, key('staffA')), registryAbi, registry)
      gasFigures.push(`registerAccount (admin registers staff): ${receipt.gasUsed}`)
      assert.deepEqual(events, [{
        eventName: 'AccountRegistered',
        args: { account: addr('staffA'), hospital: addr('hospitalA'), role: Role.Staff, keyScheme: X25519, encryptionKey: key('staffA') },
      }])
      await register('admin', addr('staffB'), Role.Staff, addr('hospitalB'), RSA, key('staffB')).then((h) => eventsOf(h, registryAbi, registry))

      const cases: Array<[string, string, number, string, number]> = [
        ['staffA', 'doctorA', Role.Doctor, 'hospitalA', X25519],
        ['staffA', 'doctorA2', Role.Doctor, 'hospitalA', RSA],
        ['staffA', 'patientA', Role.Patient, 'hospitalA', X25519],
        ['staffB', 'doctorB', Role.Doctor, 'hospitalB', X25519],
        ['staffB', 'patientB', Role.Patient, 'hospitalB', RSA],
      ]
      for (const [by, who, role, hospital, scheme] of cases) {
        const { receipt: r, events: ev } = await eventsOf(await register(by, addr(who), role, addr(hospital), scheme, key(who)), registryAbi, registry)
        if (who === 'doctorA') gasFigures.push(`registerAccount (staff registers a doctor): ${r.gasUsed}`)
        assert.deepEqual(ev, [{
          eventName: 'AccountRegistered',
          args: { account: addr(who), hospital: addr(hospital), role, keyScheme: scheme, encryptionKey: key(who) },
        }])
        assert.deepEqual(
          await client.readContract({ address: registry, abi: registryAbi, functionName: 'accountOf', args: [addr(who)] }),
          { role, status: Status.Active, keyScheme: scheme, hospital: addr(hospital) },
        )
        assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'encryptionKeyOf', args: [addr(who)] }), key(who))
      }
      assert.deepEqual(
        await client.readContract({ address: registry, abi: registryAbi, functionName: 'accountsOf', args: [addr('doctorA'), addr('stranger')] }),
        [
          { role: Role.Doctor, status: Status.Active, keyScheme: X25519, hospital: addr('hospitalA') },
          { role: Role.None, status: Status.None, keyScheme: 0, hospital: zeroAddress },
        ],
      )
      assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'encryptionKeyOf', args: [addr('stranger')] }), zeroHash)
    })

    test('registerAccount refuses unauthorized callers', async () => {
      const fresh = privateKeyToAccount(generatePrivateKey()).address
      // staff may not register staff, nor anyone at another hospital
      await expectRevert(register('staffA', fresh, Role.Staff, addr('hospitalA'), X25519, key('x')), 'RegistryUnauthorized', [addr('staffA')])
      await expectRevert(register('staffA', fresh, Role.Patient, addr('hospitalB'), X25519, key('x')), 'RegistryUnauthorized', [addr('staffA')])
      // doctors, patients, hospitals and strangers register nobody
      for (const by of ['doctorA', 'patientA', 'hospitalA', 'stranger']) {
        await expectRevert(register(by, fresh, Role.Patient, addr('hospitalA'), X25519, key('x')), 'RegistryUnauthorized', [addr(by)])
      }
    })

    test('registerAccount refuses invalid arguments', async () => {
      const fresh = privateKeyToAccount(generatePrivateKey()).address
      await expectRevert(register('admin', zeroAddress, Role.Patient, addr('hospitalA'), X25519, key('x')), 'RegistryZeroAddress')
      await expectRevert(register('staffA', fresh, Role.Patient, zeroAddress, X25519, key('x')), 'RegistryZeroAddress')
      await expectRevert(register('staffA', fresh, Role.None, addr('hospitalA'), X25519, key('x')), 'RegistryInvalidRole', [Role.None])
      await expectRevert(register('staffA', fresh, Role.Patient, addr('hospitalA'), X25519, zeroHash), 'RegistryInvalidKey')
      for (const scheme of [0, 3, 255]) {
        await expectRevert(register('staffA', fresh, Role.Patient, addr('hospitalA'), scheme, key('x')), 'RegistryInvalidKeyScheme', [scheme])
      }
      await expectRevert(register('admin', fresh, Role.Patient, addr('stranger'), X25519, key('x')), 'RegistryUnknownHospital', [addr('stranger')])
      // out of the enum's range: the ABI decoder itself reverts, without error data
      await assert.rejects(register('admin', fresh, 5, addr('hospitalA'), X25519, key('x')), (err: unknown) => {
        const revert = (err as BaseError).walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null
        assert.ok(revert, String(err))
        assert.equal(revert.data, undefined)
        return true
      })
    })

    test('an address is registered once, and is either a hospital or an account', async () => {
      await expectRevert(register('staffA', addr('patientA'), Role.Patient, addr('hospitalA'), X25519, key('again')), 'RegistryAlreadyRegistered', [addr('patientA')])
      await expectRevert(register('admin', addr('doctorB'), Role.Doctor, addr('hospitalA'), X25519, key('again')), 'RegistryAlreadyRegistered', [addr('doctorB')])
      await expectRevert(register('staffA', addr('hospitalB'), Role.Patient, addr('hospitalA'), X25519, key('h')), 'RegistryAlreadyRegistered', [addr('hospitalB')])
      await expectRevert(addHospital('admin', addr('doctorA'), X25519, key('d')), 'RegistryAlreadyRegistered', [addr('doctorA')])
      // nothing changed
      assert.deepEqual(
        await client.readContract({ address: registry, abi: registryAbi, functionName: 'accountOf', args: [addr('patientA')] }),
        { role: Role.Patient, status: Status.Active, keyScheme: X25519, hospital: addr('hospitalA') },
      )
    })
  })

  describe('Registry: self sign-up and confirmation', () => {
    const requestRegistration = (by: string, role: number, hospital: Address, keyScheme: number, encryptionKey: Hex) =>
      wallets[by]!.writeContract({
        address: registry, abi: registryAbi, functionName: 'requestRegistration',
        args: [role, hospital, keyScheme, encryptionKey], ...noFees,
      })
    const confirm = (by: string, account: Address) =>
      wallets[by]!.writeContract({ address: registry, abi: registryAbi, functionName: 'confirmAccount', args: [account], ...noFees })
    const reject = (by: string, account: Address, reasonHash: Hex) =>
      wallets[by]!.writeContract({ address: registry, abi: registryAbi, functionName: 'rejectAccount', args: [account, reasonHash], ...noFees })
    const accountOf = (who: string) =>
      client.readContract({ address: registry, abi: registryAbi, functionName: 'accountOf', args: [addr(who)] })

    test('a doctor signs up as pending, and can anchor nothing', async () => {
      const { receipt, events } = await eventsOf(
        await requestRegistration('selfDoctor', Role.Doctor, addr('hospitalA'), X25519, key('selfDoctor')), registryAbi, registry,
      )
      gasFigures.push(`requestRegistration (doctor): ${receipt.gasUsed}`)
      assert.deepEqual(events, [{
        eventName: 'RegistrationRequested',
        args: { account: addr('selfDoctor'), hospital: addr('hospitalA'), role: Role.Doctor, keyScheme: X25519, encryptionKey: key('selfDoctor') },
      }])
      assert.deepEqual(await accountOf('selfDoctor'), { role: Role.Doctor, status: Status.Pending, keyScheme: X25519, hospital: addr('hospitalA') })
      assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'encryptionKeyOf', args: [addr('selfDoctor')] }), key('selfDoctor'))
      await expectRevert(
        wallets.selfDoctor!.writeContract({
          address: ledger, abi: recordLedgerAbi, functionName: 'anchor',
          args: [randomId(), addr('patientA'), addr('hospitalA'), key('c'), key('e')], ...noFees,
        }),
        'RecordLedgerUnauthorized', [addr('selfDoctor')],
      )
      for (const who of ['selfDoctor2', 'selfDoctor3']) {
        await eventsOf(await requestRegistration(who, Role.Doctor, addr('hospitalA'), RSA, key(who)), registryAbi, registry)
      }
    })

    test('a patient signs up active at once', async () => {
      const { events } = await eventsOf(
        await requestRegistration('selfPatient', Role.Patient, addr('hospitalB'), RSA, key('selfPatient')), registryAbi, registry,
      )
      const args = { account: addr('selfPatient'), hospital: addr('hospitalB'), role: Role.Patient, keyScheme: RSA, encryptionKey: key('selfPatient') }
      assert.deepEqual(events, [{ eventName: 'RegistrationRequested', args }, { eventName: 'AccountRegistered', args }])
      assert.deepEqual(await accountOf('selfPatient'), { role: Role.Patient, status: Status.Active, keyScheme: RSA, hospital: addr('hospitalB') })
    })

    test('sign-up refuses staff, unknown hospitals, empty keys and registered addresses', async () => {
      await expectRevert(requestRegistration('stranger', Role.Staff, addr('hospitalA'), X25519, key('x')), 'RegistryInvalidRole', [Role.Staff])
      await expectRevert(requestRegistration('stranger', Role.None, addr('hospitalA'), X25519, key('x')), 'RegistryInvalidRole', [Role.None])
      await expectRevert(requestRegistration('stranger', Role.Patient, zeroAddress, X25519, key('x')), 'RegistryZeroAddress')
      await expectRevert(requestRegistration('stranger', Role.Patient, addr('hospitalA'), X25519, zeroHash), 'RegistryInvalidKey')
      // a key scheme no node can wrap for would make every node's follower trip over the account
      for (const scheme of [0, 3, 255]) {
        await expectRevert(requestRegistration('stranger', Role.Patient, addr('hospitalA'), scheme, key('x')), 'RegistryInvalidKeyScheme', [scheme])
        await expectRevert(requestRegistration('stranger', Role.Doctor, addr('hospitalA'), scheme, key('x')), 'RegistryInvalidKeyScheme', [scheme])
      }
      await expectRevert(requestRegistration('stranger', Role.Doctor, addr('staffA'), X25519, key('x')), 'RegistryUnknownHospital', [addr('staffA')])
      await expectRevert(requestRegistration('patientA', Role.Patient, addr('hospitalA'), X25519, key('x')), 'RegistryAlreadyRegistered', [addr('patientA')])
      await expectRevert(requestRegistration('selfDoctor', Role.Doctor, addr('hospitalB'), X25519, key('x')), 'RegistryAlreadyRegistered', [addr('selfDoctor')])
      await expectRevert(requestRegistration('hospitalA', Role.Patient, addr('hospitalB'), X25519, key('x')), 'RegistryAlreadyRegistered', [addr('hospitalA')])
      assert.deepEqual(await accountOf('stranger'), { role: Role.None, status: Status.None, keyScheme: 0, hospital: zeroAddress })
    })

    test('only the admin or active staff of the doctor\'s hospital confirm or reject', async () => {
      for (const by of ['staffB', 'doctorA', 'patientA', 'hospitalA', 'stranger', 'selfDoctor2']) {
        await expectRevert(confirm(by, addr('selfDoctor')), 'RegistryUnauthorized', [addr(by)])
        await expectRevert(reject(by, addr('selfDoctor'), key('reason')), 'RegistryUnauthorized', [addr(by)])
      }
      // staff of no hospital's account: the unknown account has no hospital
      await expectRevert(confirm('staffA', addr('stranger')), 'RegistryUnauthorized', [addr('staffA')])
      assert.equal((await accountOf('selfDoctor')).status, Status.Pending)
    })

    test('staff confirm a pending doctor, who can then anchor', async () => {
      const { receipt, events } = await eventsOf(await confirm('staffA', addr('selfDoctor')), registryAbi, registry)
      gasFigures.push(`confirmAccount: ${receipt.gasUsed}`)
      assert.deepEqual(events, [{ eventName: 'AccountConfirmed', args: { account: addr('selfDoctor'), hospital: addr('hospitalA'), by: addr('staffA') } }])
      assert.deepEqual(await accountOf('selfDoctor'), { role: Role.Doctor, status: Status.Active, keyScheme: X25519, hospital: addr('hospitalA') })
      const recordId = randomId()
      const { events: anchored } = await eventsOf(
        await wallets.selfDoctor!.writeContract({
          address: ledger, abi: recordLedgerAbi, functionName: 'anchor',
          args: [recordId, addr('patientA'), addr('hospitalA'), key('c'), key('e')], ...noFees,
        }),
        recordLedgerAbi, ledger,
      )
      assert.equal(anchored[0]!.eventName, 'RecordAnchored')
      // the admin confirms too
      const { events: byAdmin } = await eventsOf(await confirm('admin', addr('selfDoctor3')), registryAbi, registry)
      assert.deepEqual(byAdmin, [{ eventName: 'AccountConfirmed', args: { account: addr('selfDoctor3'), hospital: addr('hospitalA'), by: addr('admin') } }])
    })

    test('a researcher signs up pending, is confirmed by staff, and still anchors nothing', async () => {
      const { events } = await eventsOf(
        await requestRegistration('selfResearcher', Role.Researcher, addr('hospitalA'), X25519, key('selfResearcher')), registryAbi, registry,
      )
      assert.deepEqual(events, [{
        eventName: 'RegistrationRequested',
        args: { account: addr('selfResearcher'), hospital: addr('hospitalA'), role: Role.Researcher, keyScheme: X25519, encryptionKey: key('selfResearcher') },
      }])
      assert.deepEqual(await accountOf('selfResearcher'), { role: Role.Researcher, status: Status.Pending, keyScheme: X25519, hospital: addr('hospitalA') })
      await expectRevert(confirm('staffB', addr('selfResearcher')), 'RegistryUnauthorized', [addr('staffB')])
      const { events: confirmed } = await eventsOf(await confirm('staffA', addr('selfResearcher')), registryAbi, registry)
      assert.deepEqual(confirmed, [{ eventName: 'AccountConfirmed', args: { account: addr('selfResearcher'), hospital: addr('hospitalA'), by: addr('staffA') } }])
      assert.equal((await accountOf('selfResearcher')).status, Status.Active)
      await expectRevert(
        wallets.selfResearcher!.writeContract({
          address: ledger, abi: recordLedgerAbi, functionName: 'anchor',
          args: [randomId(), addr('patientA'), addr('hospitalA'), key('c'), key('e')], ...noFees,
        }),
        'RecordLedgerUnauthorized', [addr('selfResearcher')],
      )
    })

    test('a rejection needs a reason and is final', async () => {
      await expectRevert(reject('admin', addr('selfDoctor2'), zeroHash), 'RegistryEmptyReason')
      const { receipt, events } = await eventsOf(await reject('admin', addr('selfDoctor2'), key('reason')), registryAbi, registry)
      gasFigures.push(`rejectAccount: ${receipt.gasUsed}`)
      assert.deepEqual(events, [{
        eventName: 'AccountRejected',
        args: { account: addr('selfDoctor2'), hospital: addr('hospitalA'), by: addr('admin'), reasonHash: key('reason') },
      }])
      assert.deepEqual(await accountOf('selfDoctor2'), { role: Role.Doctor, status: Status.Rejected, keyScheme: RSA, hospital: addr('hospitalA') })
      await expectRevert(confirm('staffA', addr('selfDoctor2')), 'RegistryNotPending', [addr('selfDoctor2'), Status.Rejected])
      await expectRevert(reject('staffA', addr('selfDoctor2'), key('again')), 'RegistryNotPending', [addr('selfDoctor2'), Status.Rejected])
      await expectRevert(requestRegistration('selfDoctor2', Role.Doctor, addr('hospitalA'), RSA, key('again')), 'RegistryAlreadyRegistered', [addr('selfDoctor2')])
      await expectRevert(
        wallets.selfDoctor2!.writeContract({
          address: ledger, abi: recordLedgerAbi, functionName: 'anchor',
          args: [randomId(), addr('patientA'), addr('hospitalA'), key('c'), key('e')], ...noFees,
        }),
        'RecordLedgerUnauthorized', [addr('selfDoctor2')],
      )
    })

    test('only pending accounts are confirmed or rejected', async () => {
      await expectRevert(confirm('staffA', addr('selfDoctor')), 'RegistryNotPending', [addr('selfDoctor'), Status.Active])
      await expectRevert(confirm('staffA', addr('patientA')), 'RegistryNotPending', [addr('patientA'), Status.Active])
      await expectRevert(reject('staffB', addr('selfPatient'), key('r')), 'RegistryNotPending', [addr('selfPatient'), Status.Active])
      await expectRevert(confirm('admin', addr('stranger')), 'RegistryNotPending', [addr('stranger'), Status.None])
    })
  })

  describe('Registry: hospital admission by vote', () => {
    const propose = (by: string, hospital: Address, keyScheme: number, emergencyKey: Hex) =>
      wallets[by]!.writeContract({ address: registry, abi: registryAbi, functionName: 'proposeHospital', args: [hospital, keyScheme, emergencyKey], ...noFees })
    const proposeRemoval = (by: string, hospital: Address) =>
      wallets[by]!.writeContract({ address: registry, abi: registryAbi, functionName: 'proposeRemoval', args: [hospital], ...noFees })
    const vote = (by: string, hospital: Address, approve: boolean) =>
      wallets[by]!.writeContract({ address: registry, abi: registryAbi, functionName: 'voteOnHospital', args: [hospital, approve], ...noFees })
    const memberCount = () => client.readContract({ address: registry, abi: registryAbi, functionName: 'memberCount' })
    const proposalOf = (hospital: Address) => client.readContract({ address: registry, abi: registryAbi, functionName: 'proposalOf', args: [hospital] })
    const isMember = async (hospital: Address) =>
      (await client.readContract({ address: registry, abi: registryAbi, functionName: 'hospitalOf', args: [hospital] })).member
    const noProposal = { kind: Proposal.None, keyScheme: 0, id: 0n, approvals: 0, rejections: 0, emergencyKey: zeroHash, openedAt: 0n }
    const blockTime = async (blockNumber: bigint) => (await client.getBlock({ blockNumber })).timestamp
    const voted = (hospital: string, proposalId: bigint, voter: string, approve: boolean, approvals: number, rejections: number) => ({
      eventName: 'HospitalVoted', args: { hospital: addr(hospital), proposalId, voter: addr(voter), approve, approvals, rejections },
    })
    const decided = (hospital: string, proposalId: bigint, kind: number, accepted: boolean, members: bigint) => ({
      eventName: 'ProposalDecided', args: { hospital: addr(hospital), proposalId, kind, accepted, memberCount: members },
    })

    test('with two members, the admin can no longer add hospitals alone', async () => {
      assert.equal(await memberCount(), 2n)
      await expectRevert(addHospital('admin', addr('hospitalC'), X25519, key('emergency C')), 'RegistryVoteRequired', [2n])
      await expectRevert(addHospital('stranger', addr('hospitalC'), X25519, key('emergency C')), 'RegistryUnauthorized', [addr('stranger')])
      assert.equal(await isMember(addr('hospitalC')), false)
    })

    test('only the admin or a member hospital proposes, a valid candidate, once at a time', async () => {
      for (const by of ['stranger', 'staffA', 'doctorA', 'patientA', 'hospitalC']) {
        await expectRevert(propose(by, addr('hospitalC'), X25519, key('emergency C')), 'RegistryUnauthorized', [addr(by)])
        await expectRevert(proposeRemoval(by, addr('hospitalB')), 'RegistryUnauthorized', [addr(by)])
      }
      await expectRevert(propose('admin', zeroAddress, X25519, key('emergency C')), 'RegistryZeroAddress')
      await expectRevert(propose('admin', addr('hospitalC'), X25519, zeroHash), 'RegistryInvalidKey')
      for (const scheme of [0, 3]) {
        await expectRevert(propose('hospitalA', addr('hospitalC'), scheme, key('emergency C')), 'RegistryInvalidKeyScheme', [scheme])
      }
      await expectRevert(propose('hospitalA', addr('hospitalB'), X25519, key('e')), 'RegistryHospitalExists', [addr('hospitalB')])
      await expectRevert(propose('hospitalA', addr('doctorA'), X25519, key('e')), 'RegistryAlreadyRegistered', [addr('doctorA')])
      await expectRevert(proposeRemoval('hospitalA', addr('hospitalC')), 'RegistryUnknownHospital', [addr('hospitalC')])
      await expectRevert(vote('hospitalA', addr('hospitalC'), true), 'RegistryNoProposal', [addr('hospitalC')])
      assert.deepEqual(await proposalOf(addr('hospitalC')), noProposal)
    })

    test('of two members, one vote is not enough; both admit', async () => {
      const { receipt, events } = await eventsOf(await propose('admin', addr('hospitalC'), RSA, key('emergency C')), registryAbi, registry)
      gasFigures.push(`proposeHospital: ${receipt.gasUsed}`)
      assert.deepEqual(events, [{
        eventName: 'HospitalProposed',
        args: { hospital: addr('hospitalC'), proposalId: 1n, kind: Proposal.Admit, by: addr('admin'), keyScheme: RSA, emergencyKey: key('emergency C') },
      }])
      assert.deepEqual(await proposalOf(addr('hospitalC')), { kind: Proposal.Admit, keyScheme: RSA, id: 1n, approvals: 0, rejections: 0, emergencyKey: key('emergency C'), openedAt: await blockTime(receipt.blockNumber) })
      await expectRevert(propose('hospitalB', addr('hospitalC'), X25519, key('other')), 'RegistryProposalOpen', [addr('hospitalC')])

      for (const by of ['admin', 'staffA', 'doctorA', 'hospitalC', 'stranger']) {
        await expectRevert(vote(by, addr('hospitalC'), true), 'RegistryUnauthorized', [addr(by)])
      }
      const first = await eventsOf(await vote('hospitalA', addr('hospitalC'), true), registryAbi, registry)
      gasFigures.push(`voteOnHospital (undecided): ${first.receipt.gasUsed}`)
      assert.deepEqual(first.events, [voted('hospitalC', 1n, 'hospitalA', true, 1, 0)])
      assert.equal(await isMember(addr('hospitalC')), false)
      assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'hasVoted', args: [addr('hospitalC'), addr('hospitalA')] }), true)
      assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'hasVoted', args: [addr('hospitalC'), addr('hospitalB')] }), false)
      // each member votes once, whichever way
      await expectRevert(vote('hospitalA', addr('hospitalC'), true), 'RegistryAlreadyVoted', [addr('hospitalA'), addr('hospitalC')])
      await expectRevert(vote('hospitalA', addr('hospitalC'), false), 'RegistryAlreadyVoted', [addr('hospitalA'), addr('hospitalC')])

      const second = await eventsOf(await vote('hospitalB', addr('hospitalC'), true), registryAbi, registry)
      gasFigures.push(`voteOnHospital (admits): ${second.receipt.gasUsed}`)
      assert.deepEqual(second.events, [
        voted('hospitalC', 1n, 'hospitalB', true, 2, 0),
        decided('hospitalC', 1n, Proposal.Admit, true, 2n),
        { eventName: 'HospitalAdded', args: { hospital: addr('hospitalC'), keyScheme: RSA, emergencyKey: key('emergency C') } },
      ])
      assert.equal(await memberCount(), 3n)
      assert.deepEqual(
        await client.readContract({ address: registry, abi: registryAbi, functionName: 'hospitalOf', args: [addr('hospitalC')] }),
        { member: true, keyScheme: RSA },
      )
      assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'emergencyKeyOf', args: [addr('hospitalC')] }), key('emergency C'))
      assert.deepEqual(await proposalOf(addr('hospitalC')), noProposal)
      assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'hasVoted', args: [addr('hospitalC'), addr('hospitalA')] }), false)
    })

    test('of three members, one vote is not enough and two are', async () => {
      const { events } = await eventsOf(await propose('hospitalC', addr('hospitalD'), X25519, key('emergency D')), registryAbi, registry)
      assert.deepEqual(events, [{
        eventName: 'HospitalProposed',
        args: { hospital: addr('hospitalD'), proposalId: 2n, kind: Proposal.Admit, by: addr('hospitalC'), keyScheme: X25519, emergencyKey: key('emergency D') },
      }])
      assert.deepEqual((await eventsOf(await vote('hospitalC', addr('hospitalD'), true), registryAbi, registry)).events, [
        voted('hospitalD', 2n, 'hospitalC', true, 1, 0),
      ])
      assert.equal(await isMember(addr('hospitalD')), false)
      assert.deepEqual((await eventsOf(await vote('hospitalA', addr('hospitalD'), true), registryAbi, registry)).events, [
        voted('hospitalD', 2n, 'hospitalA', true, 2, 0),
        decided('hospitalD', 2n, Proposal.Admit, true, 3n),
        { eventName: 'HospitalAdded', args: { hospital: addr('hospitalD'), keyScheme: X25519, emergencyKey: key('emergency D') } },
      ])
      assert.equal(await memberCount(), 4n)
      // the vote is over: a late vote finds no proposal
      await expectRevert(vote('hospitalB', addr('hospitalD'), true), 'RegistryNoProposal', [addr('hospitalD')])
    })

    test('half of the members rejecting closes a proposal; it can be proposed again, with fresh votes', async () => {
      await eventsOf(await propose('admin', addr('hospitalE'), X25519, key('emergency E')), registryAbi, registry)
      assert.deepEqual((await eventsOf(await vote('hospitalA', addr('hospitalE'), false), registryAbi, registry)).events, [
        voted('hospitalE', 3n, 'hospitalA', false, 0, 1),
      ])
      assert.deepEqual((await eventsOf(await vote('hospitalB', addr('hospitalE'), true), registryAbi, registry)).events, [
        voted('hospitalE', 3n, 'hospitalB', true, 1, 1),
      ])
      // 2 rejections of 4 members: a strict majority can no longer approve
      assert.deepEqual((await eventsOf(await vote('hospitalC', addr('hospitalE'), false), registryAbi, registry)).events, [
        voted('hospitalE', 3n, 'hospitalC', false, 1, 2),
        decided('hospitalE', 3n, Proposal.Admit, false, 4n),
      ])
      assert.equal(await isMember(addr('hospitalE')), false)
      assert.equal(await memberCount(), 4n)
      assert.deepEqual(await proposalOf(addr('hospitalE')), noProposal)

      const proposedE = await eventsOf(await propose('hospitalD', addr('hospitalE'), X25519, key('emergency E')), registryAbi, registry)
      assert.deepEqual((await eventsOf(await vote('hospitalA', addr('hospitalE'), true), registryAbi, registry)).events, [
        voted('hospitalE', 4n, 'hospitalA', true, 1, 0),
      ])
      // leave it open: it expires only after proposalTtl (test/contracts/registry-expiry.test.ts)
      assert.deepEqual(await proposalOf(addr('hospitalE')), { kind: Proposal.Admit, keyScheme: X25519, id: 4n, approvals: 1, rejections: 0, emergencyKey: key('emergency E'), openedAt: await blockTime(proposedE.receipt.blockNumber) })
    })

    test('a member is removed by a strict majority, and then can no longer vote or propose', async () => {
      const { events } = await eventsOf(await proposeRemoval('hospitalA', addr('hospitalD')), registryAbi, registry)
      assert.deepEqual(events, [{
        eventName: 'HospitalProposed',
        args: { hospital: addr('hospitalD'), proposalId: 5n, kind: Proposal.Remove, by: addr('hospitalA'), keyScheme: 0, emergencyKey: zeroHash },
      }])
      await expectRevert(proposeRemoval('admin', addr('hospitalD')), 'RegistryProposalOpen', [addr('hospitalD')])
      // a member votes on its own removal like on anything else
      assert.deepEqual((await eventsOf(await vote('hospitalD', addr('hospitalD'), false), registryAbi, registry)).events, [voted('hospitalD', 5n, 'hospitalD', false, 0, 1)])
      assert.deepEqual((await eventsOf(await vote('hospitalA', addr('hospitalD'), true), registryAbi, registry)).events, [voted('hospitalD', 5n, 'hospitalA', true, 1, 1)])
      assert.deepEqual((await eventsOf(await vote('hospitalB', addr('hospitalD'), true), registryAbi, registry)).events, [voted('hospitalD', 5n, 'hospitalB', true, 2, 1)])
      assert.equal(await isMember(addr('hospitalD')), true)
      const { receipt, events: removed } = await eventsOf(await vote('hospitalC', addr('hospitalD'), true), registryAbi, registry)
      gasFigures.push(`voteOnHospital (removes): ${receipt.gasUsed}`)
      assert.deepEqual(removed, [
        voted('hospitalD', 5n, 'hospitalC', true, 3, 1),
        decided('hospitalD', 5n, Proposal.Remove, true, 4n),
        { eventName: 'HospitalRemoved', args: { hospital: addr('hospitalD') } },
      ])
      assert.equal(await memberCount(), 3n)
      assert.equal(await isMember(addr('hospitalD')), false)
      assert.equal(await client.readContract({ address: registry, abi: registryAbi, functionName: 'emergencyKeyOf', args: [addr('hospitalD')] }), zeroHash)
      await expectRevert(vote('hospitalD', addr('hospitalE'), true), 'RegistryUnauthorized', [addr('hospitalD')])
      await expectRevert(propose('hospitalD', addr('stranger'), X25519, key('s')), 'RegistryUnauthorized', [addr('hospitalD')])
      await expectRevert(register('admin', privateKeyToAccount(generatePrivateKey()).address, Role.Patient, addr('hospitalD'), X25519, key('x')), 'RegistryUnknownHospital', [addr('hospitalD')])
      // the open admission of E now needs 2 of 3: A's earlier vote plus one more
      assert.deepEqual((await eventsOf(await vote('hospitalB', addr('hospitalE'), true), registryAbi, registry)).events, [
        voted('hospitalE', 4n, 'hospitalB', true, 2, 0),
        decided('hospitalE', 4n, Proposal.Admit, true, 3n),
        { eventName: 'HospitalAdded', args: { hospital: addr('hospitalE'), keyScheme: X25519, emergencyKey: key('emergency E') } },
      ])
      assert.equal(await memberCount(), 4n)
    })

    test('a new consortium: no votes without members; with one member, an open proposal blocks addHospital', async () => {
      const { contracts } = loadArtifacts()
      const hash = await wallets.admin!.deployContract({ abi: registryAbi, bytecode: contracts.Registry!.bytecode, args: [addr('admin')], ...noFees })
      const fresh = getAddress((await client.waitForTransactionReceipt({ hash })).contractAddress!)
      const write = (by: string, functionName: 'proposeHospital' | 'addHospital', hospital: string) =>
        wallets[by]!.writeContract({ address: fresh, abi: registryAbi, functionName, args: [addr(hospital), X25519, key(hospital)], ...noFees })
      assert.equal(await client.readContract({ address: fresh, abi: registryAbi, functionName: 'memberCount' }), 0n)
      await expectRevert(write('admin', 'proposeHospital', 'hospitalA'), 'RegistryNoVoters')
      await eventsOf(await write('admin', 'addHospital', 'hospitalA'), registryAbi, fresh)
      await eventsOf(await write('admin', 'proposeHospital', 'hospitalB'), registryAbi, fresh)
      await expectRevert(write('admin', 'addHospital', 'hospitalB'), 'RegistryProposalOpen', [addr('hospitalB')])
      // a candidate under a vote cannot slip in as an account meanwhile
      await expectRevert(
        wallets.hospitalB!.writeContract({ address: fresh, abi: registryAbi, functionName: 'requestRegistration', args: [Role.Patient, addr('hospitalA'), X25519, key('b')], ...noFees }),
        'RegistryProposalOpen', [addr('hospitalB')],
      )
      await expectRevert(
        wallets.admin!.writeContract({ address: fresh, abi: registryAbi, functionName: 'registerAccount', args: [addr('hospitalB'), Role.Staff, addr('hospitalA'), X25519, key('b')], ...noFees }),
        'RegistryProposalOpen', [addr('hospitalB')],
      )
      // the only member's vote is a strict majority of one
      const { events } = await eventsOf(
        await wallets.hospitalA!.writeContract({ address: fresh, abi: registryAbi, functionName: 'voteOnHospital', args: [addr('hospitalB'), true], ...noFees }),
        registryAbi, fresh,
      )
      assert.deepEqual(events, [
        voted('hospitalB', 1n, 'hospitalA', true, 1, 0),
        decided('hospitalB', 1n, Proposal.Admit, true, 1n),
        { eventName: 'HospitalAdded', args: { hospital: addr('hospitalB'), keyScheme: X25519, emergencyKey: key('hospitalB') } },
      ])
      await expectRevert(write('admin', 'addHospital', 'hospitalC'), 'RegistryVoteRequired', [2n])
    })
  })

  describe('RecordLedger', () => {
    const digest = key('ciphertext')
    const envelopes = key('envelopes')
    let anchored: Hex

    test('it names its registry', async () => {
      assert.equal(await client.readContract({ address: ledger, abi: recordLedgerAbi, functionName: 'registry' }), registry)
    })

    test('a doctor anchors a record of a patient of the same hospital', async () => {
      anchored = randomId()
      const { receipt, events } = await eventsOf(
        await anchor('doctorA', anchored, addr('patientA'), addr('hospitalA'), digest, envelopes), recordLedgerAbi, ledger,
      )
      gasFigures.push(`anchor: ${receipt.gasUsed}`)
      assert.deepEqual(events, [{
        eventName: 'RecordAnchored',
        args: { recordId: anchored, patient: addr('patientA'), author: addr('doctorA'), hospital: addr('hospitalA'), digest, envelopes },
      }])
      assert.ok(receipt.gasUsed <= 60_000n, `anchor used ${receipt.gasUsed} gas`)

      const expected = keccak256(encodeAbiParameters(
        [{ type: 'address' }, { type: 'address' }, { type: 'address' }, { type: 'bytes32' }, { type: 'bytes32' }],
        [addr('patientA'), addr('doctorA'), addr('hospitalA'), digest, envelopes],
      ))
      const commitmentOf = (id: Hex) => client.readContract({ address: ledger, abi: recordLedgerAbi, functionName: 'commitmentOf', args: [id] })
      const isAnchored = (id: Hex) => client.readContract({ address: ledger, abi: recordLedgerAbi, functionName: 'isAnchored', args: [id] })
      assert.equal(await commitmentOf(anchored), expected)
      assert.equal(await isAnchored(anchored), true)
      assert.equal(await commitmentOf(randomId()), zeroHash)
      assert.equal(await isAnchored(randomId()), false)
      assert.equal(await client.readContract({
        address: ledger, abi: recordLedgerAbi, functionName: 'anchorCommitment',
        args: [addr('patientA'), addr('doctorA'), addr('hospitalA'), digest, envelopes],
      }), expected)
    })

    test('checkAnchor is true only for the exact anchored values', async () => {
      const check = (recordId: Hex, patient: Address, author: Address, hospital: Address, d: Hex, e: Hex) =>
        client.readContract({ address: ledger, abi: recordLedgerAbi, functionName: 'checkAnchor', args: [recordId, patient, author, hospital, d, e] })
      const [p, a, h] = [addr('patientA'), addr('doctorA'), addr('hospitalA')]
      assert.equal(await check(anchored, p, a, h, digest, envelopes), true)
      assert.equal(await check(anchored, p, a, h, key('tampered'), envelopes), false)
      assert.equal(await check(anchored, p, a, h, digest, key('other envelopes')), false)
      assert.equal(await check(anchored, addr('patientB'), a, h, digest, envelopes), false)
      assert.equal(await check(anchored, p, addr('doctorA2'), h, digest, envelopes), false)
      assert.equal(await check(anchored, p, a, addr('hospitalB'), digest, envelopes), false)
      assert.equal(await check(randomId(), p, a, h, digest, envelopes), false)
      // an unanchored id never checks, even against the commitment of all-zero values
      assert.equal(await check(randomId(), zeroAddress, zeroAddress, zeroAddress, zeroHash, zeroHash), false)
    })

    test('anchor refuses a zero record id, digest or envelopes digest', async () => {
      await expectRevert(anchor('doctorA', zeroHash, addr('patientA'), addr('hospitalA'), digest, envelopes), 'RecordLedgerInvalidRecord')
      await expectRevert(anchor('doctorA', randomId(), addr('patientA'), addr('hospitalA'), zeroHash, envelopes), 'RecordLedgerInvalidRecord')
      await expectRevert(anchor('doctorA', randomId(), addr('patientA'), addr('hospitalA'), digest, zeroHash), 'RecordLedgerInvalidRecord')
    })

    test('only an active doctor of the hospital anchors', async () => {
      for (const by of ['patientA', 'staffA', 'hospitalA', 'admin', 'stranger', 'doctorB']) {
        await expectRevert(anchor(by, randomId(), addr('patientA'), addr('hospitalA'), digest, envelopes), 'RecordLedgerUnauthorized', [addr(by)])
      }
      // a doctor cannot claim another hospital
      await expectRevert(anchor('doctorA', randomId(), addr('patientB'), addr('hospitalB'), digest, envelopes), 'RecordLedgerUnauthorized', [addr('doctorA')])
    })

    test('the patient must be an active patient of the same hospital', async () => {
      const unknown = privateKeyToAccount(generatePrivateKey()).address
      for (const patient of [unknown, addr('patientB'), addr('doctorA2'), addr('staffA'), addr('hospitalA'), zeroAddress]) {
        await expectRevert(anchor('doctorA', randomId(), patient, addr('hospitalA'), digest, envelopes), 'RecordLedgerUnknownPatient', [patient])
      }
    })

    test('a record id is anchored once', async () => {
      await expectRevert(anchor('doctorA', anchored, addr('patientA'), addr('hospitalA'), key('new'), envelopes), 'RecordLedgerAlreadyAnchored', [anchored])
      await expectRevert(anchor('doctorA2', anchored, addr('patientA'), addr('hospitalA'), digest, envelopes), 'RecordLedgerAlreadyAnchored', [anchored])
      assert.equal(await client.readContract({
        address: ledger, abi: recordLedgerAbi, functionName: 'checkAnchor',
        args: [anchored, addr('patientA'), addr('doctorA'), addr('hospitalA'), digest, envelopes],
      }), true)
    })
  })
})

describe('contract build', () => {
  test('src/ledger/abis.ts matches the compiled contracts (run `npm run build:contracts`)', async () => {
    assert.equal(await readFile(abiModulePath(), 'utf8'), renderAbiModule(loadArtifacts()))
  })

  test('the deployed Registry runs the compiled runtime bytecode', () => {
    const { contracts, solcVersion } = loadArtifacts()
    assert.match(solcVersion, /^0\.8\.\d+/)
    for (const name of ['Registry', 'RecordLedger', 'Consent', 'IRegistry', 'IRecordLedger', 'IConsent']) assert.ok(contracts[name], name)
    assert.equal(contracts.IRegistry!.bytecode, '0x')
    assert.equal(contracts.IConsent!.bytecode, '0x')
    assert.ok(contracts.Registry!.deployedBytecode.length > 2)
    assert.ok(contracts.Consent!.deployedBytecode.length > 2)
  })

  test('a build writes once, skips unchanged sources and recompiles changed ones', async () => {
    const root = await mkdtemp(join(tmpdir(), 'medledger-build-'))
    try {
      await mkdir(join(root, 'contracts'))
      await writeFile(join(root, 'contracts', 'Counter.sol'), 'pragma solidity ^0.8.24;\ncontract Counter { uint256 public n; function inc() external { n += 1; } }\n')
      const first = buildContracts({ root })
      assert.equal(first.written, true)
      assert.deepEqual(Object.keys(first.artifacts.contracts), ['Counter'])
      assert.equal(buildContracts({ root }).written, false)
      assert.deepEqual(loadArtifacts({ root }), first.artifacts)

      await writeFile(join(root, 'contracts', 'Counter.sol'), 'pragma solidity ^0.8.24;\ncontract Counter { uint256 public n; function inc() external { n += 2; } }\n')
      const changed = loadArtifacts({ root })
      assert.notEqual(changed.sourcesHash, first.artifacts.sourcesHash)
      assert.notEqual(changed.contracts.Counter!.bytecode, first.artifacts.contracts.Counter!.bytecode)
      assert.equal(buildContracts({ root }).written, false, 'loadArtifacts rewrote the stale file')
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  test('a compiler error is reported with its messages', async () => {
    const root = await mkdtemp(join(tmpdir(), 'medledger-build-'))
    try {
      await mkdir(join(root, 'contracts'))
      await writeFile(join(root, 'contracts', 'Broken.sol'), 'pragma solidity ^0.8.24;\ncontract Broken { function f( }\n')
      assert.throws(() => compileContracts({ root }), (err: unknown) => {
        assert.ok(isAppError(err, 'CONTRACT_BUILD_FAILED'))
        assert.match(err.details ?? '', /ParserError/)
        return true
      })
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
