import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  http,
  toHex,
  zeroAddress,
  zeroHash,
  type Abi,
  type AbiFunction,
  type AbiParameter,
  type Address,
  type Hex,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { careTeamsAbi, consentAbi, recordLedgerAbi, registryAbi, researchAbi } from '../src/ledger/abis.ts'
import { Api, cleanup, seed, startNodeProcess, type NodeProcess } from './helpers/node-process.ts'
import { waitFor } from './helpers/mail-fixtures.ts'
import { noFees } from './helpers/test-chain.ts'

// The outsider test: from a fresh key, every state-changing function of every contract (as the
// ABIs list them) is called with random arguments, drawn by fast-check from a fixed seed and
// mixed with the ids and addresses that exist on the chain. Each call either reverts or
// changes only the caller's own entry: the members, accounts, keys, anchors, grants, shares
// and emergencies of everyone else read the same before and after. The node following the
// chain stays at its head.

/** Calls per function: from a fresh key, then from keys that signed themselves up (as anyone may). */
const RUNS = { fresh: 8, patient: 14, pendingDoctor: 4 } as const
const SEED = 20261207
const DEFAULT_ADMIN_ROLE = zeroHash

interface Status {
  chainRpc: string
  chainId: number
  contracts: { registry: Address; recordLedger: Address; consent: Address }
  follow: { lastBlock: number; lagBlocks: number; error: string | null }
  quarantinedEvents: number
}

