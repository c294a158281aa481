/**
 * MedLedger benchmarks: `npm run bench` prints a table, `npm run bench -- --json` prints one
 * JSON object as the last line of stdout (progress goes to stderr). Every figure is measured in
 * this run next to its baseline or target:
 *
 * - the upload pipeline (plaintext SHA-256 + encryptStream + addCiphertext on a real Helia)
 *   against Node's own AES-256-GCM + SHA-256 over the same bytes on one core;
 * - 1 MiB upload and read latency through the HTTP API of a node started as a child process;
 * - the node's RSS growth while one 1 GiB record streams in;
 * - gas of one anchor and one account registration, from the receipts on the node's chain, and
 *   per record when 100 records share one batch root (`anchorBatch` on a fresh anvil), and per
 *   read entry when 100 reads share one `logAccessBatch` (on a fresh anvil);
 * - a consortium of two nodes on one anvil: a doctor of B reading a 1 MiB record only A holds
 *   (first over bitswap, then cached), against the one-node read; the lag until B pins records
 *   uploaded on A;
 * - the CLI's wall clock (`medledger --help`, `medledger record list --json` against the node)
 *   against `node -e ""`, in the same rounds;
 * - 1 MiB reads again once their blocks are in the node's cache (`readCached1MiB`);
 * - FHIR (`fhir`): a DocumentReference search over a patient with 100 records, and FHIR Binary
 *   reads next to native reads of the same 1 MiB records;
 * - many clients at once (`load`): 64 clients for 30 s over keep-alive HTTP on loopback, mixing
 *   64 KiB uploads with reads of existing records, and the node's peak RSS meanwhile.
 *
 * - a hospital's archive (`scale`): 1,000,000 records in a node's database (all but one patient's
 *   100 inserted straight into SQLite), that patient's listing and `GET /status`; and `verify
 *   --all` (`POST /verify { all: true }`) over MEDLEDGER_BENCH_VERIFY_MB (default 1024, the issue's
 *   figure; `--quick` 32) of records uploaded first (`verifyAllMBps`).
 * - keyword search (`search`): a FHIR bundle uploaded with and without term extraction (two
 *   nodes at once, searchIndex off and on, single uploads alternating between them; the wall-clock
 *   slowdown paired, CPU beside it), then 100,000 records of synthetic patients with
 *   20 tokens each inserted straight into SQLite and `GET /records?q=` timed as a patient.
 *
 * `--quick` shrinks every size for a smoke run (its figures are not the benchmark's).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, loadavg, totalmem, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Address, Hex } from 'viem'
import { openIpfs, type Ipfs } from '../src/storage/open-ipfs.ts'
import { createApiClient } from './api-client.ts'
import { createRandomPool } from './random-source.ts'
import { measureBaseline, type MeasureBaselineResult } from './measure-baseline.ts'
import { measurePipeline, measurePipelineParts, type MeasurePipelineResult } from './measure-pipeline.ts'
import { startNodeProcess, type NodeProcess } from './start-node-process.ts'
import { benchAccountPassword, setUpAccounts } from './set-up-accounts.ts'
import { measureCli } from './measure-cli.ts'
import { measureLatency } from './measure-latency.ts'
import { measureRss } from './measure-rss.ts'
import { measureGas } from './measure-gas.ts'
import { measureBatchGas } from './measure-batch-gas.ts'
import { measureAuditBatchGas } from './measure-audit-batch-gas.ts'
import { measureTeamGas } from './measure-team-gas.ts'
import { measureEmergencyShareGas } from './measure-emergency-share-gas.ts'
import { measureErasureGas } from './measure-erasure-gas.ts'
import { measureRecoveryGas } from './measure-recovery-gas.ts'
import { measureRekeyGas } from './measure-rekey-gas.ts'
import { measureResearchGas } from './measure-research-gas.ts'
import { measureConsent } from './measure-consent.ts'
import { measureConsortium } from './measure-consortium.ts'
import { measureCachedRead } from './measure-cached-read.ts'
import { measureFhir } from './measure-fhir.ts'
import { measureLoad } from './measure-load.ts'
import { measureScale } from './measure-scale.ts'
import { measureSearch } from './measure-search.ts'

const MiB = 1 << 20
const { values: flags } = parseArgs({ options: { json: { type: 'boolean' }, quick: { type: 'boolean' } }, strict: true })
const sizes = flags.quick === true
  ? { pipeline: 32 * MiB, pipelineRuns: 1, rss: 64 * MiB, iterations: 8, warmups: 2, crossNodeReads: 3, replicated: 10, cliRuns: 5, loadClients: 8, loadSeconds: 5, scaleRecords: 20_000, verifyMB: 32, searchRecords: 10_000, searchUploads: 10 }
  : { pipeline: 256 * MiB, pipelineRuns: 3 /* odd: the median is a run */, rss: 1024 * MiB, iterations: 50, warmups: 3, crossNodeReads: 5, replicated: 50, cliRuns: 15, loadClients: 64, loadSeconds: 30, scaleRecords: 1_000_000, verifyMB: 1024, searchRecords: 100_000, searchUploads: 100 }

