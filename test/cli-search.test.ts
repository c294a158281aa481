import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Api, cleanup, fixtures, runCli, seed, startNodeProcess, tempDir, type NodeProcess } from './helpers/node-process.ts'

// Runs in both database passes: the blind index's SQL (BLOB/BYTEA tokens, GROUP BY … HAVING) on each.
describe('medledger record search, through a node process', () => {
  let node: NodeProcess
  const cliHome = tempDir('ml-cli-search-')
  let a: Awaited<ReturnType<typeof seed>>
  const cli = (args: string[], input?: string) => runCli(args, { api: node.url, cliHome, input })
  const json = (r: { code: number | null; stdout: string; stderr: string }) => {
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout)
  }

  before(async () => {
    node = await startNodeProcess()
    a = await seed(new Api(node.url), { hospitalName: 'Search Hospital', tag: 'search' })
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home, cliHome)
  })

  it('a doctor uploads with --tag; the patient finds the record by a tag prefix and by an observation of its content, and nothing else', async () => {
    json(await cli(['login', '--email', a.doctor.email, '--json'], `${a.doctor.password}\n`))
    const up = json(await cli(['record', 'upload', '--patient', a.patient.email, '--file', join(fixtures, 'hl7v2', 'message2.hl7'), '--tag', 'Kardiologie', '--tag', 'Nachsorge', '--json']))
    json(await cli(['login', '--email', a.patient.email, '--json'], `${a.patient.password}\n`))
    for (const q of ['kardio', 'Cholesterol nachsorge', 'TRIGLYC']) {
      const r = json(await cli(['record', 'search', q, '--json', '--as', a.patient.email]))
      assert.deepEqual(r.records.map((x: { recordId: string }) => x.recordId), [up.recordId], q)
      assert.equal(r.total, 1)
    }
    const none = json(await cli(['record', 'search', 'kardio glucose', '--json', '--as', a.patient.email]))
    assert.deepEqual([none.records, none.total], [[], 0])
    const usage = await cli(['record', 'search', '--as', a.patient.email])
    assert.equal(usage.code, 2)
  })
})
