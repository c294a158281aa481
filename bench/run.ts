/**
 * MedLedger benchmarks: `npm run bench` prints a table, `npm run bench -- --json` prints one
 * JSON object as the last line of stdout (progress goes to stderr). Every figure is measured in
 * this run next to its baseline or target:
 *
 * - the upload pipeline (plaintext SHA-256 + encryptStream + addCiphertext on a real Helia)
 *   against Node's own AES-256-GCM + SHA-256 over the same bytes on one core;
 * - 1 MiB upload and read latency through the HTTP API of a node started as a child process;
 * - the node's RSS growth while one 1 GiB record streams in;
 * - gas of one anchor and one account registration, from the receipts on the node's chain.
 *
 * `--quick` shrinks every size for a smoke run (its figures are not the benchmark's).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, totalmem, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Address, Hex } from 'viem'
import { openIpfs, type Ipfs } from '../src/storage/open-ipfs.ts'
import { createApiClient } from './api-client.ts'
import { createRandomPool } from './random-source.ts'
import { measureBaseline } from './measure-baseline.ts'
import { measurePipeline, measurePipelineParts } from './measure-pipeline.ts'
import { startNodeProcess, type NodeProcess } from './start-node-process.ts'
import { setUpAccounts } from './set-up-accounts.ts'
import { measureLatency } from './measure-latency.ts'
import { measureRss } from './measure-rss.ts'
import { measureGas } from './measure-gas.ts'

const MiB = 1 << 20
const { values: flags } = parseArgs({ options: { json: { type: 'boolean' }, quick: { type: 'boolean' } }, strict: true })
const sizes = flags.quick === true
  ? { pipeline: 32 * MiB, rss: 64 * MiB, iterations: 8, warmups: 2 }
  : { pipeline: 256 * MiB, rss: 1024 * MiB, iterations: 50, warmups: 3 }

const targets = {
  pipelineRatio: { min: 0.5, text: '≥ 0.5' },
  rssGrowthMiBFor1GiB: { below: 100, text: '< 100 MiB' },
  gasAnchor: { max: 60_000, text: '≤ 60,000' },
}
/** The whole run must not outlive this, whatever hangs. */
const deadlineMs = 9 * 60_000

const progress = (msg: string) => process.stderr.write(`[bench ${((performance.now()) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`)
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits

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

