import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { keccak256, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { expectRevert, noFees, startTestChain, type TestChain, type Wallet } from '../helpers/test-chain.ts'
import { recordLedgerAbi, registryAbi } from '../../src/ledger/abis.ts'
import { leafHash, merkleTree, processProof, recordTypedData, type SignedLeaf } from '../../src/ledger/anchor-batch.ts'

const Role = { Doctor: 2, Patient: 3 } as const
const X25519 = 1
const key = (label: string): Hex => keccak256(new TextEncoder().encode(`public key of ${label}`))
const randomId = (): Hex => generatePrivateKey()

// RecordLedger's batch anchors (issue 14 item 2): roots from member hospitals only, leaves
// checked on chain with their proof, their root's hospital and their author's EIP-712 signature.
describe('RecordLedger batches', () => {
  let t: TestChain
  let registry: Address
  let ledger: Address
  const w: Record<string, Wallet> = {}
  const addr = (name: string): Address => w[name]!.account.address

  const sign = async (by: string, f: Omit<SignedLeaf, 'author' | 'signature'>): Promise<SignedLeaf> => {
    const typed = recordTypedData({ chainId: t.chain.id, contracts: { registry, recordLedger: ledger, consent: registry } }, f)
    return { ...f, author: addr(by), signature: await w[by]!.account.signTypedData!(typed) }
  }
  const leafOf = (by: string, patient = 'patientA', hospital = 'hospitalA') =>
    sign(by, { recordId: randomId(), patient: addr(patient), hospital: addr(hospital), digest: key(`d${Math.random()}`), envelopes: key(`e${Math.random()}`) })
  const anchorBatch = (by: string, root: Hex, manifest: Hex, count: bigint) =>
    w[by]!.writeContract({ address: ledger, abi: recordLedgerAbi, functionName: 'anchorBatch', args: [root, manifest, count], ...noFees })
  const checkLeaf = (root: Hex, proof: readonly Hex[], leaf: SignedLeaf) => {
    const { signature, ...fields } = leaf
    return t.client.readContract({ address: ledger, abi: recordLedgerAbi, functionName: 'checkLeaf', args: [root, proof, fields, signature] })
  }
  const gas: string[] = []

  before(async () => {
    t = await startTestChain()
    for (const name of ['admin', 'hospitalA', 'hospitalB', 'doctorA', 'doctorB', 'patientA', 'patientB', 'stranger']) w[name] = t.newWallet()
    registry = (await t.deploy(w.admin!, 'Registry', [addr('admin')])).address
    ledger = (await t.deploy(w.admin!, 'RecordLedger', [registry])).address
    const send = async (hash: Promise<Hex>) => assert.equal((await t.client.waitForTransactionReceipt({ hash: await hash })).status, 'success')
    for (const h of ['hospitalA', 'hospitalB']) {
      await send(w.admin!.writeContract({ address: registry, abi: registryAbi, functionName: 'addHospital', args: [addr(h), X25519, key(h)], ...noFees }))
    }
    for (const [name, role, hospital] of [['doctorA', Role.Doctor, 'hospitalA'], ['patientA', Role.Patient, 'hospitalA'], ['doctorB', Role.Doctor, 'hospitalB'], ['patientB', Role.Patient, 'hospitalB']] as const) {
      await send(w.admin!.writeContract({ address: registry, abi: registryAbi, functionName: 'registerAccount', args: [addr(name), role, addr(hospital), X25519, key(name)], ...noFees }))
    }
  })

  after(async () => {
    console.log(`gas used (receipt, including the 21000 base):\n  ${gas.join('\n  ')}`)
    await t?.stop()
  })

  test('the EIP-712 digest and the leaf hash are the same on and off chain', async () => {
    const leaf = await leafOf('doctorA')
    const { signature, ...fields } = leaf
    assert.equal(await t.client.readContract({ address: ledger, abi: recordLedgerAbi, functionName: 'leafHash', args: [fields, signature] }), leafHash(leaf))
    const onChain = await t.client.readContract({
      address: ledger, abi: recordLedgerAbi, functionName: 'recordTypedDataHash', args: [leaf.recordId, leaf.patient, leaf.hospital, leaf.digest, leaf.envelopes],
    })
    const { hashTypedData } = await import('viem')
    assert.equal(onChain, hashTypedData(recordTypedData({ chainId: t.chain.id, contracts: { registry, recordLedger: ledger, consent: registry } }, leaf)))
  })

  test('a hospital anchors 100 records under one root; each leaf checks with its proof; ≤ 1,000 gas per record', async () => {
    const leaves: SignedLeaf[] = []
    for (let i = 0; i < 100; i++) leaves.push(await leafOf('doctorA'))
    const { root, proofs } = merkleTree(leaves.map(leafHash))
    const manifest = key('manifest of 100')
    const { gasUsed, events } = await t.eventsOf(await anchorBatch('hospitalA', root, manifest, 100n), recordLedgerAbi, ledger)
    gas.push(`anchorBatch of 100: ${gasUsed} (${gasUsed / 100n} per record)`)
    assert.deepEqual(events, [{ eventName: 'BatchAnchored', args: { root, hospital: addr('hospitalA'), manifest, count: 100n } }])
    assert.ok(gasUsed / 100n <= 1_000n, `${gasUsed / 100n} gas per record`)
    const info = await t.client.readContract({ address: ledger, abi: recordLedgerAbi, functionName: 'rootOf', args: [root] })
    const block = await t.client.getBlock({ blockTag: 'latest' })
    assert.deepEqual(info, { hospital: addr('hospitalA'), blockNumber: block.number, time: Number(block.timestamp) })
    for (const i of [0, 1, 37, 98, 99]) {
      assert.equal(processProof(leafHash(leaves[i]!), proofs[i]!), root)
      assert.equal(await checkLeaf(root, proofs[i]!, leaves[i]!), true)
    }
    // A proof of another leaf, a tampered field, or a signature over other fields: refused.
    await expectRevert(checkLeaf(root, proofs[1]!, leaves[0]!), 'RecordLedgerInvalidProof', [leafHash(leaves[0]!)])
    const tampered = { ...leaves[0]!, digest: key('tampered') }
    await expectRevert(checkLeaf(root, proofs[0]!, tampered), 'RecordLedgerInvalidProof', [leafHash(tampered)])
  })

  test('a root of one costs ≤ 60,000 gas and its leaf checks with an empty proof', async () => {
    const leaf = await leafOf('doctorA')
    const root = leafHash(leaf)
    const { gasUsed } = await t.eventsOf(await anchorBatch('hospitalA', root, key('manifest of 1'), 1n), recordLedgerAbi, ledger)
    gas.push(`anchorBatch of 1: ${gasUsed}`)
    assert.ok(gasUsed <= 60_000n, `${gasUsed} gas`)
    assert.equal(await checkLeaf(root, [], leaf), true)
    await expectRevert(anchorBatch('hospitalA', root, key('again'), 1n), 'RecordLedgerRootExists', [root])
    await expectRevert(anchorBatch('hospitalB', root, key('again'), 1n), 'RecordLedgerRootExists', [root])
  })

  test('only a member hospital anchors a root, and only a well-formed one', async () => {
    const root = randomId()
    for (const by of ['doctorA', 'patientA', 'admin', 'stranger']) {
      await expectRevert(anchorBatch(by, root, key('m'), 1n), 'RecordLedgerNotMember', [addr(by)])
    }
    await expectRevert(anchorBatch('hospitalA', zeroHash, key('m'), 1n), 'RecordLedgerInvalidBatch')
    await expectRevert(anchorBatch('hospitalA', root, zeroHash, 1n), 'RecordLedgerInvalidBatch')
    await expectRevert(anchorBatch('hospitalA', root, key('m'), 0n), 'RecordLedgerInvalidBatch')
  })

  test('a node account can only anchor records signed by active doctors of its own hospital, for its patients', async () => {
    const forged = { ...(await leafOf('doctorA')), author: addr('doctorA') }
    const signedByStranger = await leafOf('stranger')
    const otherHospitalsDoctor = await leafOf('doctorB', 'patientB', 'hospitalB')
    const wrongPatient = await leafOf('doctorA', 'patientB', 'hospitalA')
    const claimedAuthor = { ...signedByStranger, author: addr('doctorA') }
    forged.signature = (await leafOf('doctorA')).signature // a real signature of doctorA, over other fields
    const leaves = [forged, signedByStranger, otherHospitalsDoctor, wrongPatient, claimedAuthor, { ...(await leafOf('doctorA')), signature: '0x1234' as Hex }]
    const { root, proofs } = merkleTree(leaves.map(leafHash))
    await t.eventsOf(await anchorBatch('hospitalA', root, key('hostile'), BigInt(leaves.length)), recordLedgerAbi, ledger)
    await expectRevert(checkLeaf(root, proofs[0]!, forged), 'RecordLedgerInvalidSignature', [forged.recordId])
    await expectRevert(checkLeaf(root, proofs[1]!, signedByStranger), 'RecordLedgerUnauthorized', [addr('stranger')])
    await expectRevert(checkLeaf(root, proofs[2]!, otherHospitalsDoctor), 'RecordLedgerWrongHospital', [addr('hospitalB')])
    await expectRevert(checkLeaf(root, proofs[3]!, wrongPatient), 'RecordLedgerUnknownPatient', [addr('patientB')])
    await expectRevert(checkLeaf(root, proofs[4]!, claimedAuthor), 'RecordLedgerInvalidSignature', [claimedAuthor.recordId])
    await expectRevert(checkLeaf(root, proofs[5]!, leaves[5]!), 'RecordLedgerInvalidSignature', [leaves[5]!.recordId])
  })

  test('checkLeaf refuses an unknown root and zero record fields', async () => {
    const leaf = await leafOf('doctorA')
    const unknown = randomId()
    await expectRevert(checkLeaf(unknown, [], leaf), 'RecordLedgerUnknownRoot', [unknown])
    for (const field of ['recordId', 'digest', 'envelopes'] as const) {
      await expectRevert(checkLeaf(leafHash(leaf), [], { ...leaf, [field]: zeroHash }), 'RecordLedgerInvalidRecord')
    }
  })
})
