import { createHash } from 'node:crypto'
import type { ApiClient } from './api-client.ts'
import type { BenchAccounts } from './set-up-accounts.ts'
import type { RandomPool } from './random-source.ts'
import { uploadRecordOverHttp, type UploadedRecord } from './upload-record-over-http.ts'

export interface Percentiles { p50Ms: number; p95Ms: number }

export interface MeasureLatencyResult {
  upload1MiB: Percentiles
  read1MiB: Percentiles
  /** Every upload's answer, warm-ups included. */
  uploads: UploadedRecord[]
}

/**
 * Wall-clock latency seen by an HTTP client of 1 MiB records: uploads as the doctor (each
 * answered once the anchor is mined), then reads of those records as the patient, each body
 * consumed to its last byte and checked. Warm-ups are run first and left out.
 * @throws Error when an answer is wrong (size, digest, missing anchor).
 */
export async function measureLatency(api: ApiClient, accounts: BenchAccounts, pool: RandomPool, { iterations, warmups, size = 1 << 20 }: { iterations: number; warmups: number; size?: number }): Promise<MeasureLatencyResult> {
  const uploads: UploadedRecord[] = []
  const expected = new Map<string, string>()
  const uploadMs: number[] = []
  for (let i = 0; i < warmups + iterations; i++) {
    const at = (i * size) % pool.bytes.length
    const body = pool.bytes.subarray(at, at + size)
    const started = performance.now()
    const record = await uploadRecordOverHttp(api, { token: accounts.doctor.token, patient: accounts.patient.email, body })
    const ms = performance.now() - started
    if (record.txHash === null || record.blockNumber === null) throw new Error(`upload ${record.recordId} answered without a mined anchor`)
    if (i >= warmups) uploadMs.push(ms)
    uploads.push(record)
    expected.set(record.recordId, createHash('sha256').update(body).digest('hex'))
  }

  const readMs: number[] = []
  for (let i = 0; i < warmups + iterations; i++) {
    const { recordId } = uploads[i % uploads.length]
    const started = performance.now()
    const res = await api.raw('GET', `/records/${recordId}`, { token: accounts.patient.token })
    const bytes = new Uint8Array(await res.arrayBuffer())
    const ms = performance.now() - started
    if (bytes.length !== size) throw new Error(`read ${recordId}: ${bytes.length} bytes, expected ${size}`)
    if (i === 0 && createHash('sha256').update(bytes).digest('hex') !== expected.get(recordId)) throw new Error(`read ${recordId}: wrong bytes`)
    if (i >= warmups) readMs.push(ms)
  }
  return { upload1MiB: percentiles(uploadMs), read1MiB: percentiles(readMs), uploads }
}

/** Nearest-rank percentiles, rounded to 0.1 ms. */
export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
  const round = (ms: number) => Math.round(ms * 10) / 10
  return { p50Ms: round(rank(0.5)), p95Ms: round(rank(0.95)) }
}
