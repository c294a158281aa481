import type { ApiClient } from './api-client.ts'
import type { BenchAccounts } from './set-up-accounts.ts'
import { percentiles, type Percentiles } from './measure-latency.ts'
import type { RandomPool } from './random-source.ts'
import { uploadRecordOverHttp, type UploadedRecord } from './upload-record-over-http.ts'

export interface MeasureFhirResult {
  /** GET /fhir/R4/DocumentReference?patient=…&_count=100 as the patient, who has `records` records. */
  searchDocRef100: Percentiles
  /** GET /fhir/R4/Binary/{id} (the bytes, Accept: application/octet-stream) and GET /api/v1/records/{id} of the same 1 MiB records, interleaved. */
  binaryRead1MiB: Percentiles
  nativeRead1MiB: Percentiles
  context: { records: number; searchTotal: number; toppedUp: number }
}

/**
 * The FHIR interface beside the native API: the patient's records are topped up to `records`
 * (1 KiB uploads), then `warmups` + `iterations` DocumentReference searches over all of them,
 * then reads of the same 1 MiB records through FHIR Binary and through the native route, one
 * after the other in alternating order so drift touches both alike; warm-ups left out.
 * @throws Error when a search misses records or a read has the wrong length.
 */
export async function measureFhir(api: ApiClient, accounts: BenchAccounts, pool: RandomPool, { uploads, records = 100, iterations, warmups }: { uploads: readonly UploadedRecord[]; records?: number; iterations: number; warmups: number }): Promise<MeasureFhirResult> {
  const fhir = `${api.url.replace(/\/+$/, '')}/fhir/R4`
  const get = async (url: string, accept: string) => {
    const res = await fetch(url, { headers: { accept, authorization: `Bearer ${accounts.patient.token}` } })
    if (!res.ok) throw new Error(`GET ${url} → ${res.status}: ${(await res.text()).slice(0, 300)}`)
    return res
  }
  const me = await api.json<{ id: string }>('GET', '/auth/me', { token: accounts.patient.token })
  const listed = await api.json<{ total: number }>('GET', '/records?limit=1', { token: accounts.patient.token })
  let toppedUp = 0
  for (let n = listed.total; n < records; n++, toppedUp++) {
    await uploadRecordOverHttp(api, { token: accounts.doctor.token, patient: accounts.patient.email, body: pool.bytes.subarray(n * 1024, (n + 1) * 1024) })
  }
  const searchMs: number[] = []
  let searchTotal = 0
  for (let i = 0; i < warmups + iterations; i++) {
    const started = performance.now()
    const bundle = await (await get(`${fhir}/DocumentReference?patient=Patient/${me.id}&_count=100`, 'application/fhir+json')).json() as { total: number; entry?: unknown[] }
    const ms = performance.now() - started
    if (bundle.total < records || (bundle.entry?.length ?? 0) !== Math.min(100, bundle.total)) throw new Error(`search: total ${bundle.total}, ${bundle.entry?.length ?? 0} entries, expected ${records}`)
    searchTotal = bundle.total
    if (i >= warmups) searchMs.push(ms)
  }
  const binaryMs: number[] = []
  const nativeMs: number[] = []
  const read = async (which: 'binary' | 'native', r: UploadedRecord) => {
    const started = performance.now()
    const res = which === 'binary'
      ? await get(`${fhir}/Binary/${r.recordId.slice(2)}`, 'application/octet-stream')
      : await api.raw('GET', `/records/${r.recordId}`, { token: accounts.patient.token })
    const bytes = new Uint8Array(await res.arrayBuffer())
    const ms = performance.now() - started
    if (bytes.length !== r.size) throw new Error(`${which} read ${r.recordId}: ${bytes.length} bytes, expected ${r.size}`)
    return ms
  }
  for (let i = 0; i < warmups + iterations; i++) {
    const r = uploads[i % uploads.length]
    const order = i % 2 === 0 ? ['binary', 'native'] as const : ['native', 'binary'] as const
    for (const which of order) {
      const ms = await read(which, r)
      if (i >= warmups) (which === 'binary' ? binaryMs : nativeMs).push(ms)
    }
  }
  return { searchDocRef100: percentiles(searchMs), binaryRead1MiB: percentiles(binaryMs), nativeRead1MiB: percentiles(nativeMs), context: { records, searchTotal, toppedUp } }
}