const targets = {
  pipelineRatio: { min: 0.8, text: '≥ 0.8' },
  rssGrowthMiBFor1GiB: { below: 100, text: '< 100 MiB' },
  gasAnchor: { max: 60_000, text: '≤ 60,000' },
  gasAnchorPerRecordBatched100: { max: 1_000, text: '≤ 1,000' },
  gasApprove: { max: 60_000, text: '≤ 60,000' },
  gasAuditRead: { max: 30_000, text: '≤ 30,000' },
  gasTeamGrant: { max: 60_000, text: '≤ 60,000' },
  gasEmergencyShareRelease: { max: 60_000, text: '≤ 60,000' },
  gasResearchExportRequest: { max: 60_000, text: '≤ 60,000' },
  gasResearchExportPart: { max: 100_000, text: '≤ 100,000' },
  crossNodeFirstReadMs: { below: 250, text: 'first p50 < 250 ms' },
  replicationLagP95Ms: { below: 2_000, text: 'p95 < 2 s' },
  cliHelpMs: { max: 300, text: '≤ 300 ms' },
  cliListMs: { max: 600, text: '≤ 600 ms' },
  readCachedP50Ms: { below: 5, text: 'p50 < 5 ms' },
  fhirSearchP95Ms: { below: 50, text: 'p95 < 50 ms' },
  scaleListPatientP95Ms: { below: 20, text: 'p95 < 20 ms' },
  verifyAllMBps: { min: 500, text: '≥ 500 MB/s' },
  fhirReadOverNative: { max: 1.1, text: 'within 10% of native' },
  loadUploadsPerS: { min: 200, text: '≥ 200 /s' },
  loadUploadP95Ms: { below: 1_000, text: 'p95 < 1 s' },
  loadErrors: { max: 0, text: '0' },
  loadRssPeakMiB: { below: 400, text: '< 400 MiB' },
  searchQueryP95Ms: { below: 50, text: 'p95 < 50 ms' },
  searchUploadSlowdownPct: { below: 10, text: '< 10%' },
}
/** The whole run must not outlive this, whatever hangs. */
// 12 min: the search measure (two nodes, one started again, 100,000 records inserted) adds about 3.
const deadlineMs = 12 * 60_000

const progress = (msg: string) => process.stderr.write(`[bench ${((performance.now()) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`)
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits
/** The median of `xs` (the mean of the middle two for an even count). */
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

