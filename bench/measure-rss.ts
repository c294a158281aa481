import { readFileSync, writeFileSync } from 'node:fs'
import type { ApiClient } from './api-client.ts'
import type { BenchAccounts } from './set-up-accounts.ts'
import type { RandomPool } from './random-source.ts'
import { uploadRecordOverHttp, type UploadedRecord } from './upload-record-over-http.ts'


export interface MeasureRssResult {
  /** Peak sampled VmRSS minus VmRSS just before the upload, MiB. */
  growthMiB: number
  baselineMiB: number
  peakMiB: number
  /** Peak from the kernel's VmHWM (reset before the upload), which no sampling gap can miss; null if it could not be reset. */
  hwmGrowthMiB: number | null
  samples: number
  maxSampleGapMs: number
  seconds: number
  mbps: number
  record: UploadedRecord
}

/**
 * Peak RSS growth of process `pid` while one `bytes`-long record uploads through the API,
 * streamed from a generator (never in memory or on disk), VmRSS read every `intervalMs`.
 * @throws Error when the upload fails or the stored size is wrong.
 */
export async function measureRss(api: ApiClient, accounts: BenchAccounts, pool: RandomPool, { pid, bytes, intervalMs = 20, pieceSize = 256 << 10 }: { pid: number; bytes: number; intervalMs?: number; pieceSize?: number }): Promise<MeasureRssResult> {
  // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
  let hwmReset = true
  try { writeFileSync(`/proc/${pid}/clear_refs`, '5') } catch { hwmReset = false }
  await new Promise((resolve) => setTimeout(resolve, 200))
  const baseline = readStatusKiB(pid, 'VmRSS')
  let peak = baseline
  let samples = 0
  let last = performance.now()
  let maxGap = 0
  const timer = setInterval(() => {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
    samples++
    peak = Math.max(peak, readStatusKiB(pid, 'VmRSS'))
  }, intervalMs)

  const pieces = pool.pieces(bytes, pieceSize)
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = pieces.next()
      if (next.done === true) controller.close()
      else controller.enqueue(next.value)
    },
  })
  const started = performance.now()
  let record: UploadedRecord
  try {
    record = await uploadRecordOverHttp(api, { token: accounts.doctor.token, patient: accounts.patient.email, body })
  } finally {
    clearInterval(timer)
  }
  const seconds = (performance.now() - started) / 1000
  peak = Math.max(peak, readStatusKiB(pid, 'VmRSS'))
  if (record.size !== bytes) throw new Error(`the node stored ${record.size} bytes, expected ${bytes}`)
  const hwm = hwmReset ? readStatusKiB(pid, 'VmHWM') : undefined
  const toMiB = (kib: number) => Math.round(kib / 1024 * 10) / 10
  return {
    growthMiB: toMiB(peak - baseline),
    baselineMiB: toMiB(baseline),
    peakMiB: toMiB(peak),
    hwmGrowthMiB: hwm === undefined ? null : toMiB(hwm - baseline),
    samples,
    maxSampleGapMs: Math.round(maxGap),
    seconds: Math.round(seconds * 100) / 100,
    mbps: Math.round(bytes / 1e6 / seconds * 10) / 10,
    record,
  }
}

/** A `kB` field of /proc/<pid>/status, in KiB. */
function readStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`)
  return Number(m[1])
}

