import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { blockFilePath } from '../src/storage/block-path.ts'
import { Api, cleanup, fixtures, seed, startNodeProcess, type NodeProcess } from './helpers/node-process.ts'

const DAY = 86_400

/**
 * Every time rule (grant, share and emergency expiry; which grantees get a new record's key) is
 * decided on the chain's clock. The node's clock is the real one here; the chain's is moved with
 * anvil's dev methods (served only with --chain-dev-methods), ahead of it and behind it.
 */
describe('time rules follow the chain\'s clock, not the node\'s (real node, real chain)', () => {
  let node: NodeProcess
  let api: Api
  let rpc = ''
  let a: Awaited<ReturnType<typeof seed>>
  let b: Awaited<ReturnType<typeof seed>>
  /** A second doctor of hospital B, who only ever has break-glass access. */
  let c: { doctor: { token: string } }
  let ccda: Buffer
  let firstId = ''

  const chain = async (method: string, params: unknown[] = []): Promise<unknown> => {
    const res = await fetch(rpc, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
    const body = (await res.json()) as { result?: unknown; error?: unknown }
    assert.equal(body.error, undefined, `${method}: ${JSON.stringify(body.error)}`)
    return body.result
  }
  /** Sets the chain's clock to `seconds` (forwards or backwards) and mines a block there. */
  const setChainTime = async (seconds: number) => { await chain('evm_setTime', [seconds]); await chain('evm_mine') }
  const chainNow = async () => Number(((await chain('eth_getBlockByNumber', ['latest', false])) as { timestamp: string }).timestamp)
  const nodeNow = () => Math.floor(Date.now() / 1000)

  const read = async (token: string | null, id: string, headers: Record<string, string> = {}) => {
    const r = await api.call('GET', `/records/${id}`, { token, headers })
    const bytes = Buffer.from(await r.arrayBuffer())
    return { status: r.status, bytes, code: r.ok ? undefined : JSON.parse(bytes.toString()).code as string }
  }
  /** The ledger addresses a record's data key is wrapped for, from its envelopes block in the node's store. */
  const wrappedFor = (envelopesCid: string): string[] =>
    (JSON.parse(readFileSync(blockFilePath(join(node.home, 'ipfs'), CID.parse(envelopesCid)), 'utf8')) as { keys: { to: string }[] }).keys.map((k) => k.to.toLowerCase())
  const upload = async (name: string) => {
    const r = await api.upload(a.doctor.token, a.patient.email, name, ccda)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return r.body as { recordId: string; envelopesCid: string }
  }

  /**
   * Opens one access path per reader to patient A: an all-records grant (B's doctor, one day),
   * a named share of the first record (B's patient, one day), a share token of it (one day)
   * and a break-glass (another doctor of B, the default 24 h window).
   */
  const openPaths = async () => {
    const req = await api.json('POST', '/access-requests', { patient: a.patient.address, purpose: 'Cardiology follow-up', days: 1 }, b.doctor.token)
    assert.equal(req.status, 201, JSON.stringify(req.body))
    const approved = await api.json('POST', `/access-requests/${req.body.requestId}/approve`, {}, a.patient.token)
    assert.equal(approved.status, 200, JSON.stringify(approved.body))
    const named = await api.json('POST', '/shares', { recordIds: [firstId], to: b.patient.email, days: 1 }, a.patient.token)
    assert.equal(named.status, 201, JSON.stringify(named.body))
    const token = await api.json('POST', '/shares', { recordIds: [firstId], token: true, days: 1 }, a.patient.token)
    assert.equal(token.status, 201, JSON.stringify(token.body))
    const emergency = await api.json('POST', '/emergencies', { patient: a.patient.email, reason: 'Unconscious on arrival' }, c.doctor.token)
    assert.equal(emergency.status, 201, JSON.stringify(emergency.body))
    return { requestId: req.body.requestId as string, expiresAt: Date.parse(approved.body.expiresAt) / 1000, shareId: named.body.shareId as string, token: token.body.token as string, emergencyId: emergency.body.emergencyId as string }
  }
  const requestStatus = async (id: string) => (await api.json('GET', `/access-requests/${id}`, undefined, b.doctor.token)).body.status as string
  const shareLive = async (id: string) => ((await api.json('GET', '/shares', undefined, a.patient.token)).body.shares as { shareId: string; live: boolean }[]).find((s) => s.shareId === id)!.live
  const emergencyLive = async (id: string) => ((await api.json('GET', '/emergencies', undefined, c.doctor.token)).body.emergencies as { emergencyId: string; live: boolean }[]).find((e) => e.emergencyId === id)!.live

  before(async () => {
    node = await startNodeProcess({ args: ['--chain-dev-methods'] })
    api = new Api(node.url)
    a = await seed(api, { hospitalName: 'North Hospital', tag: 'north' })
    b = await seed(api, { hospitalName: 'South Hospital', tag: 'south' })
    const second = await api.json('POST', '/users', { role: 'doctor', hospital: b.hospital.id, email: 'er-doctor@example.org', name: 'ER doctor', password: 'er-doctor-password-123' }, b.admin)
    assert.equal(second.status, 201, JSON.stringify(second.body))
    c = { doctor: { token: await api.login('er-doctor@example.org', 'er-doctor-password-123') } }
    rpc = (await api.json('GET', '/status')).body.chainRpc
    ccda = readFileSync(join(fixtures, 'ccda', 'Angelique249_Koelpin146_2d88ba8f-b46a-fe33-1c6a-c2d96167fb5a.xml'))
    firstId = (await upload('summary.xml')).recordId
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home)
  })

  it('a chain clock behind the node\'s does not end anything early: a grant the node\'s clock calls over still gets new records\' keys', async () => {
    // Three days behind: a one-day grant ends, by the node's clock, two days ago.
    await setChainTime(nodeNow() - 3 * DAY)
    const p = await openPaths()
    assert.ok(p.expiresAt < nodeNow() - DAY, 'the grant\'s end is in the node\'s past')
    assert.ok(p.expiresAt > (await chainNow()), 'and in the chain\'s future')

    const added = await upload('added-after-the-grant.xml')
    assert.ok(wrappedFor(added.envelopesCid).includes(b.doctor.address.toLowerCase()), 'the grantee gets the new record\'s key')
    const got = await read(b.doctor.token, added.recordId)
    assert.equal(got.status, 200, got.code)
    assert.ok(got.bytes.equals(ccda))

    assert.equal(await requestStatus(p.requestId), 'approved')
    assert.equal((await read(b.patient.token, firstId)).status, 200, 'the named share is honoured')
    assert.equal(await shareLive(p.shareId), true)
    assert.equal((await read(null, firstId, { 'x-medledger-share-token': p.token })).status, 200, 'the share token is honoured')
    assert.equal((await read(c.doctor.token, firstId)).status, 200, 'the break-glass is honoured')
    assert.equal(await emergencyLive(p.emergencyId), true)
  })

  it('a chain clock ahead of the node\'s ends grants, shares and break-glass at once, and a new record\'s key is not wrapped for an ended grant', async () => {
    // Back to the node's clock (the earlier paths ended two days ago), open new paths, then move
    // the chain two days on: every path is over by the chain's clock, none by the node's.
    await setChainTime(nodeNow())
    const p = await openPaths()
    const before = await upload('before-the-end.xml')
    assert.ok(wrappedFor(before.envelopesCid).includes(b.doctor.address.toLowerCase()), 'a live grantee gets a new record\'s key')
    assert.equal((await read(b.doctor.token, before.recordId)).status, 200)
    assert.equal((await read(b.patient.token, firstId)).status, 200)
    assert.equal((await read(c.doctor.token, firstId)).status, 200)

    await setChainTime(nodeNow() + 2 * DAY)
    assert.ok(p.expiresAt > nodeNow(), 'the grant runs on by the node\'s clock')

    const after = await upload('after-the-end.xml')
    assert.ok(!wrappedFor(after.envelopesCid).includes(b.doctor.address.toLowerCase()), 'an ended grantee gets no new record\'s key')
    assert.equal((await read(b.doctor.token, after.recordId)).code, 'RECORD_NOT_FOUND')
    assert.equal((await read(b.doctor.token, before.recordId)).code, 'RECORD_NOT_FOUND', 'the grant is no longer honoured')
    assert.equal(await requestStatus(p.requestId), 'expired')

    assert.equal((await read(b.patient.token, firstId)).code, 'RECORD_NOT_FOUND', 'the named share is refused')
    assert.equal(await shareLive(p.shareId), false)
    assert.equal((await read(null, firstId, { 'x-medledger-share-token': p.token })).code, 'SHARE_TOKEN_INVALID', 'the share token is refused')
    assert.equal((await read(c.doctor.token, firstId)).code, 'RECORD_NOT_FOUND', 'the break-glass window is over')
    assert.equal(await emergencyLive(p.emergencyId), false)
  })
})