// Undone in reverse order on success, failure, a signal or the deadline.
const cleanups: { name: string; fn: () => Promise<void> }[] = []
let cleaning: Promise<void> | undefined
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const { name, fn } of cleanups.reverse()) {
      try { await fn() } catch (err) { progress(`cleanup of ${name} failed: ${(err as Error).message}`) }
    }
    cleanups.length = 0
  })()
  return cleaning
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: cleaning up`)
    void cleanUp().finally(() => process.exit(130))
  })
}
setTimeout(() => {
  progress(`deadline of ${deadlineMs / 1000} s passed: cleaning up`)
  void cleanUp().finally(() => process.exit(1))
}, deadlineMs).unref()

/** How busy the machine is besides us: the figures are only comparable on a quiet machine. */
function machineLoad(): { loadavg1: number; cpuPressureSomeAvg10: number | null; ioPressureFullAvg10: number | null } {
  // Linux pressure stall information: % of the last 10 s that tasks waited for CPU / all waited for I/O.
  const psi = (resource: 'cpu' | 'io', line: 'some' | 'full') => {
    try {
      const m = new RegExp(`^${line} avg10=([\\d.]+)`, 'm').exec(readFileSync(`/proc/pressure/${resource}`, 'utf8'))
      return m ? Number(m[1]) : null
    } catch {
      return null
    }
  }
  return { loadavg1: round(loadavg()[0], 2), cpuPressureSomeAvg10: psi('cpu', 'some'), ioPressureFullAvg10: psi('io', 'full') }
}

/** Which code was measured: the commit and the source files changed since. */
function codeVersion(): { commit: string; changedSrc: string[] } | null {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: new URL('..', import.meta.url), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    return { commit: git('rev-parse', '--short', 'HEAD').trim(), changedSrc: git('status', '--porcelain', '--', 'src').split('\n').filter(l => l !== '').map(l => l.slice(3)) }
  } catch {
    return null
  }
}

async function main(): Promise<Record<string, unknown>> {
  const loadAtStart = machineLoad()
  const cpu = cpus()
  const machine = { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, memGiB: round(totalmem() / 1024 ** 3), node: process.version, platform: `${process.platform}-${process.arch}` }
  progress(`machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load ${loadAtStart.loadavg1}, CPU/IO pressure ${loadAtStart.cpuPressureSomeAvg10}%/${loadAtStart.ioPressureFullAvg10}%${flags.quick === true ? ' (QUICK run: figures are not the benchmark\'s)' : ''}`)

  const tmp = await mkdtemp(join(tmpdir(), 'medledger-bench-'))
  cleanups.push({ name: `temp dir ${tmp}`, fn: () => rm(tmp, { recursive: true, force: true }) })

  // Generated before anything is timed; every input below is cycled from it.
  const pool = createRandomPool(16 * MiB)

  // --- Throughput: baseline and pipeline runs interleaved (baseline first and last), medians
  // compared, so drift in the machine's speed touches both sides alike.
  // Each pipeline run stores into a fresh Helia, removed afterwards, so no run pays for the
  // writeback of an earlier one.
  let ipfsRuns = 0
  const withFreshIpfs = async <T>(fn: (ipfs: Ipfs) => Promise<T>): Promise<T> => {
    const dir = join(tmp, `ipfs-${ipfsRuns++}`)
    const ipfs = await openIpfs({ dir })
    try {
      return await fn(ipfs)
    } finally {
      await ipfs.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
  measureBaseline(pool, { bytes: 32 * MiB }) // warm-up
  await withFreshIpfs(async ipfs => measurePipeline({ ipfs, pool, bytes: 32 * MiB })) // warm-up
  progress(`throughput: ${sizes.pipelineRuns} × (baseline, pipeline) of ${sizes.pipeline / MiB} MiB each, Helia under ${tmp}`)
  const baselineRuns: MeasureBaselineResult[] = []
  const pipelineRuns: MeasurePipelineResult[] = []
  for (let i = 0; i < sizes.pipelineRuns; i++) {
    baselineRuns.push(measureBaseline(pool, { bytes: sizes.pipeline }))
    pipelineRuns.push(await withFreshIpfs(async ipfs => measurePipeline({ ipfs, pool, bytes: sizes.pipeline })))
    progress(`  baseline ${round(baselineRuns[i].mbps)} MB/s, pipeline ${round(pipelineRuns[i].mbps)} MB/s (${round(pipelineRuns[i].seconds, 2)} s)`)
  }
  baselineRuns.push(measureBaseline(pool, { bytes: sizes.pipeline }))
  progress(`  baseline ${round(baselineRuns.at(-1)!.mbps)} MB/s`)
  const baselineMBps = median(baselineRuns.map(r => r.mbps))
  // An odd number of runs, so the median is one of them.
  const pipeline = pipelineRuns.find(r => r.mbps === median(pipelineRuns.map(p => p.mbps)))!

  progress('pipeline parts: encryption alone, then storage alone')
  const parts = await withFreshIpfs(async ipfs => measurePipelineParts({ ipfs, pool, bytes: sizes.pipeline }))
  progress(`encrypt only ${round(parts.encryptOnlyMBps)} MB/s, store only ${round(parts.storeOnlyMBps)} MB/s`)

  // --- The node, as a child process, driven over HTTP.
  const adminEmail = 'admin@bench.test'
  const adminPassword = 'bench-admin-password-0123456789'
  progress('node: starting `node bin/medledger.js start --port 0`')
  let node: NodeProcess
  try {
    node = await startNodeProcess({ home: join(tmp, 'node'), adminEmail, adminPassword })
  } catch (err) {
    throw new Error(`the node did not start: ${(err as Error).message}`)
  }
  cleanups.push({ name: `node pid ${node.pid}`, fn: () => node.stop() })
  progress(`node: pid ${node.pid} listening on ${node.url}`)
  const api = createApiClient(node.url)
  try {
    const accounts = await setUpAccounts(api, { adminEmail, adminPassword })
    progress(`accounts: hospital ${accounts.hospitalId}, doctor ${accounts.doctor.address}, patient ${accounts.patient.address}`)

    progress(`latency: ${sizes.warmups} + ${sizes.iterations} uploads of 1 MiB, then as many reads`)
    const latency = await measureLatency(api, accounts, pool, { iterations: sizes.iterations, warmups: sizes.warmups })
    progress(`latency: upload p50 ${latency.upload1MiB.p50Ms} ms p95 ${latency.upload1MiB.p95Ms} ms; read p50 ${latency.read1MiB.p50Ms} ms p95 ${latency.read1MiB.p95Ms} ms`)

    progress(`cached reads: ${sizes.warmups} + ${sizes.iterations} reads of the same 1 MiB records again, their blocks now in the node's cache`)
    const cached = await measureCachedRead(api, accounts, latency.uploads, { iterations: sizes.iterations, warmups: sizes.warmups })
    progress(`cached reads: p50 ${cached.readCached1MiB.p50Ms} ms p95 ${cached.readCached1MiB.p95Ms} ms; cache hits ${cached.cacheBefore?.hits ?? '?'} → ${cached.cacheAfter?.hits ?? '?'}, misses ${cached.cacheBefore?.misses ?? '?'} → ${cached.cacheAfter?.misses ?? '?'}`)

    progress(`fhir: the patient topped up to 100 records, ${sizes.warmups} + ${sizes.iterations} DocumentReference searches, then FHIR Binary and native reads of the same 1 MiB records, interleaved`)
    const fhir = await measureFhir(api, accounts, pool, { uploads: latency.uploads, iterations: sizes.iterations, warmups: sizes.warmups })
    progress(`fhir: search p95 ${fhir.searchDocRef100.p95Ms} ms (total ${fhir.context.searchTotal}); Binary read p50 ${fhir.binaryRead1MiB.p50Ms} ms, native read p50 ${fhir.nativeRead1MiB.p50Ms} ms`)

    progress(`cli: ${sizes.cliRuns} rounds of node -e "", medledger --help, medledger record list --json (as the doctor)`)
    const cli = await measureCli({ api: node.url, email: accounts.doctor.email, password: benchAccountPassword, runs: sizes.cliRuns, warmups: 2 })
    progress(`cli: --help ${cli.helpMs} ms, record list ${cli.listMs} ms (${cli.records} records), node -e "" ${cli.nodeBaselineMs} ms${cli.compiled ? '' : ' — bin ran the sources through tsx: dist/ is missing or stale'}`)

    const status = await api.json<{ chainRpc: string; contracts: { registry: Address; recordLedger: Address; consent: Address } }>('GET', '/status')
    const gas = await measureGas({
      chainRpc: status.chainRpc,
      registry: status.contracts.registry,
      anchorTx: latency.uploads[0].txHash as Hex,
      account: accounts.patient.address as Address,
      hospital: accounts.hospitalAddress as Address,
    })
    progress(`gas: anchor ${gas.anchor}, register ${gas.register}`)
    const batchGas = await measureBatchGas({ records: 100 })
    progress(`gas: one root of ${batchGas.records} records ${batchGas.batch}, ${batchGas.perRecord} per record`)
    const auditGas = await measureAuditBatchGas({ entries: 100 })
    progress(`gas: one audit batch of ${auditGas.entries} reads ${auditGas.batch}, ${auditGas.perEntry} per read; a batch of one ${auditGas.single}`)
    const teamGas = await measureTeamGas()
    progress(`gas: team grant ${teamGas.teamGrant}, add member ${teamGas.teamAddMember}, remove member ${teamGas.teamRemoveMember}, a member's read alone ${teamGas.teamAuditRead}`)
    const shareGas = await measureEmergencyShareGas()
    progress(`gas: emergency share release ${shareGas.emergencyShareRelease}, old record moved to shares ${shareGas.emergencySharesMove}, emergency key rotation ${shareGas.emergencyKeyRotation}`)
    const erasureGas = await measureErasureGas()
    progress(`gas: erasure request ${erasureGas.erasureRequest}, reject ${erasureGas.erasureReject}, confirm ${erasureGas.erasureConfirm}`)
    const recoveryGas = await measureRecoveryGas()
    progress(`gas: account recovery proposed ${recoveryGas.recoveryPropose}, approved ${recoveryGas.recoveryApprove}, share released ${recoveryGas.recoveryShareRelease}`)
    const rekeyGas = await measureRekeyGas()
    progress(`gas: re-key anchor (supersede) ${rekeyGas.rekey}, the patient's leave for the author ${rekeyGas.rekeyLeave}, the author's re-key ${rekeyGas.rekeyByAuthor}`)
    const researchGas = await measureResearchGas()
    progress(`gas: study export across nodes requested ${researchGas.researchExportRequest}, one hospital's part ${researchGas.researchExportPart}, recorded ${researchGas.researchExportRecord}`)

    progress('consent: a second hospital\'s doctor asks, the patient approves, granted reads, revoke, share, break-glass')
    const consent = await measureConsent(api, accounts, {
      adminEmail, adminPassword, uploads: latency.uploads, iterations: sizes.iterations, warmups: sizes.warmups,
      chainRpc: status.chainRpc, consent: status.contracts.consent,
    })
    progress(`consent: gas ${JSON.stringify(consent.gas)}; granted read p50 ${consent.grantedRead1MiB.p50Ms} ms p95 ${consent.grantedRead1MiB.p95Ms} ms`)

    progress(`load: ${sizes.loadClients} clients for ${sizes.loadSeconds} s, 64 KiB uploads and reads of existing records over keep-alive HTTP (loadavg ${machineLoad().loadavg1})`)
    const load = await measureLoad({ url: node.url, accounts, pool, pid: node.pid, clients: sizes.loadClients, seconds: sizes.loadSeconds })
    progress(`load: ${load.uploadsPerS} uploads/s (p95 ${load.uploadP95Ms} ms), ${load.readsPerS} reads/s (p95 ${load.readP95Ms} ms), ${load.errors} errors${load.errors > 0 ? ` e.g. ${load.context.errorSamples.slice(0, 3).join('; ')}` : ''}, RSS peak ${load.rssPeakMiB} MiB`)

    progress(`rss: one ${sizes.rss / MiB} MiB upload streamed from a generator, VmRSS of pid ${node.pid} every 20 ms`)
    const rss = await measureRss(api, accounts, pool, { pid: node.pid, bytes: sizes.rss })
    progress(`rss: +${rss.growthMiB} MiB (from ${rss.baselineMiB} to ${rss.peakMiB} MiB; VmHWM +${rss.hwmGrowthMiB ?? '?'} MiB) in ${rss.seconds} s, ${rss.mbps} MB/s`)

    // The single node has nothing left to do: stopped so that its process does not share the two
    // cores with the consortium's.
    await node.stop()
    progress(`consortium: anvil and two nodes under ${join(tmp, 'consortium')}, ${sizes.crossNodeReads} cross-node reads, ${sizes.replicated} replicated records`)
    const consortium = await measureConsortium({
      dir: join(tmp, 'consortium'), pool, readRecords: sizes.crossNodeReads, replicatedRecords: sizes.replicated, adminEmail, adminPassword,
      defer: (name, fn) => { cleanups.push({ name, fn }) }, progress,
    })

    const verifyMB = process.env.MEDLEDGER_BENCH_VERIFY_MB === undefined ? sizes.verifyMB : Number(process.env.MEDLEDGER_BENCH_VERIFY_MB)
    if (!Number.isInteger(verifyMB) || verifyMB < 1) throw new Error(`MEDLEDGER_BENCH_VERIFY_MB: a whole number of MB, got ${process.env.MEDLEDGER_BENCH_VERIFY_MB}`)
    progress(`scale: a node with ${sizes.scaleRecords} records (all but one patient's 100 inserted into its database); first verify --all over ${verifyMB} MB of records uploaded (MEDLEDGER_BENCH_VERIFY_MB; default 1024, the issue's figure, --quick 32)`)
    const scale = await measureScale({ home: join(tmp, 'scale'), pool, adminEmail, adminPassword, records: sizes.scaleRecords, verifyBytes: verifyMB * 1e6, verifyRecordBytes: 16 * MiB, iterations: sizes.iterations, progress })
    progress(`scale: listing p95 ${scale.scale.listPatientP95Ms} ms (its SQL alone ${scale.context.listPatientSqlP95Ms} ms), status ${scale.scale.statusMs} ms; verify --all ${scale.verifyAllMBps} MB/s`)
    const search = await measureSearch({
      home: join(tmp, 'search'), adminEmail, adminPassword, bundle: join(import.meta.dirname, '..', '..', 'shared', 'fixtures', 'fhir', 'Denisha680_Keeling57_6a93e0ad-9bd0-6d85-34a7-015186f7880a.json'),
      pairs: sizes.searchUploads, records: sizes.searchRecords, tokensPerRecord: 20, iterations: sizes.iterations, progress,
    })
    progress(`search: query p95 ${search.search.queryP95Ms} ms over ${search.search.termsIndexed} tokens; upload slowdown ${search.search.uploadSlowdownPct}%`)

    const pipelineRatio = pipeline.mbps / baselineMBps
    return {
      baselineMBps: round(baselineMBps),
      pipelineMBps: round(pipeline.mbps),
      pipelineRatio: round(pipelineRatio, 3),
      upload1MiB: latency.upload1MiB,
      read1MiB: latency.read1MiB,
      readCached1MiB: cached.readCached1MiB,
      fhir: { searchDocRef100P95Ms: fhir.searchDocRef100.p95Ms, binaryRead1MiBP50Ms: fhir.binaryRead1MiB.p50Ms, nativeRead1MiBP50Ms: fhir.nativeRead1MiB.p50Ms },
      load: { clients: load.clients, seconds: load.seconds, uploadsPerS: load.uploadsPerS, uploadP95Ms: load.uploadP95Ms, readsPerS: load.readsPerS, readP95Ms: load.readP95Ms, errors: load.errors, rssPeakMiB: load.rssPeakMiB },
      rssGrowthMiBFor1GiB: rss.growthMiB,
      gas: { anchor: gas.anchor, anchorPerRecordBatched100: batchGas.perRecord, register: gas.register, ...consent.gas, auditReadBatched100: auditGas.perEntry, teamGrant: teamGas.teamGrant, teamAddMember: teamGas.teamAddMember, teamRemoveMember: teamGas.teamRemoveMember, teamAuditRead: teamGas.teamAuditRead, ...shareGas, ...erasureGas, ...recoveryGas, rekey: rekeyGas.rekey, rekeyLeave: rekeyGas.rekeyLeave, rekeyByAuthor: rekeyGas.rekeyByAuthor, ...researchGas },
      grantedRead1MiB: consent.grantedRead1MiB,
      crossNodeRead1MiB: consortium.crossNodeRead1MiB,
      scale: scale.scale,
      verifyAllMBps: scale.verifyAllMBps,
      search: search.search,
      replicationLagMs: consortium.replicationLagMs,
      cli: { helpMs: cli.helpMs, listMs: cli.listMs, nodeBaselineMs: cli.nodeBaselineMs },
      targets: {
        pipelineRatio: { target: targets.pipelineRatio.text, met: pipelineRatio >= targets.pipelineRatio.min },
        rssGrowthMiBFor1GiB: { target: targets.rssGrowthMiBFor1GiB.text, met: rss.growthMiB < targets.rssGrowthMiBFor1GiB.below },
        gasAnchor: { target: targets.gasAnchor.text, met: gas.anchor <= targets.gasAnchor.max },
        gasAnchorPerRecordBatched100: { target: targets.gasAnchorPerRecordBatched100.text, met: batchGas.perRecord <= targets.gasAnchorPerRecordBatched100.max },
        gasApprove: { target: targets.gasApprove.text, met: consent.gas.approve <= targets.gasApprove.max },
        gasAuditRead: { target: targets.gasAuditRead.text, met: consent.gas.auditRead <= targets.gasAuditRead.max },
        gasTeamGrant: { target: targets.gasTeamGrant.text, met: teamGas.teamGrant <= targets.gasTeamGrant.max },
        gasEmergencyShareRelease: { target: targets.gasEmergencyShareRelease.text, met: shareGas.emergencyShareRelease <= targets.gasEmergencyShareRelease.max },
        crossNodeRead1MiB: { target: targets.crossNodeFirstReadMs.text, met: consortium.crossNodeRead1MiB.p50Ms < targets.crossNodeFirstReadMs.below },
        replicationLagMs: { target: targets.replicationLagP95Ms.text, met: consortium.replicationLagMs.p95 < targets.replicationLagP95Ms.below },
        cliHelpMs: { target: targets.cliHelpMs.text, met: cli.helpMs <= targets.cliHelpMs.max },
        cliListMs: { target: targets.cliListMs.text, met: cli.listMs <= targets.cliListMs.max },
        readCached1MiB: { target: targets.readCachedP50Ms.text, met: cached.readCached1MiB.p50Ms < targets.readCachedP50Ms.below },
        fhirSearch: { target: targets.fhirSearchP95Ms.text, met: fhir.searchDocRef100.p95Ms < targets.fhirSearchP95Ms.below },
        fhirRead: { target: targets.fhirReadOverNative.text, met: fhir.binaryRead1MiB.p50Ms <= fhir.nativeRead1MiB.p50Ms * targets.fhirReadOverNative.max },
        loadUploadsPerS: { target: targets.loadUploadsPerS.text, met: load.uploadsPerS >= targets.loadUploadsPerS.min },
        searchQueryP95Ms: { target: targets.searchQueryP95Ms.text, met: search.search.queryP95Ms < targets.searchQueryP95Ms.below },
        searchUploadSlowdownPct: { target: targets.searchUploadSlowdownPct.text, met: search.search.uploadSlowdownPct < targets.searchUploadSlowdownPct.below },
        loadUploadP95Ms: { target: targets.loadUploadP95Ms.text, met: load.uploadP95Ms < targets.loadUploadP95Ms.below },
        loadErrors: { target: targets.loadErrors.text, met: load.errors <= targets.loadErrors.max },
        loadRssPeakMiB: { target: targets.loadRssPeakMiB.text, met: load.rssPeakMiB < targets.loadRssPeakMiB.below },
        scaleListPatientP95Ms: { target: targets.scaleListPatientP95Ms.text, met: scale.scale.listPatientP95Ms < targets.scaleListPatientP95Ms.below },
        verifyAllMBps: { target: targets.verifyAllMBps.text, met: scale.verifyAllMBps >= targets.verifyAllMBps.min },
      },
      context: {
        quick: flags.quick === true,
        machine,
        load: { atStart: loadAtStart, atEnd: machineLoad() },
        code: codeVersion(),
        pipelineBytes: sizes.pipeline,
        pipelineSeconds: round(pipeline.seconds, 3),
        pipelinePlaintextSha256: pipeline.plaintextSha256,
        pipelineRootCid: pipeline.cid,
        pipelineStoredBytes: pipeline.storedBytes,
        baselineRunsMBps: baselineRuns.map(r => round(r.mbps)),
        pipelineRunsMBps: pipelineRuns.map(r => round(r.mbps)),
        // Each pipeline run against the mean of the baselines run just before and after it.
        pipelineRatioPerRun: pipelineRuns.map((r, i) => round(r.mbps / ((baselineRuns[i].mbps + baselineRuns[i + 1].mbps) / 2), 3)),
        encryptOnlyMBps: round(parts.encryptOnlyMBps),
        storeOnlyMBps: round(parts.storeOnlyMBps),
        latencyIterations: sizes.iterations,
        latencyWarmups: sizes.warmups,
        rss: {
          bytes: sizes.rss,
          baselineMiB: rss.baselineMiB,
          peakMiB: rss.peakMiB,
          vmHwmGrowthMiB: rss.hwmGrowthMiB,
          samples: rss.samples,
          maxSampleGapMs: rss.maxSampleGapMs,
          uploadSeconds: rss.seconds,
          uploadMBps: rss.mbps,
          recordId: rss.record.recordId,
        },
        gasAddHospital: gas.addHospital,
        gasAnchorBatch100: batchGas.batch,
        gasEmergencyRelease: consent.gasEmergencyRelease,
        grantedRecords: consent.grantedRecords,
        consortium: consortium.context,
        cli: { runs: sizes.cliRuns, compiled: cli.compiled, listedRecords: cli.records },
        cache: { beforeCachedReads: cached.cacheBefore, afterCachedReads: cached.cacheAfter },
        fhir: { ...fhir.context, searchDocRef100: fhir.searchDocRef100, binaryRead1MiB: fhir.binaryRead1MiB, nativeRead1MiB: fhir.nativeRead1MiB },
        loadTest: load.context,
        scale: scale.context,
        search: search.context,
      },
    }
  } catch (err) {
    process.stderr.write(`--- node output (last lines) ---\n${node.tail()}\n---\n`)
    throw err
  }
}

