import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createWalletClient, encodeFunctionData, http, parseEventLogs, type Hex, type LocalAccount } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { recordLedgerAbi } from '../../src/ledger/abis.ts'
import { leafHash, merkleTree, processProof, recordTypedData, type SignedLeaf } from '../../src/ledger/anchor-batch.ts'
import { unlockHospital } from '../../src/accounts/hospital-keys.ts'
import { putRawBlock } from '../../src/storage/raw-block.ts'
import { digestFromCid } from '../../src/storage/read-verified.ts'
import { encodeBatchManifest } from '../../src/records/batch-manifest.ts'
import { applyAnchoredBatch } from '../../src/records/apply-anchored-batch.ts'
import { insertRecord } from '../../src/records/insert-record.ts'
import { authenticate } from '../../src/accounts/sessions.ts'
import { requireKeys } from '../../src/accounts/account.ts'
import { isAppError } from '../../src/errors.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { seed } from '../helpers/node-process.ts'
import { noFees } from '../helpers/test-chain.ts'

// Group-committed anchors on one node (issue 14 item 2): uploads that arrive while an anchor is
// in flight share one Merkle root; read and verify check leaf, proof, root and signature on chain;
// a batch's records are learnt from its event and manifest; a hostile batch is quarantined.

interface ProofRow { record_id: Hex; root: Hex; proof: string; signature: Hex; manifest: Hex }

