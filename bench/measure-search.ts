import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { createApiClient, type ApiClient } from './api-client.ts'
import { percentiles } from './measure-latency.ts'
import { benchAccountPassword, setUpAccounts } from './set-up-accounts.ts'
import { startNodeProcess, type NodeProcess } from './start-node-process.ts'
import { uploadRecordOverHttp } from './upload-record-over-http.ts'
import { TermExtractor } from '../src/records/search/term-extractor.ts'
import { recordTokens } from '../src/records/search/search-key.ts'

export interface MeasureSearchParams {
  /** An empty directory: the two nodes' homes (`off/`, `on/`, SQLite in each) go in it. */
  home: string
  adminEmail: string
  adminPassword: string
  /** The FHIR bundle uploaded, to the node without term extraction and to the node with it. */
  bundle: string
  /** Pairs of uploads measured (one to each node, after 5 warm-ups each). */
  pairs: number
  /** Records of synthetic patients inserted with their tokens (100 per patient). */
  records: number
  /** Tokens of each synthetic record (a small record's term set: file name, tags, a few codes, with prefixes). */
  tokensPerRecord: number
  /** Queries measured (after 3 warm-ups). */
  iterations: number
  progress?: (msg: string) => void
}

export interface MeasureSearchResult {
  search: { records: number; termsIndexed: number; queryP95Ms: number; uploadSlowdownPct: number }
  context: {
    queryP50Ms: number
    /** The same, for a word every uploaded bundle matches (each match's access decided on chain). */
    queryAllBundlesP95Ms: number
    bundleMatches: number
    pairs: number
    uploadMedianMsWithout: number
    uploadMedianMsWith: number
    /** = uploadSlowdownPct: the median over pairs of (with − without), over the median without. */
    wallSlowdownPct: number
    /** The ratio of the wall-clock medians, with over without, as a slowdown (beside the paired figure). */
    wallMediansSlowdownPct: number
    /** CPU time of each node process per measured upload (user + system, all its threads, /proc). */
    uploadCpuMsWithout: number
    uploadCpuMsWith: number
    /** The slowdown by the node processes' CPU per upload, with against without. */
    cpuSlowdownPct: number
    /** CPU time of each node's main thread per measured upload (/proc/PID/task/PID/stat). */
    mainThreadCpuMsWithout: number
    mainThreadCpuMsWith: number
    /** False when a node ran the sources through tsx (dist/ stale at its start): its figures are not the compiled node's. */
    compiled: boolean
    bundleBytes: number
    insertSeconds: number
    /** Extraction and token computation of the bundle alone, in this process (median of 10, warm): the CPU the index takes, on whichever thread. */
    extractMs: number
  }
}

/** Uploads to each node before the measured pairs (its JIT, the term worker's too, warmed up). */
const warmUploads = 5

/**
 * Keyword search at a hospital's scale. Upload cost: two node processes at once, each with its
 * own home and embedded chain, one with `searchIndex` off and one with it on (config.json); after
 * warm-ups, single uploads of the same FHIR bundle over HTTP alternate between them (one in
 * flight at a time; each pair's order swapped from one pair to the next), so both see the same
 * moments of the machine. The slowdown is the wall-clock one the user sees: the median over pairs
 * of (with − without) over the median without. The node processes' CPU and their main threads'
 * CPU per upload are kept beside it.
 * Query cost: one record tagged for the query among the patient's records of the indexing node;
 * the node stopped, `records` records of synthetic patients and `tokensPerRecord` random tokens
 * each inserted straight into its SQLite database; the node started again and `GET /records?q=`
 * timed as the patient.
 * @throws Error when a node fails or answers wrongly, or the indexing node warned about its term worker.
 */
