import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CarBlockIterator } from '@ipld/car/iterator'
import { CarIndexer } from '@ipld/car/indexer'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { blockFilePath, findBlockOnDisk } from '../src/storage/block-path.ts'
import { Api, cleanup, fixtures, runCli, seed, startNodeProcess, tempDir, testEnv, type CliResult, type NodeProcess } from './helpers/node-process.ts'

/** Files under `dir`, recursively (none when it does not exist). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter(e => e.isFile()).map(e => join(e.parentPath, e.name)).sort()
}

describe('backup: CAR export of a hospital\'s blocks, and restore', () => {
  const home = tempDir('ml-backup-')
  const work = tempDir('ml-backup-files-')
  const cliHome = tempDir('ml-backup-cli-')
  const car = join(work, 'hospital.car')
  let node: NodeProcess | undefined
  let dbArgs: string[] = []
  let people: Awaited<ReturnType<typeof seed>>
  /** Uploaded records: id → plaintext, and their root and envelopes CIDs. */
  const records = new Map<string, { bytes: Buffer; cid: string; envelopesCid: string }>()

  const backup = (args: string[]): Promise<CliResult> => runCli(['backup', ...args, '--home', home, ...dbArgs], { api: 'http://127.0.0.1:1', cliHome })

  before(async () => {
    node = await startNodeProcess({ home })
    dbArgs = node.dbUrl.startsWith('postgres') ? ['--db', node.dbUrl] : []
    const api = new Api(node.url)
    people = await seed(api)
    const files = [
      join(fixtures, 'dicom', 'CT_small.dcm'),
      join(fixtures, 'dicom', 'waveform_ecg.dcm'),
      join(fixtures, 'fhir', 'Bibi254_Schowalter414_475d72ca-91c7-7211-97e3-f000af33fc04.json'),
    ]
    const uploads: Array<[string, Buffer]> = files.map(f => [f.slice(f.lastIndexOf('/') + 1), readFileSync(f)])
    // Several 1 MiB leaves under one root: a DAG with inner structure, not a single block.
    uploads.push(['scan.bin', randomBytes(3 * 1_048_576 + 12_345)])
    for (const [name, bytes] of uploads) {
      const up = await api.upload(people.doctor.token, people.patient.email, name, bytes)
      assert.equal(up.status, 201, JSON.stringify(up.body))
      records.set(up.body.recordId, { bytes, cid: up.body.cid, envelopesCid: up.body.envelopesCid })
    }
  })

  after(async () => {
    await node?.stop()
    cleanup(home, work, cliHome)
  })

  it('refuses to export while the node runs, and writes no file', async () => {
    const r = await backup(['export', '--out', car])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /NODE_RUNNING: Another MedLedger process \(pid \d+: a node, or a backup command\) is using this home directory\. Stop the node first/)
    assert.deepEqual(readdirSync(work), [])
  })

  it('exports every block of the hospital\'s records to one CAR rooted at their DAG roots', async (t) => {
    assert.equal(await node!.stop(), 0)
    const r = await backup(['export', '--out', car, '--json'])
    assert.equal(r.code, 0, r.stderr)
    const summary = JSON.parse(r.stdout)
    assert.equal(summary.records, records.size)
    assert.equal(summary.bytes, readFileSync(car).byteLength)
    assert.equal(summary.sha256, createHash('sha256').update(readFileSync(car)).digest('hex'))
    assert.deepEqual(readdirSync(work), ['hospital.car'], 'no temp file left beside it')

    const reader = await CarBlockIterator.fromIterable(createReadStream(car))
    assert.deepEqual((await reader.getRoots()).map(String).sort(), [...records.values()].map(v => v.cid).sort())
    const inCar = new Set<string>()
    for await (const { cid, bytes } of reader) {
      assert.ok(createHash('sha256').update(bytes).digest().equals(cid.multihash.digest), `${cid} hashes to its CID`)
      inCar.add(cid.toString())
    }
    assert.equal(inCar.size, summary.blocks)
    for (const v of records.values()) {
      assert.ok(inCar.has(v.cid) && inCar.has(v.envelopesCid), 'root and envelopes block of each record')
    }
    // Root + envelopes per record, plus 4 leaves under the 3 MiB record's root.
    assert.ok(summary.blocks >= records.size * 2 + 4)
    // --all adds the replicas kept for other members: a single-hospital node has none.
    const allCar = join(work, 'all.car')
    const all = await backup(['export', '--all', '--out', allCar, '--json'])
    assert.equal(all.code, 0, all.stderr)
    assert.equal(JSON.parse(all.stdout).records, records.size)
    rmSync(allCar)
    t.diagnostic(`export: ${summary.records} records, ${summary.blocks} blocks, ${(summary.bytes / 1_048_576).toFixed(2)} MiB in ${summary.seconds} s (${summary.mibPerSecond} MiB/s)`)
  })

  it('refuses a CAR with one flipped byte in a block and changes nothing', async () => {
    rmSync(join(home, 'ipfs', 'blocks'), { recursive: true, force: true })
    rmSync(join(home, 'ipfs', 'datastore'), { recursive: true, force: true })
    const bytes = readFileSync(car)
    let leaf: { cid: CID; blockOffset: number; blockLength: number } | undefined
    for await (const entry of await CarIndexer.fromBytes(bytes)) {
      if (entry.cid.code === raw.code && entry.blockLength > 100_000) { leaf = entry; break }
    }
    assert.ok(leaf, 'a leaf to damage')
    const damaged = Buffer.from(bytes)
    damaged[leaf.blockOffset + Math.floor(leaf.blockLength / 2)] ^= 0x01
    const bad = join(work, 'damaged.car')
    writeFileSync(bad, damaged)

    const r = await backup(['import', bad])
    assert.equal(r.code, 1)
    assert.match(r.stderr, new RegExp(`RECORD_INTEGRITY: Block \\d+ of damaged\\.car \\(${leaf.cid}\\) does not hash to its CID: nothing was imported\\.`))
    assert.deepEqual(filesUnder(join(home, 'ipfs', 'blocks')), [], 'no block written')
    assert.deepEqual(filesUnder(join(home, 'ipfs', 'datastore')), [], 'nothing pinned')
    rmSync(bad)
  })

  it('restores into the wiped store: imported and pinned, and again idempotently', async (t) => {
    const first = await backup(['import', car, '--json'])
    assert.equal(first.code, 0, first.stderr)
    const r1 = JSON.parse(first.stdout)
    assert.deepEqual(r1.pinned.sort(), [...records.keys()].sort())
    assert.deepEqual(r1.unknownRoots, [])
    assert.deepEqual(r1.failed, [])
    assert.equal(r1.written, r1.blocks)
    // Every block of the CAR is on disk again, in its own file or (a large leaf) in a pack.
    let onDisk = 0
    for await (const { cid } of await CarBlockIterator.fromIterable(createReadStream(car))) if (await findBlockOnDisk(join(home, 'ipfs'), cid) !== undefined) onDisk++
    assert.equal(onDisk, r1.blocks)
    t.diagnostic(`import: ${r1.blocks} blocks, ${(r1.bytes / 1_048_576).toFixed(2)} MiB in ${r1.seconds} s (${r1.mibPerSecond} MiB/s)`)

    const again = await backup(['import', car])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, new RegExp(`Imported ${r1.blocks} verified blocks \\(\\d+ bytes, 0 written, ${r1.blocks} already stored\\)`))
    assert.match(again.stdout, new RegExp(`Pinned ${records.size} record\\(s\\)\\.`))
    assert.match(again.stdout, /medledger verify --all/)
  })

  it('serves every record byte-identical after a restart, and verify --all finds them intact', async () => {
    node = await startNodeProcess({ home })
    const api = new Api(node.url)
    const patient = await api.login(people.patient.email, people.patient.password)
    for (const [id, v] of records) {
      const got = await api.download(patient, id)
      assert.equal(got.status, 200, JSON.stringify(got.json))
      assert.ok(got.bytes.equals(v.bytes), `record ${id} reads back byte-identical`)
    }
    const admin = await api.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
    const verify = await api.json('POST', '/verify', { all: true }, admin)
    assert.equal(verify.status, 200)
    assert.deepEqual(verify.body.mismatches, [])
    assert.equal(verify.body.checked, records.size)
  })

  it('refuses to export a corrupt block, naming its record, and leaves no file', async () => {
    assert.equal(await node!.stop(), 0)
    const [id, v] = [...records].find(([, v]) => v.bytes.byteLength > 1_000_000)!
    const file = blockFilePath(join(home, 'ipfs'), CID.parse(v.cid))
    // The root node: changing it is a change to the record's DAG.
    const original = readFileSync(file)
    const damaged = Buffer.from(original)
    damaged[damaged.byteLength - 1] ^= 0x01
    writeFileSync(file, damaged)
    try {
      const out = join(work, 'second.car')
      const r = await backup(['export', '--out', out])
      assert.equal(r.code, 1)
      assert.match(r.stderr, new RegExp(`RECORD_INTEGRITY: Record ${id} has a corrupt block: nothing was exported\\. \\(block ${v.cid} hashes to`))
      assert.deepEqual(readdirSync(work), ['hospital.car'], 'neither the CAR nor a temp file')
    } finally {
      writeFileSync(file, original)
    }
  })
})
