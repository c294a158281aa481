// RecordLedger re-key (issue 13 item 2): a record's new version is anchored as superseding the
// old one, by its patient or by its author with the patient's leave (allowRekey). Exact custom
// errors and events, on a real anvil; old records anchored alone and in a batch.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { keccak256, zeroHash, type Address, type Hash, type Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { expectRevert, noFees, startTestChain, type TestChain, type Wallet } from '../helpers/test-chain.ts'
import { recordLedgerAbi, registryAbi } from '../../src/ledger/abis.ts'
import { leafHash, merkleTree, recordTypedData, type SignedLeaf } from '../../src/ledger/anchor-batch.ts'

const Role = { Staff: 1, Doctor: 2, Patient: 3 } as const
const X25519 = 1
const key = (label: string): Hex => keccak256(new TextEncoder().encode(label))
const randomId = (): Hex => generatePrivateKey()
type Fields = Omit<SignedLeaf, 'signature'>

describe('RecordLedger re-key', () => {
  let t: TestChain
  let registry: Address
  let ledger: Address
  const w: Record<string, Wallet> = {}
  const addr = (name: string): Address => w[name]!.account.address
  const gas: string[] = []

  const write = (by: string, functionName: string, args: readonly unknown[]): Promise<Hash> =>
    w[by]!.writeContract({ address: ledger, abi: recordLedgerAbi, functionName, args, ...noFees } as never)
  const eventsOf = (hash: Hash) => t.eventsOf(hash, recordLedgerAbi, ledger)
  const read = (functionName: string, args: readonly unknown[]) =>
    t.client.readContract({ address: ledger, abi: recordLedgerAbi, functionName, args } as never) as Promise<unknown>

  async function anchoredAlone(): Promise<Fields> {
    const leaf = { recordId: randomId(), patient: addr('patientA'), author: addr('doctorA'), hospital: addr('hospitalA'), digest: key(`d${Math.random()}`), envelopes: key(`e${Math.random()}`) }
    await eventsOf(await write('doctorA', 'anchor', [leaf.recordId, leaf.patient, leaf.hospital, leaf.digest, leaf.envelopes]))
    return leaf
  }
  const supersede = (by: string, old: Fields, newId: Hex, digest = key(`nd${Math.random()}`), envelopes = key(`ne${Math.random()}`), root: Hex = zeroHash, proof: Hex[] = [], signature: Hex = '0x') =>
    write(by, 'supersede', [old, root, proof, signature, newId, digest, envelopes])

  before(async () => {
    t = await startTestChain()
    for (const name of ['admin', 'hospitalA', 'doctorA', 'doctorB', 'patientA', 'stranger']) w[name] = t.newWallet()
    registry = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
    ledger = (await t.deploy(w.admin!, 'RecordLedger', [registry])).address
    const send = async (hash: Promise<Hex>) => assert.equal((await t.client.waitForTransactionReceipt({ hash: await hash })).status, 'success')
    await send(w.admin!.writeContract({ address: registry, abi: registryAbi, functionName: 'addHospital', args: [addr('hospitalA'), X25519, key('hospitalA')], ...noFees }))
    for (const [name, role] of [['doctorA', Role.Doctor], ['doctorB', Role.Doctor], ['patientA', Role.Patient]] as const) {
      await send(w.admin!.writeContract({ address: registry, abi: registryAbi, functionName: 'registerAccount', args: [addr(name), role, addr('hospitalA'), X25519, key(name)], ...noFees }))
    }
  })
  after(async () => {
    console.log(`gas used (receipt, including the 21000 base):\n  ${gas.join('\n  ')}`)
    await t?.stop()
  })

  test('the patient re-keys a record anchored alone: the new version is anchored, the old one points to it, once', async () => {
    const old = await anchoredAlone()
    const newId = randomId()
    const digest = key('new digest')
    const envelopes = key('new envelopes')
    const { gasUsed, events } = await eventsOf(await supersede('patientA', old, newId, digest, envelopes))
    gas.push(`supersede (patient, record anchored alone): ${gasUsed}`)
    assert.deepEqual(events, [
      { eventName: 'RecordAnchored', args: { recordId: newId, patient: old.patient, author: old.author, hospital: old.hospital, digest, envelopes } },
      { eventName: 'RecordSuperseded', args: { oldId: old.recordId, newId } },
    ])
    assert.equal(await read('supersededBy', [old.recordId]), newId)
    assert.equal(await read('supersededBy', [newId]), zeroHash)
    assert.equal(await read('checkAnchor', [newId, old.patient, old.author, old.hospital, digest, envelopes]), true)
    await expectRevert(supersede('patientA', old, randomId()), 'RecordLedgerAlreadySuperseded', [old.recordId, newId])
    // The new version can itself be re-keyed.
    const next = randomId()
    await eventsOf(await supersede('patientA', { ...old, recordId: newId, digest, envelopes }, next))
    assert.equal(await read('supersededBy', [newId]), next)
  })

  test('anyone else is refused, and the author only with the patient\'s leave, used up once', async () => {
    const old = await anchoredAlone()
    for (const by of ['doctorA', 'doctorB', 'hospitalA', 'admin', 'stranger']) {
      await expectRevert(supersede(by, old, randomId()), 'RecordLedgerNotRekeyer', [addr(by)])
    }
    // A leave given by someone else than the patient counts for nothing.
    await eventsOf(await write('doctorA', 'allowRekey', [old.recordId]))
    await expectRevert(supersede('doctorA', old, randomId()), 'RecordLedgerNotRekeyer', [addr('doctorA')])

    const allowed = await eventsOf(await write('patientA', 'allowRekey', [old.recordId]))
    gas.push(`allowRekey: ${allowed.gasUsed}`)
    assert.deepEqual(allowed.events, [{ eventName: 'RekeyAllowed', args: { recordId: old.recordId, patient: addr('patientA') } }])
    assert.equal(await read('rekeyAllowed', [old.recordId, addr('patientA')]), true)
    await expectRevert(supersede('doctorB', old, randomId()), 'RecordLedgerNotRekeyer', [addr('doctorB')])
    const newId = randomId()
    const { gasUsed, events } = await eventsOf(await supersede('doctorA', old, newId))
    gas.push(`supersede (author with leave): ${gasUsed}`)
    assert.deepEqual(events.map(e => e.eventName), ['RecordAnchored', 'RecordSuperseded'])
    assert.equal(await read('rekeyAllowed', [old.recordId, addr('patientA')]), false)
    await expectRevert(write('patientA', 'allowRekey', [zeroHash]), 'RecordLedgerInvalidRecord')
  })

  test('the old record must be anchored with exactly the fields given; ids and digests non-zero; a new id never reused', async () => {
    const old = await anchoredAlone()
    for (const wrong of [{ digest: key('other') }, { author: addr('doctorB') }, { envelopes: key('other') }, { recordId: randomId() }]) {
      const fields = { ...old, ...wrong }
      await expectRevert(supersede('patientA', fields, randomId()), 'RecordLedgerNotAnchored', [fields.recordId])
    }
    await expectRevert(supersede('patientA', old, zeroHash), 'RecordLedgerInvalidRecord')
    await expectRevert(supersede('patientA', old, randomId(), zeroHash), 'RecordLedgerInvalidRecord')
    await expectRevert(supersede('patientA', old, randomId(), key('d'), zeroHash), 'RecordLedgerInvalidRecord')
    const taken = await anchoredAlone()
    await expectRevert(supersede('patientA', old, taken.recordId), 'RecordLedgerAlreadyAnchored', [taken.recordId])
  })

  test('a batched record is named by its root, proof and author signature', async () => {
    const sign = async (by: string, f: Omit<Fields, 'author'>): Promise<SignedLeaf> => {
      const typed = recordTypedData({ chainId: t.chain.id, contracts: { registry, recordLedger: ledger, consent: registry } }, f)
      return { ...f, author: addr(by), signature: await w[by]!.account.signTypedData!(typed) }
    }
    const fields = () => ({ recordId: randomId(), patient: addr('patientA'), hospital: addr('hospitalA'), digest: key(`bd${Math.random()}`), envelopes: key(`be${Math.random()}`) })
    const leaves = [await sign('doctorA', fields()), await sign('doctorA', fields()), await sign('stranger', fields())]
    const { root, proofs } = merkleTree(leaves.map(leafHash))
    await eventsOf(await write('hospitalA', 'anchorBatch', [root, key('manifest'), 3n]))
    const { signature, ...first } = leaves[0]!
    await expectRevert(supersede('patientA', first, randomId(), key('d'), key('e'), root, proofs[1]!, signature), 'RecordLedgerInvalidProof', [leafHash(leaves[0]!)])
    const unknown = randomId()
    await expectRevert(supersede('patientA', first, randomId(), key('d'), key('e'), unknown, proofs[0]!, signature), 'RecordLedgerUnknownRoot', [unknown])
    const newId = randomId()
    const { gasUsed, events } = await eventsOf(await supersede('patientA', first, newId, key('d'), key('e'), root, proofs[0]!, signature))
    gas.push(`supersede (patient, batched record): ${gasUsed}`)
    assert.deepEqual(events[1], { eventName: 'RecordSuperseded', args: { oldId: first.recordId, newId } })

    // A leaf signed by someone who is no doctor of the hospital: the patient's leave does not make its "author" a re-keyer.
    const { signature: sig3, ...third } = leaves[2]!
    await eventsOf(await write('patientA', 'allowRekey', [third.recordId]))
    await expectRevert(supersede('stranger', third, randomId(), key('d'), key('e'), root, proofs[2]!, sig3), 'RecordLedgerNotRekeyer', [addr('stranger')])
  })

  test('an erased record cannot be re-keyed', async () => {
    const old = await anchoredAlone()
    const erasureId = randomId()
    await eventsOf(await write('patientA', 'requestErasure', [erasureId, old, zeroHash, [], '0x', key('why')]))
    await eventsOf(await write('admin', 'confirmErasure', [erasureId]))
    await expectRevert(supersede('patientA', old, randomId()), 'RecordLedgerRecordErased', [old.recordId])
  })
})
