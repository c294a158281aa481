import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { createApiClient, type ApiClient } from './api-client.ts'
import { percentiles } from './measure-latency.ts'
import { benchAccountPassword, setUpAccounts } from './set-up-accounts.ts'
import { startNodeProcess } from './start-node-process.ts'
import { uploadRecordOverHttp } from './upload-record-over-http.ts'
import { TermExtractor } from '../src/records/search/term-extractor.ts'
import { recordTokens } from '../src/records/search/search-key.ts'

export interface MeasureSearchParams {
  /** An empty directory: the node's home (SQLite in it). */
  home: string
  adminEmail: string
  adminPassword: string
  /** The FHIR bundle uploaded, with and without term extraction. */
  bundle: string
  /** Uploads per phase; six phases (off, on, off, on, off, on). */
  uploadsPerPhase: number
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
    uploadMedianMsWithout: number
    uploadMedianMsWith: number
    /** The slowdown by wall-clock medians: on a shared machine its noise between phases exceeds the effect. */
    wallSlowdownPct: number
    /** CPU time of the node process per upload (user + system, /proc), mean over the phases. */
    uploadCpuMsWithout: number
    uploadCpuMsWith: number
    bundleBytes: number
    insertSeconds: number
    /** Extraction and token computation of the bundle alone, in this process (median of 10, warm): the CPU the upload pays for it. */
    extractMs: number
  }
}

/**
 * Keyword search at a hospital's scale. Upload cost: the same FHIR bundle uploaded over HTTP in
 * six alternating phases, the node restarted between them with `searchIndex` off and on (its
 * config.json): the slowdown is the node process's CPU time per upload with extraction and
 * indexing against without (the wall clock's medians beside it: on a shared machine they move
 * by more than the effect between phases).
 * Query cost: one record tagged for the query among the patient's records; the node stopped,
 * `records` records of synthetic patients and `tokensPerRecord` random tokens each inserted
 * straight into its SQLite database; the node started again and `GET /records?q=` timed as the
 * patient.
 * @throws Error when the node fails or answers wrongly.
 */
/** Uploads at the start of each phase left out of its figures. */
const warmUploads = 5

export async function measureSearch(p: MeasureSearchParams): Promise<MeasureSearchResult> {
  const progress = p.progress ?? (() => {})
  const bundle = new Uint8Array(readFileSync(p.bundle))
  const start = (searchIndex: boolean) => {
    writeFileSync(join(p.home, 'config.json'), JSON.stringify({ searchIndex }))
    return startNodeProcess({ home: p.home, adminEmail: p.adminEmail, adminPassword: p.adminPassword })
  }
  let node = await start(false)
  try {
    let api = createApiClient(node.url)
    const accounts = await setUpAccounts(api, { adminEmail: p.adminEmail, adminPassword: p.adminPassword })
    const login = async (email: string) => (await api.json<{ token: string }>('POST', '/auth/login', { body: { email, password: benchAccountPassword } })).token
    const ms: Record<'on' | 'off', number[]> = { on: [], off: [] }
    const cpu: Record<'on' | 'off', number[]> = { on: [], off: [] }
    for (const phase of ['off', 'on', 'off', 'on', 'off', 'on'] as const) {
      await node.stop()
      node = await start(phase === 'on')
      api = createApiClient(node.url)
      const doctor = await login(accounts.doctor.email)
      let cpu0 = 0
      for (let i = 0; i < warmUploads + p.uploadsPerPhase; i++) {
        if (i === warmUploads) cpu0 = cpuMs(node.pid) // the first few of a phase warm the node up (its JIT for the extractor too)
        const t0 = performance.now()
        await uploadRecordOverHttp(api, { token: doctor, patient: accounts.patient.email, body: bundle })
        if (i >= warmUploads) ms[phase].push(performance.now() - t0)
      }
      cpu[phase].push((cpuMs(node.pid) - cpu0) / p.uploadsPerPhase)
    }
    const without = percentiles(ms.off).p50Ms
    const withIndex = percentiles(ms.on).p50Ms
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    const cpuWithout = mean(cpu.off)
    const cpuWith = mean(cpu.on)
    progress(`search: upload of a ${(bundle.byteLength / 1024).toFixed(0)} KiB FHIR bundle, node CPU ${cpuWithout.toFixed(1)} ms without extraction, ${cpuWith.toFixed(1)} ms with; wall median ${without} / ${withIndex} ms`)
    await uploadTagged(api, await login(accounts.doctor.email), accounts.patient.email)

    await node.stop()
    const insertStart = performance.now()
    const termsIndexed = insertIndexed(join(p.home, 'medledger.db'), p.records, p.tokensPerRecord)
    const insertSeconds = (performance.now() - insertStart) / 1000
    progress(`search: ${p.records} records of synthetic patients with ${termsIndexed} tokens in all inserted in ${insertSeconds.toFixed(1)} s`)
    node = await start(true)
    api = createApiClient(node.url)
    const patient = await login(accounts.patient.email)
    const one = await timeQueries(api, patient, 'benchsearch', p.iterations, 1)
    const all = await timeQueries(api, patient, 'fever', Math.min(p.iterations, 10), 3 * (p.uploadsPerPhase + warmUploads))
    return {
      search: { records: p.records, termsIndexed, queryP95Ms: one.p95Ms, uploadSlowdownPct: Math.round(((cpuWith - cpuWithout) / cpuWithout) * 1000) / 10 },
      context: {
        queryP50Ms: one.p50Ms,
        queryAllBundlesP95Ms: all.p95Ms,
        bundleMatches: 3 * (p.uploadsPerPhase + warmUploads),
        uploadMedianMsWithout: without,
        uploadMedianMsWith: withIndex,
        wallSlowdownPct: Math.round(((withIndex - without) / without) * 1000) / 10,
        uploadCpuMsWithout: Math.round(cpuWithout * 10) / 10,
        uploadCpuMsWith: Math.round(cpuWith * 10) / 10,
        bundleBytes: bundle.byteLength,
        insertSeconds: Math.round(insertSeconds * 10) / 10,
        extractMs: extractMs(bundle),
      },
    }
  } finally {
    await node.stop()
  }
}

/** User + system CPU time of a process so far, in ms (/proc/PID/stat, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
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