function table(r: Record<string, any>): string {
  const yes = (met: boolean) => (met ? 'yes' : 'NO')
  const c = r.context.consortium
  const rows: string[][] = [
    ['figure', 'value', 'baseline / target', 'met'],
    [`encrypt+SHA-256 baseline (Node, 1 core), median`, `${r.baselineMBps} MB/s`, 'runs ' + r.context.baselineRunsMBps.join(', '), ''],
    [`upload pipeline, ${r.context.pipelineBytes / MiB} MiB in-process, median`, `${r.pipelineMBps} MB/s`, 'runs ' + r.context.pipelineRunsMBps.join(', '), ''],
    ['  ratio pipeline / baseline', String(r.pipelineRatio), r.targets.pipelineRatio.target, yes(r.targets.pipelineRatio.met)],
    ['  encryption alone (SHA-256 + encryptStream)', `${r.context.encryptOnlyMBps} MB/s`, '', ''],
    ['  storage alone (addCiphertext)', `${r.context.storeOnlyMBps} MB/s`, '', ''],
    ['upload 1 MiB over HTTP, anchor mined', `p50 ${r.upload1MiB.p50Ms} ms, p95 ${r.upload1MiB.p95Ms} ms`, `${r.context.latencyIterations} runs`, ''],
    ['read 1 MiB over HTTP, as the patient', `p50 ${r.read1MiB.p50Ms} ms, p95 ${r.read1MiB.p95Ms} ms`, `${r.context.latencyIterations} runs`, ''],
    ['read 1 MiB again, blocks in the node\'s cache', `p50 ${r.readCached1MiB.p50Ms} ms, p95 ${r.readCached1MiB.p95Ms} ms`, r.targets.readCached1MiB.target, yes(r.targets.readCached1MiB.met)],
    [`FHIR: DocumentReference search, patient with ${r.context.fhir.records} records (p95)`, `${r.fhir.searchDocRef100P95Ms} ms`, r.targets.fhirSearch.target, yes(r.targets.fhirSearch.met)],
    ['FHIR: Binary read of 1 MiB (bytes) / native read of the same (p50)', `${r.fhir.binaryRead1MiBP50Ms} / ${r.fhir.nativeRead1MiBP50Ms} ms`, r.targets.fhirRead.target, yes(r.targets.fhirRead.met)],
    [`load: ${r.load.clients} clients × ${r.load.seconds} s, 64 KiB uploads`, `${r.load.uploadsPerS} /s`, r.targets.loadUploadsPerS.target, yes(r.targets.loadUploadsPerS.met)],
    ['  upload latency under load', `p50 ${r.context.loadTest.uploadP50Ms} ms, p95 ${r.load.uploadP95Ms} ms`, r.targets.loadUploadP95Ms.target, yes(r.targets.loadUploadP95Ms.met)],
    ['  reads of existing records under load', `${r.load.readsPerS} /s, p50 ${r.context.loadTest.readP50Ms} ms, p95 ${r.load.readP95Ms} ms`, '', ''],
    ['  errors', String(r.load.errors), r.targets.loadErrors.target, yes(r.targets.loadErrors.met)],
    ['  node RSS peak during the load', `${r.load.rssPeakMiB} MiB (${r.context.loadTest.rssBeforeMiB} MiB before)`, r.targets.loadRssPeakMiB.target, yes(r.targets.loadRssPeakMiB.met)],
    [`node RSS growth, ${r.context.rss.bytes / MiB} MiB streamed upload`, `${r.rssGrowthMiBFor1GiB} MiB`, r.targets.rssGrowthMiBFor1GiB.target, yes(r.targets.rssGrowthMiBFor1GiB.met)],
    ['  (VmHWM growth; upload speed)', `${r.context.rss.vmHwmGrowthMiB ?? '?'} MiB`, `${r.context.rss.uploadMBps} MB/s`, ''],
    ['gas: anchor', String(r.gas.anchor), r.targets.gasAnchor.target, yes(r.targets.gasAnchor.met)],
    ['gas: anchor per record, 100 records per root', String(r.gas.anchorPerRecordBatched100), r.targets.gasAnchorPerRecordBatched100.target, yes(r.targets.gasAnchorPerRecordBatched100.met)],
    ['gas: account registration', String(r.gas.register), '', ''],
    ['gas: access request', String(r.gas.request), '', ''],
    ['gas: approve (patient-signed grant)', String(r.gas.approve), r.targets.gasApprove.target, yes(r.targets.gasApprove.met)],
    ['gas: revoke', String(r.gas.revoke), '', ''],
    ['gas: share (token)', String(r.gas.share), '', ''],
    ['gas: emergency (break-glass declared)', String(r.gas.emergency), '', ''],
    ['gas: emergency share release (one hospital, threshold break-glass)', String(r.gas.emergencyShareRelease), r.targets.gasEmergencyShareRelease.target, yes(r.targets.gasEmergencyShareRelease.met)],
    ['gas: old record moved to shares; emergency key rotation (rekey --all-emergency)', `${r.gas.emergencySharesMove}; ${r.gas.emergencyKeyRotation}`, 'no target (once per record, once per hospital)', ''],
    ['gas: audit of one read alone (the reader\'s logAccess)', String(r.gas.auditRead), r.targets.gasAuditRead.target, yes(r.targets.gasAuditRead.met)],
    ['gas: audit per read, 100 reads per batch', String(r.gas.auditReadBatched100), '', ''],
    ['gas: team grant (a patient grants a care team)', String(r.gas.teamGrant), r.targets.gasTeamGrant.target, yes(r.targets.gasTeamGrant.met)],
    ['gas: care team, add a member; remove one (new key epoch)', `${r.gas.teamAddMember}; ${r.gas.teamRemoveMember}`, '', ''],
    ['gas: a team member\'s read alone (logAccess, purpose team)', String(r.gas.teamAuditRead), '', ''],
    ['gas: erasure request (the patient); reject; confirm (tombstone)', `${r.gas.erasureRequest}; ${r.gas.erasureReject}; ${r.gas.erasureConfirm}`, 'no target (not frequent)', ''],
    ['gas: account recovery proposed (staff); approved (second staff or admin)', `${r.gas.recoveryPropose}; ${r.gas.recoveryApprove}`, 'no target (rare)', ''],
    ['gas: recovery share release (one hospital, the recovered patient\'s split records)', String(r.gas.recoveryShareRelease), targets.gasEmergencyShareRelease.text, yes(r.gas.recoveryShareRelease <= targets.gasEmergencyShareRelease.max)],
    ['gas: re-key anchor (supersede, the patient); the patient\'s leave; the author\'s re-key', `${r.gas.rekey}; ${r.gas.rekeyLeave}; ${r.gas.rekeyByAuthor}`, 'no target (not frequent)', ''],
    ['gas: study export across nodes requested (the researcher)', String(r.gas.researchExportRequest), targets.gasResearchExportRequest.text, yes(r.gas.researchExportRequest <= targets.gasResearchExportRequest.max)],
    ['gas: one hospital\'s export part submitted; the export recorded (the researcher)', `${r.gas.researchExportPart}; ${r.gas.researchExportRecord}`, targets.gasResearchExportPart.text, yes(r.gas.researchExportPart <= targets.gasResearchExportPart.max)],
    ['read 1 MiB under a grant, other hospital\'s doctor', `p50 ${r.grantedRead1MiB.p50Ms} ms, p95 ${r.grantedRead1MiB.p95Ms} ms`, `${r.context.latencyIterations} runs`, ''],
    [`read 1 MiB on node B, stored only on A (median of ${c.readRecords})`, `first p50 ${r.crossNodeRead1MiB.p50Ms} ms p95 ${r.crossNodeRead1MiB.p95Ms} ms, cached ${r.crossNodeRead1MiB.cachedMs} ms`, r.targets.crossNodeRead1MiB.target, yes(r.targets.crossNodeRead1MiB.met)],
    ['  baseline: the same records read on A; one-node read', `${c.homeReadMedianMs} ms; p50 ${r.read1MiB.p50Ms} ms`, '', ''],
    [`replication lag A → B, ${c.replicatedRecords} × 1 MiB uploaded in turn`, `p50 ${r.replicationLagMs.p50} ms, p95 ${r.replicationLagMs.p95} ms`, r.targets.replicationLagMs.target, yes(r.targets.replicationLagMs.met)],
    ['  baseline: upload on A p50; first cross-node read', `${c.uploadOnAP50Ms} ms; ${r.crossNodeRead1MiB.firstMs} ms`, `max lag ${c.replicationLagMaxMs} ms`, ''],
    ['  p50 split: anchor seen by B; then fetched + pinned', `${c.replicationSeenP50Ms} ms; ${c.replicationFetchPinP50Ms} ms`, '', ''],
    [`CLI: medledger --help, wall clock (median of ${r.context.cli.runs})${r.context.cli.compiled ? '' : ' — SOURCES via tsx'}`, `${r.cli.helpMs} ms`, r.targets.cliHelpMs.target, yes(r.targets.cliHelpMs.met)],
    [`CLI: medledger record list --json, running node (${r.context.cli.listedRecords} records)`, `${r.cli.listMs} ms`, r.targets.cliListMs.target, yes(r.targets.cliListMs.met)],
    ['  baseline: node -e ""', `${r.cli.nodeBaselineMs} ms`, '', ''],
    [`scale: one patient's 100 records listed, ${r.scale.records} in the database (p95)`, `${r.scale.listPatientP95Ms} ms`, r.targets.scaleListPatientP95Ms.target, yes(r.targets.scaleListPatientP95Ms.met)],
    ['  the listing\'s SQL alone (p95); GET /status (p50)', `${r.context.scale.listPatientSqlP95Ms} ms; ${r.scale.statusMs} ms`, '', ''],
    [`verify --all over ${(r.context.scale.verifiedBytes / 1e6).toFixed(0)} MB (MEDLEDGER_BENCH_VERIFY_MB; the issue's figure is 1024)`, `${r.verifyAllMBps} MB/s`, r.targets.verifyAllMBps.target, yes(r.targets.verifyAllMBps.met)],
    [`search: GET /records?q= (1 match), ${r.search.records} records, ${r.search.termsIndexed} tokens (p95)`, `${r.search.queryP95Ms} ms`, r.targets.searchQueryP95Ms.target, yes(r.targets.searchQueryP95Ms.met)],
    [`  a word all ${r.context.search.bundleMatches} bundles match (p95); extraction of the bundle alone`, `${r.context.search.queryAllBundlesP95Ms} ms; ${r.context.search.extractMs} ms`, '', ''],
    [`search: upload slowdown by the wall clock, ${Math.round(r.context.search.bundleBytes / 1024)} KiB FHIR bundle, ${r.context.search.pairs} pairs (medians with / without ${r.context.search.uploadMedianMsWith} / ${r.context.search.uploadMedianMsWithout} ms)`, `${r.search.uploadSlowdownPct}%`, r.targets.searchUploadSlowdownPct.target, yes(r.targets.searchUploadSlowdownPct.met)],
    [`  by CPU per upload: node ${r.context.search.uploadCpuMsWith} / ${r.context.search.uploadCpuMsWithout} ms, main thread ${r.context.search.mainThreadCpuMsWith} / ${r.context.search.mainThreadCpuMsWithout} ms`, `${r.context.search.cpuSlowdownPct}%`, '', ''],
  ]
  const widths = rows[0].map((_, i) => Math.max(...rows.map(row => row[i].length)))
  const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  const m = r.context.machine
  return [
    `MedLedger bench — ${m.cpu}, ${m.cores} cores, Node ${m.node}${r.context.quick ? '  (QUICK run)' : ''}`,
    line(rows[0]),
    widths.map(w => '-'.repeat(w)).join('  '),
    ...rows.slice(1).map(line),
  ].join('\n')
}

let exitCode = 0
try {
  const result = await main()
  await cleanUp()
  if (flags.json === true) {
    process.stderr.write(table(result) + '\n')
    process.stdout.write(JSON.stringify(result) + '\n')
  } else {
    process.stdout.write(table(result) + '\n')
  }
} catch (err) {
  progress(`FAILED: ${(err as Error).stack ?? String(err)}`)
  await cleanUp()
  if (flags.json === true) process.stdout.write(JSON.stringify({ error: (err as Error).message }) + '\n')
  exitCode = 1
}
// Helia or fetch may keep handles open; the figures are out, so leave now.
process.exit(exitCode)
