import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Api, cleanup, seed, startNodeProcess, tempDir, type NodeProcess } from '../helpers/node-process.ts'

/** A JSON-RPC call to the node's chain (its filtering proxy, dev methods on for this test). */
async function chain(url: string, method: string, params: unknown[] = []): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  const body = await res.json() as { result?: unknown; error?: { message: string } }
  if (body.error) throw new Error(`${method}: ${body.error.message}`)
  return body.result
}

// An erasure request, then a decision, whose transaction was sent but whose receipt the node
// never handled (killed -9 with it in the chain's pool, the chain losing it too): at the next
// start the journal sends it again and the node's follower writes what the flow did not.
describe('erasure: killed -9 after the request, then the decision, was sent', () => {
  const home = tempDir('ml-erasure-crash-')
  let node: NodeProcess | undefined
  after(async () => {
    await node?.stop()
    cleanup(home)
  })

  /** Stops mining, runs `act` until its transaction from `sender` is in the pool, then kills node and chain and starts the node again. */
  const crashAfterSend = async (api: Api, sender: string, act: () => Promise<unknown>) => {
    const rpc = (await api.json('GET', '/status')).body.chainRpc as string
    const sent = async () => Number(BigInt(await chain(rpc, 'eth_getTransactionCount', [sender, 'pending'])) - BigInt(await chain(rpc, 'eth_getTransactionCount', [sender, 'latest'])))
    await chain(rpc, 'evm_setAutomine', [false])
    let answered: unknown
    const request = act().then((r) => { answered = r }, () => { /* the node went away mid-request */ })
    for (let i = 0; i < 1200 && (await sent()) < 1 && answered === undefined; i++) await new Promise((r) => setTimeout(r, 50))
    assert.equal(answered, undefined, 'not answered: not mined')
    assert.equal(await sent(), 1, 'the transaction is in the chain\'s pool')
    await node!.crash()
    await request
    node = await startNodeProcess({ home, env: { MEDLEDGER_CHAIN_DEV_METHODS: 'true', MEDLEDGER_ANVIL_STATE_INTERVAL: '3600' } })
    assert.match(node.output(), /re-sent from the journal/, 'the chain had lost it and the journal re-sent it')
    return new Api(node.url)
  }
  const waitFor = async <T>(get: () => Promise<T>, done: (v: T) => boolean): Promise<T> => {
    let v = await get()
    for (let i = 0; i < 400 && !done(v); i++) {
      await new Promise((r) => setTimeout(r, 50))
      v = await get()
    }
    return v
  }

  it('the request is listed for staff and patient after the restart, the rejection too, and the patient may ask again', async () => {
    node = await startNodeProcess({ home, env: { MEDLEDGER_CHAIN_DEV_METHODS: 'true', MEDLEDGER_ANVIL_STATE_INTERVAL: '3600' } })
    let api = new Api(node.url)
    const people = await seed(api)
    const made = await api.json('POST', '/users', { role: 'staff', hospital: people.hospital.id, email: 'staff@example.org', name: 'Staff', password: 'staff-password-123' }, people.admin)
    assert.equal(made.status, 201, JSON.stringify(made.body))
    const staffAddress = made.body.account.address as string
    const up = await api.upload(people.doctor.token, people.patient.email, 'scan.bin', randomBytes(40_000))
    assert.equal(up.status, 201, JSON.stringify(up.body))
    const recordId: string = up.body.recordId

    api = await crashAfterSend(api, people.patient.address, () => api.json('POST', `/records/${recordId}/erasure`, { reason: 'moved abroad' }, people.patient.token))
    let patient = await api.login(people.patient.email, people.patient.password)
    let staff = await api.login('staff@example.org', 'staff-password-123')
    const listed = await waitFor(() => api.json('GET', '/erasures', undefined, staff), (r) => r.body.erasures?.length === 1)
    assert.equal(listed.status, 200)
    assert.deepEqual(listed.body.erasures.map((e: any) => [e.recordId, e.status]), [[recordId, 'pending']], 'staff see the request the chain holds')
    assert.match(listed.body.erasures[0].requestTx, /^0x[0-9a-f]{64}$/)
    const erasureId: string = listed.body.erasures[0].erasureId
    assert.deepEqual((await api.json('GET', '/erasures', undefined, patient)).body.erasures.map((e: any) => e.erasureId), [erasureId])
    assert.equal((await api.json('POST', `/records/${recordId}/erasure`, { reason: 'again' }, patient)).body.code, 'ERASURE_PENDING')
    assert.equal((await api.download(patient, recordId)).status, 200, 'the record reads until a decision')

    api = await crashAfterSend(api, staffAddress, () => api.json('POST', `/erasures/${erasureId}/reject`, { reason: 'retention duty' }, staff))
    patient = await api.login(people.patient.email, people.patient.password)
    staff = await api.login('staff@example.org', 'staff-password-123')
    const decided = await waitFor(() => api.json('GET', '/erasures', undefined, staff), (r) => r.body.erasures?.[0]?.status !== 'pending')
    assert.deepEqual(decided.body.erasures.map((e: any) => [e.erasureId, e.status]), [[erasureId, 'rejected']], 'the rejection the chain holds')
    assert.match(decided.body.erasures[0].decisionTx, /^0x[0-9a-f]{64}$/)
    assert.equal((await api.json('POST', `/erasures/${erasureId}/reject`, { reason: 'twice' }, staff)).body.code, 'ERASURE_NOT_PENDING')

    // The patient asks again and staff confirm: the record is erased.
    const again = await api.json('POST', `/records/${recordId}/erasure`, { reason: 'moved abroad' }, patient)
    assert.equal(again.status, 201, JSON.stringify(again.body))
    const confirmed = await api.json('POST', `/erasures/${again.body.erasureId}/confirm`, undefined, staff)
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body))
    assert.equal((await api.download(patient, recordId)).json?.code, 'RECORD_ERASED')
    const all = (await api.json('GET', '/erasures', undefined, staff)).body.erasures
    assert.deepEqual(all.map((e: any) => e.status).sort(), ['confirmed', 'rejected'])
    assert.equal(all.find((e: any) => e.status === 'confirmed').reason, 'moved abroad')
  })
})