export async function measureSearch(p: MeasureSearchParams): Promise<MeasureSearchResult> {
  const progress = p.progress ?? (() => {})
  const bundle = new Uint8Array(readFileSync(p.bundle))
  const start = (searchIndex: boolean) => {
    const home = join(p.home, searchIndex ? 'on' : 'off')
    mkdirSync(home, { recursive: true, mode: 0o700 })
    writeFileSync(join(home, 'config.json'), JSON.stringify({ searchIndex }))
    return startNodeProcess({ home, adminEmail: p.adminEmail, adminPassword: p.adminPassword })
  }
  const nodes: { off?: NodeProcess; on?: NodeProcess } = {}
  try {
    ;[nodes.off, nodes.on] = await Promise.all([start(false), start(true)])
    const compiled = ![nodes.off, nodes.on].some((n) => /through tsx/.test(n.tail()))
    const up = await pairedUploads({ off: nodes.off, on: nodes.on }, { adminEmail: p.adminEmail, adminPassword: p.adminPassword, bundle, pairs: p.pairs })
    const { off, on } = up
    progress(`search: ${p.pairs} pairs of uploads of a ${(bundle.byteLength / 1024).toFixed(0)} KiB FHIR bundle: wall median ${off.medianMs} / ${on.medianMs} ms without / with, paired slowdown ${up.wallSlowdownPct}%; node CPU ${off.cpuMs} / ${on.cpuMs} ms, main thread ${off.mainCpuMs} / ${on.mainCpuMs} ms per upload`)
    await nodes.off.stop()
    nodes.off = undefined
    const api = createApiClient(nodes.on.url)
    await uploadTagged(api, up.doctorToken, up.patientEmail)
    await nodes.on.stop()
    nodes.on = undefined

    const insertStart = performance.now()
    const termsIndexed = insertIndexed(join(p.home, 'on', 'medledger.db'), p.records, p.tokensPerRecord)
    const insertSeconds = (performance.now() - insertStart) / 1000
    progress(`search: ${p.records} records of synthetic patients with ${termsIndexed} tokens in all inserted in ${insertSeconds.toFixed(1)} s`)
    nodes.on = await start(true)
    const again = createApiClient(nodes.on.url)
    const patient = (await again.json<{ token: string }>('POST', '/auth/login', { body: { email: up.patientEmail, password: benchAccountPassword } })).token
    const one = await timeQueries(again, patient, 'benchsearch', p.iterations, 1)
    const bundleMatches = warmUploads + p.pairs
    const all = await timeQueries(again, patient, 'fever', Math.min(p.iterations, 10), bundleMatches)
    const round1 = (x: number) => Math.round(x * 10) / 10
    return {
      search: { records: p.records, termsIndexed, queryP95Ms: one.p95Ms, uploadSlowdownPct: up.wallSlowdownPct },
      context: {
        queryP50Ms: one.p50Ms,
        queryAllBundlesP95Ms: all.p95Ms,
        bundleMatches,
        pairs: p.pairs,
        uploadMedianMsWithout: off.medianMs,
        uploadMedianMsWith: on.medianMs,
        wallSlowdownPct: up.wallSlowdownPct,
        wallMediansSlowdownPct: round1(((on.medianMs - off.medianMs) / off.medianMs) * 100),
        uploadCpuMsWithout: off.cpuMs,
        uploadCpuMsWith: on.cpuMs,
        cpuSlowdownPct: round1(((on.cpuMs - off.cpuMs) / off.cpuMs) * 100),
        mainThreadCpuMsWithout: off.mainCpuMs,
        mainThreadCpuMsWith: on.mainCpuMs,
        compiled,
        bundleBytes: bundle.byteLength,
        insertSeconds: round1(insertSeconds),
        extractMs: extractMs(bundle),
      },
    }
  } finally {
    await Promise.all([nodes.off?.stop(), nodes.on?.stop()])
  }
}

interface NodeFigures { medianMs: number; cpuMs: number; mainCpuMs: number }

/**
 * The bench accounts set up on both nodes, `warmUploads` uploads to each, then `pairs` pairs of
 * uploads (off then on, on then off, …), one at a time. Resolves the figures of each node, the
 * paired wall-clock slowdown, and the indexing node's doctor and patient.
 */
async function pairedUploads(
  nodes: { off: NodeProcess; on: NodeProcess },
  { adminEmail, adminPassword, bundle, pairs }: { adminEmail: string; adminPassword: string; bundle: Uint8Array; pairs: number },
): Promise<{ off: NodeFigures; on: NodeFigures; wallSlowdownPct: number; doctorToken: string; patientEmail: string }> {
  const sides = await Promise.all((['off', 'on'] as const).map(async (name) => {
    const api = createApiClient(nodes[name].url)
    const accounts = await setUpAccounts(api, { adminEmail, adminPassword })
    return { name, node: nodes[name], api, accounts, ms: [] as number[], cpu0: 0, main0: 0 }
  }))
  const upload = async (side: typeof sides[number]) => {
    const t0 = performance.now()
    await uploadRecordOverHttp(side.api, { token: side.accounts.doctor.token, patient: side.accounts.patient.email, body: bundle })
    return performance.now() - t0
  }
  for (let i = 0; i < warmUploads; i++) for (const side of sides) await upload(side)
  for (const side of sides) {
    side.cpu0 = cpuMs(`/proc/${side.node.pid}/stat`)
    side.main0 = cpuMs(`/proc/${side.node.pid}/task/${side.node.pid}/stat`)
  }
  for (let i = 0; i < pairs; i++) {
    for (const side of i % 2 === 0 ? sides : [...sides].reverse()) side.ms.push(await upload(side))
  }
  const figures = (side: typeof sides[number]): NodeFigures => ({
    medianMs: percentiles(side.ms).p50Ms,
    cpuMs: Math.round(((cpuMs(`/proc/${side.node.pid}/stat`) - side.cpu0) / pairs) * 10) / 10,
    mainCpuMs: Math.round(((cpuMs(`/proc/${side.node.pid}/task/${side.node.pid}/stat`) - side.main0) / pairs) * 10) / 10,
  })
  const [off, on] = sides
  // The measure is of the term worker: an upload that fell back to the main thread would not be.
  if (/term worker|content terms not extracted/.test(on.node.tail())) throw new Error(`the indexing node warned about its term worker:\n${on.node.tail()}`)
  const paired = median(on.ms.map((ms, i) => ms - off.ms[i]))
  return {
    off: figures(off),
    on: figures(on),
    wallSlowdownPct: Math.round((paired / median(off.ms)) * 1000) / 10,
    doctorToken: on.accounts.doctor.token,
    patientEmail: on.accounts.patient.email,
  }
}

