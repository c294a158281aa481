import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { toFunctionSelector, type AbiFunction } from 'viem'
import { consentAbi } from '../../src/ledger/abis.ts'
import { Api, cleanup, seed, startNodeProcess, tempDir, type NodeProcess } from '../helpers/node-process.ts'

/** A JSON-RPC call to the node's chain (its filtering proxy, dev methods on for this test). */
async function chain(url: string, method: string, params: unknown[] = []): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  const body = await res.json() as { result?: unknown; error?: { message: string } }
  if (body.error) throw new Error(`${method}: ${body.error.message}`)
  return body.result
}

describe('audit batches: a read is served once its entry is durable; a read alone is the reader\'s logAccess, a burst a batch, also after a crash', () => {
  const home = tempDir('ml-audit-')
  let node: NodeProcess | undefined
  after(async () => {
    await node?.stop()
    cleanup(home)
  })

  it('shows a read pending until its batch is mined; kill -9 before mining, restart: every served read is mined', async () => {
    node = await startNodeProcess({ home, env: { MEDLEDGER_CHAIN_DEV_METHODS: 'true', MEDLEDGER_ANVIL_STATE_INTERVAL: '3600' } })
    const api = new Api(node.url)
    const people = await seed(api)
    const up = await api.upload(people.doctor.token, people.patient.email, 'report.bin', randomBytes(20_000))
    assert.equal(up.status, 201)
    const recordId: string = up.body.recordId
    const rpc = (await api.json('GET', '/status')).body.chainRpc as string
    const reads = async () => {
      const trail = await api.json('GET', `/audit?record=${recordId}`, undefined, people.patient.token)
      assert.equal(trail.status, 200)
      return (trail.body.entries as any[]).filter((e) => e.event === 'AccessLogged')
    }

    // Mining as usual: the read's entry goes out at once, alone, as the reader's own logAccess, and is mined.
    assert.equal((await api.download(people.patient.token, recordId)).status, 200)
    let logged = await reads()
    for (let i = 0; i < 100 && logged.some((e) => e.status === 'pending'); i++) {
      await new Promise((r) => setTimeout(r, 50))
      logged = await reads()
    }
    assert.equal(logged.length, 1)
    assert.equal(logged[0].status, 'mined')
    assert.equal(logged[0].actor.address.toLowerCase(), people.patient.address.toLowerCase(), 'the actor is the reader, not the node that sent the batch')
    assert.equal(logged[0].purpose, 'own')
    const tx = await chain(rpc, 'eth_getTransactionByHash', [logged[0].txHash])
    assert.equal(tx.from.toLowerCase(), people.patient.address.toLowerCase(), 'a read alone is the reader\'s own logAccess')
    assert.equal(tx.input.slice(0, 10), toFunctionSelector(consentAbi.find((f) => f.type === 'function' && f.name === 'logAccess') as AbiFunction))

    // The chain stops mining: two more reads are served all the same, and show as pending.
    await chain(rpc, 'evm_setAutomine', [false])
    for (let i = 0; i < 2; i++) assert.equal((await api.download(people.patient.token, recordId)).status, 200)
    logged = await reads()
    assert.deepEqual(logged.map((e) => e.status), ['pending', 'pending', 'mined'])
    assert.deepEqual(logged.slice(0, 2).map((e) => [e.blockNumber, e.txHash, e.purpose, e.recordId]), [[null, null, 'own', recordId], [null, null, 'own', recordId]])

    // The first of them is the reader's logAccess in the chain's pool, the second waits for the next batch: kill -9 both node and chain.
    await node.crash()
    node = await startNodeProcess({ home })
    // The chain lost its pool and its unsaved blocks: the journal re-sends the first read's
    // logAccess (its journal row then says it is mined: found, not sent twice), the second entry
    // (never sent) goes out again from audit_entries, in a batch (no reader key after a restart).
    assert.match(node.output(), /re-sent from the journal/)
    assert.match(node.output(), /audit: 1 pending read entr\(ies\) found on chain, 1 sent again/)
    const again = new Api(node.url)
    const patient = await again.login(people.patient.email, people.patient.password)
    let after: any[] = []
    for (let i = 0; i < 200; i++) {
      const trail = await again.json('GET', `/audit?record=${recordId}`, undefined, patient)
      after = (trail.body.entries as any[]).filter((e) => e.event === 'AccessLogged')
      if (after.length === 3 && after.every((e) => e.status === 'mined')) break
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.deepEqual(after.map((e) => [e.status, e.purpose, e.actor.address.toLowerCase()]), Array.from({ length: 3 }, () => ['mined', 'own', people.patient.address.toLowerCase()]))
    const rpc2 = (await again.json('GET', '/status')).body.chainRpc as string
    const senders = async (entries: any[]) => Promise.all(entries.map(async (e) => (await chain(rpc2, 'eth_getTransactionByHash', [e.txHash])).from.toLowerCase()))
    assert.deepEqual(await senders(after), [people.hospital.address, people.patient.address, people.patient.address].map((a) => a.toLowerCase()),
      'the replayed entry went in a batch from the hospital; the crash left no second logAccess of the first')

    // A burst of concurrent reads: the first goes alone as the reader's logAccess, the rest that
    // arrive meanwhile together in a batch from the hospital's account.
    const burst = await Promise.all(Array.from({ length: 8 }, () => again.download(patient, recordId)))
    assert.deepEqual(burst.map((r) => r.status), Array(8).fill(200))
    for (let i = 0; i < 200; i++) {
      const trail = await again.json('GET', `/audit?record=${recordId}`, undefined, patient)
      after = (trail.body.entries as any[]).filter((e) => e.event === 'AccessLogged')
      if (after.length === 11 && after.every((e) => e.status === 'mined')) break
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal(after.length, 11)
    const fresh = after.slice(0, 8)
    const byTx = new Map<string, number>()
    for (const e of fresh) byTx.set(e.txHash, (byTx.get(e.txHash) ?? 0) + 1)
    const from = await senders(fresh)
    assert.ok(from.includes(people.hospital.address.toLowerCase()), 'some of the burst went in a batch from the hospital')
    assert.ok([...byTx.values()].some((n) => n > 1), 'one transaction carries several reads of the burst')
    assert.ok(byTx.size < 8, 'fewer transactions than reads')
  })
})
