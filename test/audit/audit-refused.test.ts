import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { logReadBatched } from '../../src/consent/audit-log.ts'
import { purposes } from '../../src/ledger/purposes.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { seed } from '../helpers/node-process.ts'

let n: InProcessNode
before(async () => { n = await startInProcessNode({ env: { MEDLEDGER_CHAIN_DEV_METHODS: 'true' } }) })
after(async () => { await n?.stop() })

async function chain(method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(n.node.services.ledger.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  const body = await res.json() as { result?: unknown; error?: { message: string } }
  if (body.error) throw new Error(`${method}: ${body.error.message}`)
  return body.result
}

test('an entry the chain refuses in a batch is marked refused with its error; the rest of that batch is mined', async () => {
  const s = n.node.services
  const api = new InjectApi(n.app)
  const people = await seed(api)
  const up = await api.upload(people.doctor.token, people.patient.email, 'note.txt', randomBytes(2_000))
  assert.equal(up.status, 201)
  const recordId = up.body.recordId as Hex
  assert.equal((await api.download(people.patient.token, recordId)).status, 200) // lets the node find its hospital's account
  await s.auditBatches!.idle()

  // Mining stops: a read goes out alone and stays in flight; the next read, and an entry signed
  // by a key with no access path to the patient's records, wait for the next batch together.
  await chain('evm_setAutomine', [false])
  assert.equal((await api.download(people.patient.token, recordId)).status, 200)
  assert.equal((await api.download(people.patient.token, recordId)).status, 200)
  const stranger = privateKeyToAccount(generatePrivateKey())
  await logReadBatched({ ...s, auditBatches: s.auditBatches! }, { reader: stranger, recordId, patient: people.patient.address as Address, purpose: purposes.own, ref: zeroHash })
  const rows = async () => s.db.all<{ reader: string; state: string; reason: string | null }>('SELECT reader, state, reason FROM audit_entries ORDER BY created_at')
  assert.deepEqual((await rows()).map((r) => r.state), ['mined', 'pending', 'pending', 'pending'])
  await chain('evm_setAutomine', [true])
  await chain('evm_mine')
  await s.auditBatches!.idle()

  const patient = (people.patient.address as string).toLowerCase()
  assert.deepEqual(await rows(), [
    { reader: patient, state: 'mined', reason: null },
    { reader: patient, state: 'mined', reason: null },
    { reader: patient, state: 'mined', reason: null },
    { reader: stranger.address.toLowerCase(), state: 'refused', reason: 'ConsentNoAccessPath' },
  ])
  const trail = await api.json('GET', `/audit?record=${recordId}`, undefined, people.patient.token)
  const reads = (trail.body.entries as { event: string; status: string; actor: { address: string } }[]).filter((e) => e.event === 'AccessLogged')
  assert.deepEqual(reads.map((e) => [e.status, e.actor.address.toLowerCase()]), Array.from({ length: 3 }, () => ['mined', patient]))
})