/** The median (of an even count, the mean of the middle two). */
function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** User + system CPU time so far, in ms, of a process or one of its threads (a /proc stat file; clock ticks of 10 ms). */
function cpuMs(statFile: string): number {
  const stat = readFileSync(statFile, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** Median time to extract a file's terms from 64 KiB chunks and make their tokens (10 runs after 3 warm-ups, as in a node that has run a while). */
function extractMs(bytes: Uint8Array): number {
  const ms: number[] = []
  for (let i = 0; i < 13; i++) {
    const t0 = performance.now()
    const x = new TermExtractor()
    for (let at = 0; at < bytes.byteLength; at += 65536) x.push(bytes.subarray(at, at + 65536))
    recordTokens(randomBytes(32), x.terms('bench.bin'))
    if (i >= 3) ms.push(performance.now() - t0)
  }
  return percentiles(ms).p50Ms
}

/** One small record with the tag the query looks for. */
async function uploadTagged(api: ApiClient, token: string, patient: string): Promise<void> {
  await api.raw('POST', '/records', {
    token,
    headers: { 'x-medledger-patient': patient, 'x-medledger-file-name': 'note.txt', 'x-medledger-tags': 'benchsearch', 'content-type': 'text/plain' },
    body: randomBytes(2048),
  })
}

/** GET /records?q=WORD as the patient, `iterations` times after 3 warm-ups; each answer must hold `expected` records. */
async function timeQueries(api: ApiClient, token: string, word: string, iterations: number, expected: number) {
  const ms: number[] = []
  for (let i = 0; i < 3 + iterations; i++) {
    const t0 = performance.now()
    const r = await api.json<{ total: number }>('GET', `/records?q=${word}&limit=100`, { token })
    if (i >= 3) ms.push(performance.now() - t0)
    if (r.total !== expected) throw new Error(`q=${word} found ${r.total} records, not ${expected}`)
  }
  return percentiles(ms)
}

/**
 * Anchored records of made-up patients of the bench hospital (100 each), each with
 * `tokensPerRecord` random 16-byte tokens, in one transaction. Resolves the tokens in the index.
 */
function insertIndexed(file: string, records: number, tokensPerRecord: number): number {
  const db = new Database(file)
  try {
    const real = db.prepare(`SELECT r.*, a.hospital_id AS patient_hospital FROM records r JOIN accounts a ON a.id = r.patient_id LIMIT 1`).get() as
      { author_id: string; hospital_id: string; suite: string; patient_hospital: string }
    const account = db.prepare(`INSERT INTO accounts (id, email, name, role, hospital_id, address, key_scheme, public_key, keystore, state, created_at)
      VALUES (?, ?, ?, 'patient', ?, ?, 'x25519-hpke', ?, '', 'active', ?)`)
    const record = db.prepare(`INSERT INTO records (record_id, patient_id, author_id, hospital_id, digest, envelopes, suite, stored_bytes, state, tx_hash, block_number, anchored_at, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, 4096, 'anchored', ?, 1, ?, ?)`)
    const token = db.prepare(`INSERT INTO record_tokens (patient_id, token, record_id) VALUES (?, ?, ?)`)
    const hex = (n: number) => `0x${randomBytes(n).toString('hex')}`
    const now = Date.now()
    db.transaction(() => {
      let patientId = ''
      for (let i = 0; i < records; i++) {
        if (i % 100 === 0) {
          patientId = `search-patient-${i / 100}`
          account.run(patientId, `${patientId}@search.test`, `Search patient ${i / 100}`, real.patient_hospital, hex(20), Buffer.alloc(32), now)
        }
        const recordId = hex(32)
        record.run(recordId, patientId, real.author_id, real.hospital_id, hex(32), hex(32), real.suite, hex(32), Math.floor(now / 1000), now - i)
        const tokens = randomBytes(16 * tokensPerRecord)
        for (let t = 0; t < tokensPerRecord; t++) token.run(patientId, tokens.subarray(t * 16, t * 16 + 16), recordId)
      }
    })()
    return (db.prepare('SELECT COUNT(*) AS n FROM record_tokens').get() as { n: number }).n
  } finally {
    db.close()
  }
}
