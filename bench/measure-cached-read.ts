import type { ApiClient } from './api-client.ts'
import type { BenchAccounts } from './set-up-accounts.ts'
import { percentiles, type Percentiles } from './measure-latency.ts'
import type { UploadedRecord } from './upload-record-over-http.ts'

interface CacheStatus { bytes: number; maxBytes: number; hits: number; misses: number }

export interface MeasureCachedReadResult {
  readCached1MiB: Percentiles
  /** The node's block cache (GET /status) before and after these reads. */
  cacheBefore: CacheStatus | null
  cacheAfter: CacheStatus | null
}

/**
 * Wall-clock latency of reading, as the patient, records that were read once already (so their
 * verified ciphertext blocks are in the node's cache): `warmups` + `iterations` reads cycling
 * over `records`, each body consumed and its length checked; warm-ups left out.
 * @throws Error when an answer has the wrong length.
 */
export async function measureCachedRead(api: ApiClient, accounts: BenchAccounts, records: readonly UploadedRecord[], { iterations, warmups }: { iterations: number; warmups: number }): Promise<MeasureCachedReadResult> {
  const cache = async () => (await api.json<{ cache?: CacheStatus }>('GET', '/status')).cache ?? null
  const cacheBefore = await cache()
  const ms: number[] = []
  for (let i = 0; i < warmups + iterations; i++) {
    const { recordId, size } = records[i % records.length]
    const started = performance.now()
    const res = await api.raw('GET', `/records/${recordId}`, { token: accounts.patient.token })
    const bytes = new Uint8Array(await res.arrayBuffer())
    const elapsed = performance.now() - started
    if (bytes.length !== size) throw new Error(`read ${recordId}: ${bytes.length} bytes, expected ${size}`)
    if (i >= warmups) ms.push(elapsed)
  }
  return { readCached1MiB: percentiles(ms), cacheBefore, cacheAfter: await cache() }
}
