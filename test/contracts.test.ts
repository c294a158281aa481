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
import { recordLedgerAbi, registryAbi } from '../src/ledger/abis.ts'
import { startAnvil, type StartAnvilResult } from '../src/ledger/anvil.ts'
import { loadArtifacts } from '../src/ledger/artifacts.ts'
import { abiModulePath, buildContracts, compileContracts, renderAbiModule } from '../src/ledger/compile-contracts.ts'

// The embedded chain charges no gas, but anvil suggests a 1 gwei tip (eth_maxPriorityFeePerGas,
// eth_fillTransaction): zero-balance accounts must send zero fees explicitly.
const noFees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const

const Role = { None: 0, Staff: 1, Doctor: 2, Patient: 3 } as const
const Status = { None: 0, Pending: 1, Active: 2, Suspended: 3 } as const
const X25519 = 1
const RSA = 2

type Wallet = WalletClient<Transport, Chain, Account>

const key = (label: string): Hex => keccak256(new TextEncoder().encode(`public key of ${label}`))
const randomId = (): Hex => generatePrivateKey() // 32 random bytes

/** Asserts `promise` reverts with exactly the custom error `errorName(...args)`. */
async function expectRevert(promise: Promise<unknown>, errorName: string, args: readonly unknown[] = []): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof BaseError, `not a viem error: ${String(err)}`)
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError)
    assert.ok(revert instanceof ContractFunctionRevertedError, `not a contract revert: ${err.shortMessage}`)
    assert.equal(revert.data?.errorName, errorName, revert.shortMessage)
    assert.deepEqual(revert.data?.args ?? [], args)
    return true
  })
}

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
    for (const name of ['admin', 'hospitalA', 'hospitalB', 'staffA', 'staffB', 'doctorA', 'doctorA2', 'doctorB', 'patientA', 'patientB', 'stranger']) {
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
      await expectRevert(register('admin', fresh, Role.Patient, addr('stranger'), X25519, key('x')), 'RegistryUnknownHospital', [addr('stranger')])
      // out of the enum's range: the ABI decoder itself reverts, without error data
      await assert.rejects(register('admin', fresh, 4, addr('hospitalA'), X25519, key('x')), (err: unknown) => {
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

    test('anchor refuses a zero record id or digest', async () => {
      await expectRevert(anchor('doctorA', zeroHash, addr('patientA'), addr('hospitalA'), digest, envelopes), 'RecordLedgerInvalidRecord')
      await expectRevert(anchor('doctorA', randomId(), addr('patientA'), addr('hospitalA'), zeroHash, envelopes), 'RecordLedgerInvalidRecord')
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
    for (const name of ['Registry', 'RecordLedger', 'IRegistry', 'IRecordLedger']) assert.ok(contracts[name], name)
    assert.equal(contracts.IRegistry!.bytecode, '0x')
    assert.ok(contracts.Registry!.deployedBytecode.length > 2)
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
