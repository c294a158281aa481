// RecordLedger erasure (issue 13 item 3): the patient asks, staff of the record's hospital (or
// the admin) confirm or reject; a confirmed erasure leaves a tombstone. Exact custom errors and
// events, on a real anvil; records anchored alone and in a batch.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { keccak256, zeroHash, type Address, type Hash, type Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { expectRevert, noFees, startTestChain, type TestChain, type Wallet } from '../helpers/test-chain.ts'
import { recordLedgerAbi, registryAbi } from '../../src/ledger/abis.ts'
import { leafHash, merkleTree, recordTypedData, type SignedLeaf } from '../../src/ledger/anchor-batch.ts'

const Role = { Staff: 1, Doctor: 2, Patient: 3 } as const
const Erasure = { None: 0, Pending: 1, Confirmed: 2, Rejected: 3 } as const
const X25519 = 1
const key = (label: string): Hex => keccak256(new TextEncoder().encode(label))
const randomId = (): Hex => generatePrivateKey()

describe('RecordLedger erasure', () => {
  let t: TestChain
  let registry: Address
  let ledger: Address
  const w: Record<string, Wallet> = {}
  const addr = (name: string): Address => w[name]!.account.address
  const gas: string[] = []

  const write = (by: string, functionName: string, args: readonly unknown[]): Promise<Hash> =>
    w[by]!.writeContract({ address: ledger, abi: recordLedgerAbi, functionName, args, ...noFees } as never)
  const eventsOf = (hash: Hash) => t.eventsOf(hash, recordLedgerAbi, ledger)
  const erasureOf = (id: Hex) => t.client.readContract({ address: ledger, abi: recordLedgerAbi, functionName: 'erasureOf', args: [id] })
  const isErased = (id: Hex) => t.client.readContract({ address: ledger, abi: recordLedgerAbi, functionName: 'isErased', args: [id] })

  /** A record of patientA anchored alone by doctorA; its leaf as requestErasure takes it. */
  async function anchoredAlone(): Promise<Omit<SignedLeaf, 'signature'>> {
    const leaf = { recordId: randomId(), patient: addr('patientA'), author: addr('doctorA'), hospital: addr('hospitalA'), digest: key(`d${Math.random()}`), envelopes: key(`e${Math.random()}`) }
    await eventsOf(await write('doctorA', 'anchor', [leaf.recordId, leaf.patient, leaf.hospital, leaf.digest, leaf.envelopes]))
    return leaf
  }
  const request = (by: string, erasureId: Hex, leaf: Omit<SignedLeaf, 'signature'>, reason = key('reason'), root: Hex = zeroHash, proof: Hex[] = [], signature: Hex = '0x') =>
    write(by, 'requestErasure', [erasureId, leaf, root, proof, signature, reason])

  before(async () => {
    t = await startTestChain()
    for (const name of ['admin', 'hospitalA', 'hospitalB', 'staffA', 'staffB', 'doctorA', 'patientA', 'patientB', 'stranger']) w[name] = t.newWallet()
    registry = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
    ledger = (await t.deploy(w.admin!, 'RecordLedger', [registry])).address
    const send = async (hash: Promise<Hex>) => assert.equal((await t.client.waitForTransactionReceipt({ hash: await hash })).status, 'success')
    for (const h of ['hospitalA', 'hospitalB']) {
      await send(w.admin!.writeContract({ address: registry, abi: registryAbi, functionName: 'addHospital', args: [addr(h), X25519, key(h)], ...noFees }))
    }
    for (const [name, role, hospital] of [['staffA', Role.Staff, 'hospitalA'], ['staffB', Role.Staff, 'hospitalB'], ['doctorA', Role.Doctor, 'hospitalA'], ['patientA', Role.Patient, 'hospitalA'], ['patientB', Role.Patient, 'hospitalB']] as const) {
      await send(w.admin!.writeContract({ address: registry, abi: registryAbi, functionName: 'registerAccount', args: [addr(name), role, addr(hospital), X25519, key(name)], ...noFees }))
    }
  })
  after(async () => {
    console.log(`gas used (receipt, including the 21000 base):\n  ${gas.join('\n  ')}`)
    await t?.stop()
  })

  test('only the record\'s patient asks, for a record anchored with exactly these fields', async () => {
    const leaf = await anchoredAlone()
    for (const by of ['patientB', 'doctorA', 'staffA', 'admin', 'hospitalA', 'stranger']) await expectRevert(request(by, randomId(), leaf), 'RecordLedgerNotPatient', [addr(by)])
    // patientB naming itself as the patient of A's record: the fields are not what was anchored
    await expectRevert(request('patientB', randomId(), { ...leaf, patient: addr('patientB') }), 'RecordLedgerUnknownRecord', [leaf.recordId])
    await expectRevert(request('patientA', randomId(), { ...leaf, digest: key('other') }), 'RecordLedgerUnknownRecord', [leaf.recordId])
    const unanchored = { ...leaf, recordId: randomId() }
    await expectRevert(request('patientA', randomId(), unanchored), 'RecordLedgerUnknownRecord', [unanchored.recordId])
    await expectRevert(request('patientA', zeroHash, leaf), 'RecordLedgerInvalidErasure')
    await expectRevert(request('patientA', randomId(), leaf, zeroHash), 'RecordLedgerInvalidErasure')
    assert.equal(await isErased(leaf.recordId), false)
  })

  test('a request is pending until staff of the record\'s hospital (or the admin) decide; rejection leaves the record', async () => {
    const leaf = await anchoredAlone()
    const erasureId = randomId()
    const requested = await eventsOf(await request('patientA', erasureId, leaf, key('why')))
    gas.push(`requestErasure (record anchored alone): ${requested.gasUsed}`)
    assert.deepEqual(requested.events, [{ eventName: 'ErasureRequested', args: { erasureId, recordId: leaf.recordId, patient: addr('patientA'), hospital: addr('hospitalA'), reasonHash: key('why') } }])
    assert.deepEqual(await erasureOf(erasureId), { recordId: leaf.recordId, patient: addr('patientA'), hospital: addr('hospitalA'), status: Erasure.Pending })
    await expectRevert(request('patientA', erasureId, leaf), 'RecordLedgerErasureExists', [erasureId])
    await expectRevert(request('patientA', randomId(), leaf), 'RecordLedgerErasurePending', [leaf.recordId])

    for (const by of ['patientA', 'doctorA', 'staffB', 'hospitalA', 'stranger']) {
      await expectRevert(write(by, 'confirmErasure', [erasureId]), 'RecordLedgerNotStaff', [addr(by)])
      await expectRevert(write(by, 'rejectErasure', [erasureId, key('no')]), 'RecordLedgerNotStaff', [addr(by)])
    }
    await expectRevert(write('staffA', 'rejectErasure', [erasureId, zeroHash]), 'RecordLedgerInvalidErasure')
    const unknown = randomId()
    await expectRevert(write('staffA', 'confirmErasure', [unknown]), 'RecordLedgerUnknownErasure', [unknown])

    const rejected = await eventsOf(await write('staffA', 'rejectErasure', [erasureId, key('retention')]))
    gas.push(`rejectErasure: ${rejected.gasUsed}`)
    assert.deepEqual(rejected.events, [{ eventName: 'ErasureRejected', args: { erasureId, recordId: leaf.recordId, by: addr('staffA'), reasonHash: key('retention') } }])
    assert.equal((await erasureOf(erasureId)).status, Erasure.Rejected)
    assert.equal(await isErased(leaf.recordId), false)
    await expectRevert(write('staffA', 'confirmErasure', [erasureId]), 'RecordLedgerErasureDecided', [erasureId])

    // a new request after a rejection; confirmed by staff of the hospital
    const again = randomId()
    await eventsOf(await request('patientA', again, leaf))
    const confirmed = await eventsOf(await write('staffA', 'confirmErasure', [again]))
    gas.push(`confirmErasure: ${confirmed.gasUsed}`)
    assert.deepEqual(confirmed.events, [
      { eventName: 'ErasureConfirmed', args: { erasureId: again, recordId: leaf.recordId, by: addr('staffA') } },
      { eventName: 'RecordErased', args: { recordId: leaf.recordId } },
    ])
    assert.equal(await isErased(leaf.recordId), true)
    assert.equal((await erasureOf(again)).status, Erasure.Confirmed)
    await expectRevert(write('staffA', 'rejectErasure', [again, key('late')]), 'RecordLedgerErasureDecided', [again])
    await expectRevert(request('patientA', randomId(), leaf), 'RecordLedgerRecordErased', [leaf.recordId])
  })

  test('the admin decides too', async () => {
    const leaf = await anchoredAlone()
    const erasureId = randomId()
    await eventsOf(await request('patientA', erasureId, leaf))
    const { events } = await eventsOf(await write('admin', 'confirmErasure', [erasureId]))
    assert.deepEqual(events.map((e) => e.eventName), ['ErasureConfirmed', 'RecordErased'])
    assert.equal(await isErased(leaf.recordId), true)
  })

  test('a batched record is named by its leaf, its proof and its root', async () => {
    const sign = async (f: Omit<SignedLeaf, 'author' | 'signature'>): Promise<SignedLeaf> => {
      const typed = recordTypedData({ chainId: t.chain.id, contracts: { registry, recordLedger: ledger, consent: registry } }, f)
      return { ...f, author: addr('doctorA'), signature: await w.doctorA!.account.signTypedData!(typed) }
    }
    const leaves: SignedLeaf[] = []
    for (let i = 0; i < 3; i++) leaves.push(await sign({ recordId: randomId(), patient: addr('patientA'), hospital: addr('hospitalA'), digest: key(`bd${i}`), envelopes: key(`be${i}`) }))
    const { root, proofs } = merkleTree(leaves.map(leafHash))
    assert.equal((await t.client.waitForTransactionReceipt({ hash: await w.hospitalA!.writeContract({ address: ledger, abi: recordLedgerAbi, functionName: 'anchorBatch', args: [root, key('manifest'), 3n], ...noFees }) })).status, 'success')
    const { signature, ...fields } = leaves[1]!
    await expectRevert(request('patientA', randomId(), fields, key('r'), root, proofs[0]!, signature), 'RecordLedgerUnknownRecord', [fields.recordId])
    await expectRevert(request('patientA', randomId(), { ...fields, hospital: addr('hospitalB') }, key('r'), root, proofs[1]!, signature), 'RecordLedgerUnknownRecord', [fields.recordId])
    const erasureId = randomId()
    const requested = await eventsOf(await request('patientA', erasureId, fields, key('r'), root, proofs[1]!, signature))
    gas.push(`requestErasure (batched record): ${requested.gasUsed}`)
    assert.deepEqual(requested.events.map((e) => e.eventName), ['ErasureRequested'])
    await eventsOf(await write('staffA', 'confirmErasure', [erasureId]))
    assert.equal(await isErased(fields.recordId), true)
    assert.equal(await isErased(leaves[0]!.recordId), false, 'only the named record')
  })
})
