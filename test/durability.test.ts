import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Api, cleanup, seed, startNodeProcess, tempDir, testEnv, type NodeProcess } from './helpers/node-process.ts'

describe('durability: restarts, crashes and a damaged chain state', () => {
  const home = tempDir('ml-durable-')
  let node: NodeProcess | undefined
  after(async () => {
    await node?.stop()
    cleanup(home)
  })

  const acknowledged = new Map<string, Buffer>()
  let people: Awaited<ReturnType<typeof seed>>
  /** A chain that never writes its state on its own: a kill loses every block since its start. */
  const tailLosing = { MEDLEDGER_ANVIL_STATE_INTERVAL: '3600' }

  const checkEverything = async (api: Api) => {
    // Every account can still sign in: keystores and sessions live in the node's database.
    const doctor = await api.login(people.doctor.email, people.doctor.password)
    const patient = await api.login(people.patient.email, people.patient.password)
    const admin = await api.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
    for (const [id, bytes] of acknowledged) {
      const got = await api.download(patient, id)
      assert.equal(got.status, 200, `acknowledged record ${id} is readable`)
      assert.ok(got.bytes.equals(bytes), `acknowledged record ${id} reads back byte-identical`)
    }
    // Reads are served once their audit entries are durable; the entries' batch goes on chain
    // after (issue 14 item 3): the journal empties once it is mined.
    let status = (await api.json('GET', '/status')).body
    for (let i = 0; i < 600 && status.journalBacklog > 0; i++) {
      await new Promise((r) => setTimeout(r, 50))
      status = (await api.json('GET', '/status')).body
    }
    assert.equal(status.journalBacklog, 0)
    const verify = await api.json('POST', '/verify', { all: true }, admin)
    assert.equal(verify.status, 200)
    assert.equal(verify.body.mismatches.length, 0, JSON.stringify(verify.body.mismatches))
    assert.equal(verify.body.checked, status.records, 'verify checked every record')
    const list = await api.json('GET', '/records?limit=1000', undefined, doctor)
    assert.equal(list.body.total, status.records, 'nothing half-written shows as a record')
    assert.ok(status.records >= acknowledged.size)
    for (const r of list.body.records) assert.equal(r.problem, undefined)
    return status
  }

  it('keeps every account, record and anchor across a clean stop and start', async () => {
    node = await startNodeProcess({ home })
    const api = new Api(node.url)
    people = await seed(api)
    for (let i = 0; i < 3; i++) {
      const bytes = randomBytes(100_000 + i)
      const up = await api.upload(people.doctor.token, people.patient.email, `r${i}.bin`, bytes)
      assert.equal(up.status, 201)
      acknowledged.set(up.body.recordId, bytes)
    }
    const before = (await api.json('GET', '/status')).body
    assert.equal(await node.stop(), 0, 'clean exit on SIGTERM')
    // Started as the next test needs it (its state written only at a stop), so that it need not restart.
    node = await startNodeProcess({ home, env: tailLosing })
    const after = await checkEverything(new Api(node.url))
    assert.deepEqual(after.contracts, before.contracts, 'contracts are reused, not redeployed')
    assert.ok(after.blockNumber >= before.blockNumber)
  })

  it('loses no acknowledged upload when the node and its chain are killed -9 mid-upload', async () => {
    // The chain never writes its state on its own here (started so by the test before): the kill
    // loses every block since that start, and only the node's transaction journal can bring the
    // anchors back.
    assert.ok(node, 'runs after the first test')
    const api = new Api(node.url)
    const doctor = await api.login(people.doctor.email, people.doctor.password)
    let stop = false
    const worker = async () => {
      while (!stop) {
        const bytes = randomBytes(50_000 + Math.floor(Math.random() * 2_000_000))
        try {
          const up = await api.upload(doctor, people.patient.email, 'crash.bin', bytes)
          if (up.status === 201 && !stop) acknowledged.set(up.body.recordId, bytes)
        } catch {
          return // the node went away mid-request: not acknowledged
        }
      }
    }
    const workers = [worker(), worker()]
    const start = acknowledged.size
    while (acknowledged.size < start + 6) await new Promise((r) => setTimeout(r, 20))
    await new Promise((r) => setTimeout(r, Math.random() * 300))
    await node.crash()
    stop = true
    await Promise.all(workers)

    // Restarted as the next test needs it, its chain losing its tail again.
    node = await startNodeProcess({ home, env: tailLosing })
    assert.match(node.output(), /re-sent from the journal/, 'the chain had lost anchors and the journal re-sent them')
    await checkEverything(new Api(node.url))
  })

  it('loses no acknowledged record when killed -9 during batched anchors, at several points', async () => {
    // Eight clients at once: uploads that arrive while an anchor is in flight share one root. Each
    // round kills node and chain at another point (at the round's first acknowledgement, a little
    // after a dozen, well after half a dozen), the chain losing its tail each time; the journal
    // re-sends what was not mined, and every acknowledged record is whole and verifies.
    const roots = new Set<string>()
    const rounds = [[1, 0], [12, 40], [6, 300]] as const
    assert.ok(node, 'runs after the test before, on a chain that loses its tail')
    for (const [round, [acks, delayMs]] of rounds.entries()) {
      const api = new Api(node.url)
      const doctor = await api.login(people.doctor.email, people.doctor.password)
      let stop = false
      const worker = async () => {
        while (!stop) {
          const bytes = randomBytes(10_000 + Math.floor(Math.random() * 200_000))
          try {
            const up = await api.upload(doctor, people.patient.email, 'batch.bin', bytes)
            if (up.status === 201 && !stop) acknowledged.set(up.body.recordId, bytes)
          } catch {
            return // the node went away mid-request: not acknowledged
          }
        }
      }
      const workers = Array.from({ length: 8 }, () => worker())
      const start = acknowledged.size
      while (acknowledged.size < start + acks) await new Promise((r) => setTimeout(r, 5))
      await new Promise((r) => setTimeout(r, delayMs))
      await node.crash()
      stop = true
      await Promise.all(workers)

      // Restarted as the next round needs it (its chain losing its tail again); the last as usual.
      node = await startNodeProcess({ home, env: round < rounds.length - 1 ? tailLosing : {} })
      const restarted = new Api(node.url)
      await checkEverything(restarted)
      const admin = await restarted.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
      const verify = await restarted.json('POST', '/verify', { all: true }, admin)
      for (const r of verify.body.results) if (r.root) roots.add(r.root)
    }
    assert.ok(roots.size > 0, 'some acknowledged records were anchored in batches')
  })

  it('recovers from a truncated chain state file with the last good copy and the journal', async () => {
    const api = new Api(node!.url)
    const doctor = await api.login(people.doctor.email, people.doctor.password)
    const bytes = randomBytes(70_000)
    const up = await api.upload(doctor, people.patient.email, 'late.bin', bytes)
    assert.equal(up.status, 201)
    acknowledged.set(up.body.recordId, bytes)
    await node!.stop()
    const state = join(home, 'chain', 'state.json')
    const full = readFileSync(state)
    writeFileSync(state, full.subarray(0, Math.floor(full.length / 3)))
    node = await startNodeProcess({ home })
    assert.match(node.output(), /state/i)
    await checkEverything(new Api(node.url))
  })
})