describe('group-committed anchors', () => {
  let n: InProcessNode
  let api: InjectApi
  let people: Awaited<ReturnType<typeof seed>>
  const uploaded = new Map<string, Buffer>()
  const s = () => n.node.services
  const proofs = () => s().db.all<ProofRow>('SELECT * FROM record_proofs ORDER BY root, record_id')
  const verify = (body: object) => api.json('POST', '/verify', body, people.admin)

  before(async () => {
    n = await startInProcessNode()
    api = new InjectApi(n.app, n.url)
    people = await seed(api)
  })
  after(async () => {
    await n?.stop()
  })

  test('uploads arriving while an anchor is in flight go together as one root, each with its proof', async () => {
    const files = Array.from({ length: 16 }, (_, i) => randomBytes(20_000 + i))
    const ups = await Promise.all(files.map((bytes, i) => api.upload(people.doctor.token, people.patient.email, `b${i}.bin`, bytes)))
    ups.forEach((up, i) => {
      assert.equal(up.status, 201, JSON.stringify(up.body))
      uploaded.set(up.body.recordId, files[i]!)
    })
    const rows = await proofs()
    assert.ok(rows.length >= 2, `at least one batch of several records (${rows.length} batched)`)
    const roots = new Set(rows.map((r) => r.root))
    const batchTxs = await s().db.all<{ ref: Hex; state: string }>(`SELECT ref, state FROM journal WHERE purpose = 'anchor-batch'`)
    assert.deepEqual(new Set(batchTxs.map((t) => t.ref)), roots, 'one journaled transaction per root')
    assert.ok(batchTxs.every((t) => t.state === 'mined'))
    const lone = await s().db.all(`SELECT ref FROM journal WHERE purpose = 'anchor'`)
    assert.equal(lone.length + rows.length, 16, 'every record anchored alone or in a batch, once')
    assert.ok(lone.length + roots.size < 16, 'fewer transactions than records')
    console.log(`16 concurrent uploads: ${lone.length} anchored alone, ${rows.length} in ${roots.size} root(s)`)

    for (const row of rows) {
      const rec = (await s().db.get<{ patient: Hex; author: Hex; hospital: Hex; digest: Hex; envelopes: Hex; block_number: number }>(`SELECT a.address AS patient, b.address AS author,
        h.address AS hospital, r.digest, r.envelopes, r.block_number FROM records r JOIN accounts a ON a.id = r.patient_id JOIN accounts b ON b.id = r.author_id
        JOIN hospitals h ON h.id = r.hospital_id WHERE r.record_id = ?`, row.record_id))!
      assert.equal(rec.hospital.toLowerCase(), people.hospital.address.toLowerCase())
      const leaf: SignedLeaf = { recordId: row.record_id, patient: rec.patient, author: rec.author, hospital: rec.hospital, digest: rec.digest, envelopes: rec.envelopes, signature: row.signature }
      assert.equal(processProof(leafHash(leaf), JSON.parse(row.proof) as Hex[]), row.root)
      const info = await s().ledger.client.readContract({ address: s().ledger.contracts.recordLedger, abi: recordLedgerAbi, functionName: 'rootOf', args: [row.root] })
      assert.equal(info.hospital.toLowerCase(), people.hospital.address.toLowerCase())
      assert.equal(Number(info.blockNumber), rec.block_number, 'the record is anchored in its root\'s block')
    }
    for (const [id, bytes] of uploaded) {
      const got = await api.download(people.patient.token, id)
      assert.equal(got.status, 200)
      assert.ok(got.bytes.equals(bytes))
    }
    const all = await verify({ all: true })
    assert.equal(all.status, 200)
    assert.deepEqual([all.body.checked, all.body.mismatches], [16, []])
    // verify names the root of each record anchored in a batch, and none for one anchored alone
    const rootOf = new Map(rows.map((r) => [r.record_id, r.root]))
    for (const r of all.body.results) assert.equal(r.root, rootOf.get(r.recordId))

    // The patient's trail shows every record's anchoring, batched or alone, by its author.
    const trail = await api.json('GET', `/audit?patient=${encodeURIComponent(people.patient.email)}`, undefined, people.patient.token)
    assert.equal(trail.status, 200, JSON.stringify(trail.body))
    const anchored = (trail.body.entries as { event: string; recordId: string; actor: { address: string }; txHash: string }[]).filter((e) => e.event === 'RecordAnchored')
    assert.deepEqual(anchored.map((e) => e.recordId.toLowerCase()).sort(), [...uploaded.keys()].map((id) => id.toLowerCase()).sort())
    for (const e of anchored) assert.equal(e.actor.address.toLowerCase(), people.doctor.address.toLowerCase())
    const batchedTx = await s().db.all<{ tx_hash: string }>('SELECT r.tx_hash FROM records r JOIN record_proofs p ON p.record_id = r.record_id')
    assert.ok(batchedTx.every((r) => anchored.some((e) => e.txHash === r.tx_hash)), 'a batched record\'s entry is its root\'s transaction')
  })

  test('verify and read refuse a batched record whose proof or signature no longer holds', async () => {
    const [a, b] = await proofs()
    const tamper = async (column: 'proof' | 'signature', value: string) => {
      await s().db.run(`UPDATE record_proofs SET ${column} = ? WHERE record_id = ?`, value, a!.record_id)
      const v = await verify({ recordIds: [a!.record_id] })
      assert.equal(v.body.mismatches.length, 1)
      assert.equal(v.body.mismatches[0].problem, 'RECORD_INTEGRITY')
      const read = await api.download(people.patient.token, a!.record_id)
      assert.equal(read.status, 409)
      assert.equal(read.json?.code, 'RECORD_INTEGRITY')
    }
    await tamper('proof', b!.proof === a!.proof ? '[]' : b!.proof)
    await s().db.run('UPDATE record_proofs SET proof = ? WHERE record_id = ?', a!.proof, a!.record_id)
    await tamper('signature', b!.signature)
    await s().db.run('UPDATE record_proofs SET signature = ? WHERE record_id = ?', a!.signature, a!.record_id)
    const v = await verify({ recordIds: [a!.record_id] })
    assert.deepEqual(v.body.mismatches, [])
  })

  test('a node learns a batch\'s records from its event and manifest, with their proofs', async () => {
    const rows = await proofs()
    const root = rows[0]!.root
    const members = rows.filter((r) => r.root === root)
    const tx = (await s().db.get<{ tx_hash: Hex }>(`SELECT tx_hash FROM journal WHERE ref = ? AND purpose = 'anchor-batch'`, root))!.tx_hash
    const receipt = await s().ledger.client.getTransactionReceipt({ hash: tx })
    const [event] = parseEventLogs({ abi: recordLedgerAbi, logs: receipt.logs, eventName: 'BatchAnchored' })
    const held = await s().db.all('SELECT * FROM records WHERE record_id IN (' + members.map(() => '?').join(', ') + ')', ...members.map((m) => m.record_id))
    // As a node that never held them: the rows go, and the event brings them back.
    for (const m of members) {
      await s().db.run('DELETE FROM record_proofs WHERE record_id = ?', m.record_id)
      await s().db.run('DELETE FROM records WHERE record_id = ?', m.record_id)
    }
    const learnt = await applyAnchoredBatch(s(), {
      root: event!.args.root, hospital: event!.args.hospital, manifest: event!.args.manifest, count: Number(event!.args.count),
      txHash: tx, blockNumber: Number(receipt.blockNumber), fetchMs: 5_000,
    })
    assert.deepEqual(learnt.map((r) => r.recordId).sort(), members.map((m) => m.record_id).sort())
    assert.deepEqual(await proofs(), rows, 'the same proofs, signatures and manifest')
    for (const m of members) {
      const row = await s().db.get<{ state: string; digest: Hex; block_number: number; tx_hash: Hex }>('SELECT * FROM records WHERE record_id = ?', m.record_id)
      const before = held.find((h) => (h as { record_id: Hex }).record_id === m.record_id) as { digest: Hex; block_number: number; tx_hash: Hex }
      assert.deepEqual([row!.state, row!.digest, row!.block_number, row!.tx_hash], ['anchored', before.digest, before.block_number, before.tx_hash])
    }
    const v = await verify({ recordIds: members.map((m) => m.record_id) })
    assert.deepEqual(v.body.mismatches, [])
  })

  test('a batch whose manifest or leaves do not hold is quarantined and inserts nothing', async () => {
    const { keys } = await unlockHospital(s(), people.hospital.id)
    const wallet = createWalletClient({ account: keys.ledger, transport: http(s().ledger.rpcUrl) })
    const ledger = s().ledger
    const sendBatch = async (root: Hex, manifest: Hex, count: number) => {
      const hash = await wallet.sendTransaction({
        chain: null, to: ledger.contracts.recordLedger, ...noFees,
        data: encodeFunctionData({ abi: recordLedgerAbi, functionName: 'anchorBatch', args: [root, manifest, BigInt(count)] }),
      })
      assert.equal((await ledger.client.waitForTransactionReceipt({ hash })).status, 'success')
      return hash
    }
    const put = async (bytes: Uint8Array): Promise<Hex> => `0x${Buffer.from(digestFromCid(await putRawBlock(s().ipfs, bytes))).toString('hex')}`
    const fields = () => ({
      recordId: generatePrivateKey(), patient: people.patient.address, hospital: people.hospital.address,
      digest: generatePrivateKey(), envelopes: generatePrivateKey(),
    })
    // The node's own hospital account, but a leaf signed by a key that is no doctor.
    const stranger = privateKeyToAccount(generatePrivateKey())
    const f1 = fields()
    const unsigned: SignedLeaf = { ...f1, author: stranger.address, signature: await stranger.signTypedData(recordTypedData(ledger, f1)) }
    const f2 = fields()
    const doctorKey = (await s().db.get<{ address: Hex }>('SELECT address FROM accounts WHERE id = ?', people.doctor.id))!.address
    const claimed: SignedLeaf = { ...f2, author: doctorKey, signature: unsigned.signature }
    const bad = [unsigned, claimed]
    const tree = merkleTree(bad.map(leafHash))
    const hostile = [
      await sendBatch(tree.root, await put(encodeBatchManifest({ root: tree.root, leaves: bad })), bad.length),
      // A manifest that does not match the root it is anchored with.
      await sendBatch(generatePrivateKey(), await put(encodeBatchManifest({ root: tree.root, leaves: bad })), bad.length),
      // Not a manifest at all.
      await sendBatch(generatePrivateKey(), await put(new TextEncoder().encode('{"version":1}')), 1),
    ]
    const follower = s().consortium!.follower
    const deadline = Date.now() + 60_000
    let quarantined: { txHash?: string; eventName?: string; reason?: string }[] = []
    while (Date.now() < deadline) {
      quarantined = (await follower.quarantined()) as typeof quarantined
      if (hostile.every((h) => quarantined.some((q) => q.txHash === h))) break
      await new Promise((r) => setTimeout(r, 100))
    }
    for (const h of hostile) {
      const q = quarantined.find((e) => e.txHash === h)
      assert.ok(q, `batch ${h} quarantined`)
      assert.equal(q.eventName, 'BatchAnchored')
      assert.match(q.reason ?? '', /RECORD_INTEGRITY/)
    }
    for (const leaf of bad) assert.equal(await s().db.get('SELECT 1 AS x FROM records WHERE record_id = ?', leaf.recordId), undefined)
  })

  test('a record anchor would refuse is left out of its batch; the records beside it are anchored', async () => {
    const doctorKey = requireKeys(await authenticate(s(), people.doctor.token)).ledger
    const stranger = privateKeyToAccount(generatePrivateKey())
    const ledger = s().ledger
    const pending = async () => {
      const recordId = generatePrivateKey()
      await insertRecord(s().db, {
        record_id: recordId, patient_id: people.patient.id, author_id: people.doctor.id, hospital_id: people.hospital.id,
        digest: generatePrivateKey(), envelopes: generatePrivateKey(), suite: 'aes-256-gcm', stored_bytes: 0, state: 'pending',
        tx_hash: null, block_number: null, anchored_at: null, created_at: Date.now(),
      })
      return recordId
    }
    const leafBy = async (author: LocalAccount, recordId: Hex): Promise<SignedLeaf> => {
      const f = { recordId, patient: people.patient.address, hospital: people.hospital.address, digest: generatePrivateKey(), envelopes: generatePrivateKey() }
      return { ...f, author: author.address, signature: await author.signTypedData!(recordTypedData(ledger, f)) }
    }
    const submit = (author: LocalAccount, leaf: SignedLeaf) => s().anchorBatches!.submit(people.hospital.id, { author, leaf })
    const ids = [await pending(), await pending(), await pending()]
    const leaves = [await leafBy(doctorKey, ids[0]!), await leafBy(doctorKey, ids[1]!), await leafBy(stranger, generatePrivateKey()), await leafBy(doctorKey, ids[2]!)]
    // The first goes alone at once; the other three wait for it and go together.
    const settled = await Promise.allSettled([submit(doctorKey, leaves[0]!), submit(doctorKey, leaves[1]!), submit(stranger, leaves[2]!), submit(doctorKey, leaves[3]!)])
    const [alone, first, refused, second] = settled
    assert.equal(alone.status, 'fulfilled')
    assert.equal(refused.status, 'rejected')
    assert.ok(isAppError((refused as PromiseRejectedResult).reason, 'LEDGER_REVERTED'))
    assert.match((refused as PromiseRejectedResult).reason.details, /RecordLedgerUnauthorized/)
    assert.ok(first.status === 'fulfilled' && second.status === 'fulfilled')
    assert.ok(first.value.proof && second.value.proof, 'the two beside it went in a batch')
    assert.equal(first.value.proof.root, second.value.proof.root)
    assert.equal(processProof(leafHash(leaves[1]!), first.value.proof.proof), first.value.proof.root)
    assert.equal(processProof(leafHash(leaves[3]!), second.value.proof.proof), first.value.proof.root)
    const manifest = (await s().db.get<{ manifest: Hex }>('SELECT manifest FROM record_proofs WHERE record_id = ?', ids[1]))!.manifest
    const tx = (await ledger.client.getTransactionReceipt({ hash: first.value.receipt.transactionHash }))
    const [event] = parseEventLogs({ abi: recordLedgerAbi, logs: tx.logs, eventName: 'BatchAnchored' })
    assert.deepEqual({ root: event!.args.root, manifest: event!.args.manifest, count: event!.args.count }, { root: first.value.proof.root, manifest, count: 2n })
    for (const id of [ids[1], ids[2]]) {
      const row = await s().db.get<{ state: string; tx_hash: Hex }>('SELECT state, tx_hash FROM records WHERE record_id = ?', id)
      assert.deepEqual(row, { state: 'anchored', tx_hash: first.value.receipt.transactionHash })
    }
  })
})