async function main(): Promise<Record<string, unknown>> {
  const cpu = cpus()
  const machine = { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, memGiB: round(totalmem() / 1024 ** 3), node: process.version, platform: `${process.platform}-${process.arch}` }
  progress(`machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}${flags.quick === true ? ' (QUICK run: figures are not the benchmark\'s)' : ''}`)

  const tmp = await mkdtemp(join(tmpdir(), 'medledger-bench-'))
  cleanups.push({ name: `temp dir ${tmp}`, fn: () => rm(tmp, { recursive: true, force: true }) })

  // Generated before anything is timed; every input below is cycled from it.
  const pool = createRandomPool(16 * MiB)

  // --- Throughput: baseline, then the pipeline, then the baseline again (the better one counts,
  // so drift in the machine's speed can only lower the ratio).
  measureBaseline(pool, { bytes: 32 * MiB }) // warm-up
  progress(`baseline: AES-256-GCM + SHA-256 over ${sizes.pipeline / MiB} MiB in 1 MiB buffers`)
  const baselineBefore = measureBaseline(pool, { bytes: sizes.pipeline })
  progress(`baseline: ${round(baselineBefore.mbps)} MB/s`)

  const ipfsDir = join(tmp, 'pipeline-ipfs')
  const ipfs: Ipfs = await openIpfs({ dir: ipfsDir })
  cleanups.push({ name: 'pipeline Helia', fn: () => ipfs.stop() })
  progress(`pipeline: encryptStream → addCiphertext of ${sizes.pipeline / MiB} MiB on Helia in ${ipfsDir}`)
  const pipeline = await measurePipeline({ ipfs, pool, bytes: sizes.pipeline })
  progress(`pipeline: ${round(pipeline.mbps)} MB/s (${round(pipeline.seconds, 2)} s), root ${pipeline.cid}`)
  const baselineAfter = measureBaseline(pool, { bytes: sizes.pipeline })
  const baseline = baselineAfter.mbps > baselineBefore.mbps ? baselineAfter : baselineBefore
  if (baselineBefore.sha256 === '' || pipeline.plaintextSha256.length !== 64) throw new Error('a digest is missing')
  progress(`baseline again: ${round(baselineAfter.mbps)} MB/s`)

  progress('pipeline parts: encryption alone, then storage alone')
  const parts = await measurePipelineParts({ ipfs, pool, bytes: sizes.pipeline })
  progress(`encrypt only ${round(parts.encryptOnlyMBps)} MB/s, store only ${round(parts.storeOnlyMBps)} MB/s`)
  await ipfs.stop()
  await rm(ipfsDir, { recursive: true, force: true })

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

    const status = await api.json<{ chainRpc: string; contracts: { registry: Address; recordLedger: Address } }>('GET', '/status')
    const gas = await measureGas({
      chainRpc: status.chainRpc,
      registry: status.contracts.registry,
      anchorTx: latency.uploads[0].txHash as Hex,
      account: accounts.patient.address as Address,
      hospital: accounts.hospitalAddress as Address,
    })
    progress(`gas: anchor ${gas.anchor}, register ${gas.register}`)

    progress(`rss: one ${sizes.rss / MiB} MiB upload streamed from a generator, VmRSS of pid ${node.pid} every 20 ms`)
    const rss = await measureRss(api, accounts, pool, { pid: node.pid, bytes: sizes.rss })
    progress(`rss: +${rss.growthMiB} MiB (from ${rss.baselineMiB} to ${rss.peakMiB} MiB; VmHWM +${rss.hwmGrowthMiB ?? '?'} MiB) in ${rss.seconds} s, ${rss.mbps} MB/s`)

    const pipelineRatio = pipeline.mbps / baseline.mbps
    return {
      baselineMBps: round(baseline.mbps),
      pipelineMBps: round(pipeline.mbps),
      pipelineRatio: round(pipelineRatio, 3),
      upload1MiB: latency.upload1MiB,
      read1MiB: latency.read1MiB,
      rssGrowthMiBFor1GiB: rss.growthMiB,
      gas: { anchor: gas.anchor, register: gas.register },
      targets: {
        pipelineRatio: { target: targets.pipelineRatio.text, met: pipelineRatio >= targets.pipelineRatio.min },
        rssGrowthMiBFor1GiB: { target: targets.rssGrowthMiBFor1GiB.text, met: rss.growthMiB < targets.rssGrowthMiBFor1GiB.below },
        gasAnchor: { target: targets.gasAnchor.text, met: gas.anchor <= targets.gasAnchor.max },
      },
      context: {
        quick: flags.quick === true,
        machine,
        pipelineBytes: sizes.pipeline,
        pipelineSeconds: round(pipeline.seconds, 3),
        pipelinePlaintextSha256: pipeline.plaintextSha256,
        pipelineRootCid: pipeline.cid,
        pipelineStoredBytes: pipeline.storedBytes,
        baselineRunsMBps: [round(baselineBefore.mbps), round(baselineAfter.mbps)],
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
      },
    }
  } catch (err) {
    process.stderr.write(`--- node output (last lines) ---\n${node.tail()}\n---\n`)
    throw err
  }
}

function table(r: Record<string, any>): string {
  const yes = (met: boolean) => (met ? 'yes' : 'NO')
  const rows: string[][] = [
    ['figure', 'value', 'baseline / target', 'met'],
    ['encrypt+SHA-256 baseline (Node, 1 core)', `${r.baselineMBps} MB/s`, 'runs ' + r.context.baselineRunsMBps.join(', ') + ' MB/s', ''],
    ['upload pipeline, 256 MiB in-process', `${r.pipelineMBps} MB/s`, `${r.baselineMBps} MB/s baseline`, ''],
    ['  ratio pipeline / baseline', String(r.pipelineRatio), r.targets.pipelineRatio.target, yes(r.targets.pipelineRatio.met)],
    ['  encryption alone (SHA-256 + encryptStream)', `${r.context.encryptOnlyMBps} MB/s`, '', ''],
    ['  storage alone (addCiphertext)', `${r.context.storeOnlyMBps} MB/s`, '', ''],
    ['upload 1 MiB over HTTP, anchor mined', `p50 ${r.upload1MiB.p50Ms} ms, p95 ${r.upload1MiB.p95Ms} ms`, `${r.context.latencyIterations} runs`, ''],
    ['read 1 MiB over HTTP, as the patient', `p50 ${r.read1MiB.p50Ms} ms, p95 ${r.read1MiB.p95Ms} ms`, `${r.context.latencyIterations} runs`, ''],
    ['node RSS growth, 1 GiB streamed upload', `${r.rssGrowthMiBFor1GiB} MiB`, r.targets.rssGrowthMiBFor1GiB.target, yes(r.targets.rssGrowthMiBFor1GiB.met)],
    ['  (VmHWM growth; upload speed)', `${r.context.rss.vmHwmGrowthMiB ?? '?'} MiB`, `${r.context.rss.uploadMBps} MB/s`, ''],
    ['gas: anchor', String(r.gas.anchor), r.targets.gasAnchor.target, yes(r.targets.gasAnchor.met)],
    ['gas: account registration', String(r.gas.register), '', ''],
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