describe('an outsider against every contract function', () => {
  let node: NodeProcess
  let api: Api
  let a: Awaited<ReturnType<typeof seed>>
  let b: Awaited<ReturnType<typeof seed>>
  let st: Status
  const ids: { records: Hex[]; requests: Hex[]; shares: Hex[]; emergencies: Hex[] } = { records: [], requests: [], shares: [], emergencies: [] }

  const status = async () => (await api.json<Status>('GET', '/status')).body

  before(async () => {
    node = await startNodeProcess()
    api = new Api(node.url)
    a = await seed(api, { hospitalName: 'Alpha', tag: 'alpha' })
    b = await seed(api, { hospitalName: 'Beta', tag: 'beta' })
    // Known state: a record, a grant, a named share, a token share and an emergency.
    const up = await api.upload(a.doctor.token, a.patient.email, 'note.txt', new TextEncoder().encode('clinical note'))
    assert.equal(up.status, 201, JSON.stringify(up.body))
    ids.records.push(up.body.recordId)
    const req = await api.json('POST', '/access-requests', { patient: a.patient.address, purpose: 'follow-up', days: 3 }, b.doctor.token)
    assert.equal(req.status, 201, JSON.stringify(req.body))
    ids.requests.push(req.body.requestId)
    const approved = await api.json('POST', `/access-requests/${req.body.requestId}/approve`, {}, a.patient.token)
    assert.equal(approved.status, 200, JSON.stringify(approved.body))
    for (const body of [{ recordIds: [up.body.recordId], to: b.patient.address }, { recordIds: [up.body.recordId], token: true, once: true }]) {
      const sh = await api.json('POST', '/shares', body, a.patient.token)
      assert.equal(sh.status, 201, JSON.stringify(sh.body))
      ids.shares.push(sh.body.shareId)
    }
    const em = await api.json('POST', '/emergencies', { patient: a.patient.address, reason: 'unconscious on arrival' }, b.doctor.token)
    assert.equal(em.status, 201, JSON.stringify(em.body))
    ids.emergencies.push(em.body.emergencyId)
    st = await status()
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home)
  })

  test('every call reverts or changes only the caller\'s own entry; the follower stays at the head', async () => {
    const chain = defineChain({ id: st.chainId, name: 'node chain', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [st.chainRpc] } } })
    const client = createPublicClient({ chain, transport: http() })
    const wallet = () => createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http() })
    const outsiders = { fresh: wallet(), patient: wallet(), pendingDoctor: wallet() }
    const { registry, recordLedger, consent } = st.contracts
    const read = (address: Address, abi: Abi, functionName: string, args: readonly unknown[] = []) =>
      client.readContract({ address, abi, functionName, args } as never) as Promise<unknown>

    const members = (await read(registry, registryAbi, 'members')) as Address[]
    const research = (await read(registry, registryAbi, 'research')) as Address
    assert.notEqual(research, zeroAddress, 'the Research contract is linked in the Registry')
    const careTeams = (await read(registry, registryAbi, 'careTeams')) as Address
    assert.notEqual(careTeams, zeroAddress, 'the CareTeams contract is linked in the Registry')
    const people = [a.doctor, a.patient, b.doctor, b.patient].map((p) => getAddress(p.address))
    const known = [...members, ...people]
    const knownIds = [...ids.records, ...ids.requests, ...ids.shares, ...ids.emergencies]

    /** Everything on chain that is not the outsider's own. */
    async function snapshot(): Promise<unknown> {
      const s: Record<string, unknown> = {
        members: await read(registry, registryAbi, 'members'),
        links: [await read(registry, registryAbi, 'recordLedger'), await read(registry, registryAbi, 'consent'), await read(registry, registryAbi, 'research'), await read(registry, registryAbi, 'careTeams')],
        proposalTtl: await read(registry, registryAbi, 'proposalTtl'),
      }
      for (const x of known) {
        s[`account ${x}`] = await read(registry, registryAbi, 'accountOf', [x])
        s[`key ${x}`] = await read(registry, registryAbi, 'encryptionKeyOf', [x])
        s[`hospital ${x}`] = await read(registry, registryAbi, 'hospitalOf', [x])
        s[`emergency key ${x}`] = await read(registry, registryAbi, 'emergencyKeyOf', [x])
        s[`node ${x}`] = await read(registry, registryAbi, 'nodeInfoOf', [x])
        s[`proposal ${x}`] = await read(registry, registryAbi, 'proposalOf', [x])
        s[`application ${x}`] = await read(registry, registryAbi, 'applicationOf', [x])
        s[`admin ${x}`] = await read(registry, registryAbi, 'hasRole', [DEFAULT_ADMIN_ROLE, x])
      }
      for (const id of ids.records) s[`anchor ${id}`] = await read(recordLedger, recordLedgerAbi, 'commitmentOf', [id])
      for (const id of ids.requests) s[`grant ${id}`] = await read(consent, consentAbi, 'grantOf', [id])
      for (const id of ids.shares) s[`share ${id}`] = await read(consent, consentAbi, 'shareOf', [id])
      for (const id of ids.emergencies) s[`emergency ${id}`] = await read(consent, consentAbi, 'emergencyOf', [id])
      return s
    }

    // Arguments: random values mixed with what exists, so that calls reach past the first checks.
    const mine = Object.values(outsiders).map((w) => w.account.address)
    const address = fc.oneof(
      { arbitrary: fc.constantFrom<Address>(...known, ...mine), weight: 3 },
      { arbitrary: fc.constant(zeroAddress), weight: 2 },
      { arbitrary: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((u) => getAddress(toHex(u))), weight: 2 },
    )
    const bytes32 = fc.oneof(
      { arbitrary: fc.constantFrom<Hex>(...knownIds), weight: 2 },
      { arbitrary: fc.constant(zeroHash), weight: 2 },
      { arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((u) => toHex(u)), weight: 3 },
    )
    const uint8 = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 255 }))
    const uint64 = fc.oneof({ arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), weight: 1 }, { weight: 2, arbitrary: fc.constantFrom(0n, 59n, 60n, 3_600n, 86_400n, 604_800n, 604_801n, 31_536_000n, 31_536_001n, 2n ** 64n - 1n) })
    const text = fc.string({ maxLength: 300, unit: 'grapheme' })
    const arbitraryOf = ({ type, ...param }: AbiParameter): fc.Arbitrary<unknown> => {
      // A struct (Consent.logAccessBatch's entries) is an object of its fields, an array of them at most three long.
      const components = 'components' in param ? param.components : []
      const struct = () => fc.record(Object.fromEntries(components.map((c) => [c.name!, arbitraryOf(c)])))
      switch (type) {
        case 'tuple': return struct()
        case 'tuple[]': return fc.array(struct(), { maxLength: 3 })
        case 'bytes': return fc.oneof(fc.uint8Array({ minLength: 65, maxLength: 65 }), fc.uint8Array({ maxLength: 70 })).map((u) => toHex(u))
        case 'address': return address
        case 'bytes32': return bytes32
        case 'bytes32[]': return fc.array(bytes32, { maxLength: 3 })
        case 'uint8': return uint8
        case 'uint64': return uint64
        case 'uint32': return fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1), fc.nat({ max: 2 ** 32 - 1 }))
        case 'uint256': return fc.oneof(uint64, fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }))
        case 'bool': return fc.boolean()
        case 'string': return text
        case 'string[]': return fc.array(text, { maxLength: 10 })
        default: throw new Error(`no arbitrary for ${type}: extend the outsider test`)
      }
    }

    const targets: { contract: string; address: Address; abi: Abi }[] = [
      { contract: 'Registry', address: registry, abi: registryAbi as Abi },
      { contract: 'RecordLedger', address: recordLedger, abi: recordLedgerAbi as Abi },
      { contract: 'Consent', address: consent, abi: consentAbi as Abi },
      { contract: 'Research', address: research, abi: researchAbi as Abi },
      { contract: 'CareTeams', address: careTeams, abi: careTeamsAbi as Abi },
    ]
    const before = await snapshot()
    // Two of the outsiders sign themselves up first, as anyone may: a patient (active at once) and a doctor (pending).
    for (const [w, role] of [[outsiders.patient, 3], [outsiders.pendingDoctor, 2]] as const) {
      const hash = await w.writeContract({ address: registry, abi: registryAbi, functionName: 'requestRegistration', args: [role, members[0]!, 1, generatePrivateKey()], ...noFees })
      assert.equal((await client.waitForTransactionReceipt({ hash })).status, 'success')
    }
    const tally = { calls: 0, reverted: 0, mined: 0 }
    const mined = new Set<string>()
    const functions = targets.flatMap(({ contract, address: to, abi }) =>
      abi.filter((x): x is AbiFunction => x.type === 'function' && x.stateMutability !== 'view' && x.stateMutability !== 'pure').map((fn) => ({ contract, to, abi, fn })))
    assert.equal(functions.length, 56, 'the five contracts have 56 state-changing functions: a new one is fuzzed here too')
    for (const [who, runs] of Object.entries(RUNS) as [keyof typeof RUNS, number][]) {
      const outsider = outsiders[who]
      for (const [index, { contract, to, abi, fn }] of functions.entries()) {
        await fc.assert(fc.asyncProperty(fc.tuple(...fn.inputs.map((i) => arbitraryOf(i))), async (args) => {
          tally.calls++
          let hash: Hex
          try {
            hash = await outsider.writeContract({ address: to, abi, functionName: fn.name, args, ...noFees } as never)
          } catch (err) {
            // a revert (with a custom error, or the ABI decoder's own for an enum out of range), nothing else
            assert.ok(err instanceof BaseError && err.walk((e) => e instanceof ContractFunctionRevertedError), `${contract}.${fn.name}: ${String(err)}`)
            tally.reverted++
            return
          }
          const receipt = await client.waitForTransactionReceipt({ hash })
          assert.equal(receipt.status, 'success')
          tally.mined++
          mined.add(`${contract}.${fn.name}`)
          // an entry in an audit trail is someone's own only when it is the caller's own trail
          if (fn.name === 'logAccess') assert.equal(getAddress(args[1] as Address), outsider.account.address, 'an outsider wrote into another party\'s audit trail')
        }), { seed: SEED + index, numRuns: runs, endOnFailure: true })
      }
    }
    assert.equal(tally.calls, functions.length * (RUNS.fresh + RUNS.patient + RUNS.pendingDoctor))
    assert.deepEqual(await snapshot(), before, 'the outsider changed someone else\'s state')
    // Whatever went through is the outsider's own doing: its own sign-up, application, shares, reads.
    for (const name of mined) {
      assert.ok(['Registry.requestRegistration', 'Registry.applyForMembership', 'Registry.renounceRole', 'Consent.share', 'Consent.revokeShare', 'Consent.logAccess',
        // an outsider patient's own research consent to a hospital's studies, and its withdrawal
        'Research.giveHospitalConsent', 'Research.withdrawHospitalConsent',
        // an outsider patient's own grant to a care team (keyed by the patient: it reaches only that patient's records), and its revocation
        'Consent.grantTeam', 'Consent.revokeTeamGrant',
        // a leave to re-key, keyed by (record, sender): supersede asks for the record's own patient's, so an outsider's reaches nothing
        'RecordLedger.allowRekey'].includes(name), `${name} went through for an outsider`)
    }

    // The node that follows this chain is at its head, whatever the outsider's events were.
    const head = Number(await client.getBlockNumber({ cacheTime: 0 }))
    const after = await waitFor(async () => {
      const s = await status()
      return s.follow.lastBlock >= head ? s : undefined
    }, { timeoutMs: 60_000, everyMs: 200, what: 'the follower reaching the head after the outsider\'s calls' })
    assert.equal(after.follow.error, null)
    // And it still serves: the grantee reads under its grant (a read logged on chain from its own key).
    const read_ = await api.download(b.doctor.token, ids.records[0]!)
    assert.equal(read_.status, 200, JSON.stringify(read_.json))
    assert.equal(read_.bytes.toString('utf8'), 'clinical note')
    console.log(`outsider: ${tally.calls} calls to ${functions.length} functions, ${tally.reverted} reverted, ${tally.mined} mined (${[...mined].join(', ') || 'none'}); ${after.quarantinedEvents} events quarantined`)
  })
})
