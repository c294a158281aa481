import { readFileSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import type { BenchAccounts } from './set-up-accounts.ts'
import type { RandomPool } from './random-source.ts'
import { percentiles } from './measure-latency.ts'

export interface MeasureLoadResult {
  clients: number
  seconds: number
  uploadsPerS: number
  uploadP95Ms: number
  readsPerS: number
  readP95Ms: number
  /** Requests that failed: a status other than 2xx, a wrong body, a dropped connection or a timeout. */
  errors: number
  /** Peak resident memory of the node during the run, MiB (VmHWM reset before it, else sampled VmRSS). */
  rssPeakMiB: number
  context: {
    uploads: number
    reads: number
    uploadP50Ms: number
    readP50Ms: number
    seedRecords: number
    recordBytes: number
    /** The first few error answers, without bodies (status and code only). */
    errorSamples: string[]
    /** Wall clock from the first request to the last answer, s (the run stops issuing at `seconds`). */
    wallSeconds: number
    rssSampledPeakMiB: number
    /** VmRSS of the node just before the run, MiB. */
    rssBeforeMiB: number
    vmHwmReset: boolean
  }
}

interface Answer { status: number; body: Buffer }

/**
 * `clients` concurrent clients drive the node at `url` (loopback) over keep-alive HTTP for
 * `seconds`: each alternates a `recordBytes` upload as the doctor (answered once anchored) with a
 * read, as the patient, of a record that already exists (seeded first, or uploaded during the
 * run), the body checked to its last byte. No request starts after the deadline; those in flight
 * are awaited, each bounded by `requestTimeoutMs`. The node's RSS is sampled every 20 ms.
 */
export async function measureLoad({ url, accounts, pool, pid, clients, seconds, recordBytes = 64 << 10, seedRecords = 32, requestTimeoutMs = 60_000 }: {
  url: string
  accounts: BenchAccounts
  pool: RandomPool
  pid: number
  clients: number
  seconds: number
  recordBytes?: number
  seedRecords?: number
  requestTimeoutMs?: number
}): Promise<MeasureLoadResult> {
  const target = new URL(url)
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) throw new Error(`the load test drives loopback only, not ${target.hostname}`)
  const agent = new Agent({ keepAlive: true, maxSockets: clients })
  const call = (method: string, path: string, token: string, body?: Uint8Array, headers: Record<string, string> = {}) => new Promise<Answer>((resolve, reject) => {
    const req = request({
      agent, host: target.hostname.replace(/^\[|\]$/g, ''), port: target.port, method, path: `/api/v1${path}`,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-length': String(body.byteLength) } : {}), ...headers },
      timeout: requestTimeoutMs,
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer in ${requestTimeoutMs} ms`)))
    req.on('error', reject)
    req.end(body)
  })

  let poolAt = 0
  const nextBody = () => {
    if (poolAt + recordBytes > pool.bytes.length) poolAt = 0
    const b = pool.bytes.subarray(poolAt, poolAt + recordBytes)
    poolAt += recordBytes
    return b
  }
  const upload = (body: Uint8Array) => call('POST', '/records', accounts.doctor.token, body, {
    'content-type': 'application/octet-stream', 'x-medledger-patient': accounts.patient.email, 'x-medledger-file-name': 'load.bin',
  })
  // Records the reads choose from, with their bytes' first and last 16 bytes to check them by.
  const existing: { id: string; head: Buffer; tail: Buffer }[] = []
  const keep = (a: Answer, body: Uint8Array) => {
    existing.push({ id: (JSON.parse(a.body.toString('utf8')) as { recordId: string }).recordId, head: Buffer.from(body.subarray(0, 16)), tail: Buffer.from(body.subarray(-16)) })
  }
  // Seeded a few at a time, outside the measured window.
  for (let i = 0; i < seedRecords; i += 8) {
    await Promise.all(Array.from({ length: Math.min(8, seedRecords - i) }, async () => {
      const body = nextBody()
      const a = await upload(body)
      if (a.status !== 201) throw new Error(`seeding the load test: upload answered ${a.status}`)
      keep(a, body)
    }))
  }

  let hwmReset = true
  try { writeFileSync(`/proc/${pid}/clear_refs`, '5') } catch { hwmReset = false }
  const beforeKiB = readStatusKiB(pid, 'VmRSS')
  let sampledPeakKiB = beforeKiB
  const sampler = setInterval(() => {
    try { sampledPeakKiB = Math.max(sampledPeakKiB, readStatusKiB(pid, 'VmRSS')) } catch { /* the node went away: its requests fail and count */ }
  }, 20)

  const uploadMs: number[] = []
  const readMs: number[] = []
  const errorSamples: string[] = []
  let errors = 0
  const failed = (what: string) => {
    errors++
    if (errorSamples.length < 10) errorSamples.push(what)
  }
  const started = performance.now()
  const deadline = started + seconds * 1000
  const client = async (n: number) => {
    for (let i = n; performance.now() < deadline; i++) {
      const t0 = performance.now()
      try {
        if (i % 2 === 0) {
          const body = nextBody()
          const a = await upload(body)
          if (a.status !== 201) { failed(`upload ${a.status} ${code(a)}`); continue }
          uploadMs.push(performance.now() - t0)
          keep(a, body)
        } else {
          const r = existing[Math.floor(Math.random() * existing.length)]
          const a = await call('GET', `/records/${r.id}`, accounts.patient.token)
          if (a.status !== 200) { failed(`read ${a.status} ${code(a)}`); continue }
          if (a.body.length !== recordBytes || !a.body.subarray(0, 16).equals(r.head) || !a.body.subarray(-16).equals(r.tail)) { failed('read: wrong bytes'); continue }
          readMs.push(performance.now() - t0)
        }
      } catch (err) {
        failed(`${i % 2 === 0 ? 'upload' : 'read'}: ${(err as Error).message.slice(0, 120)}`)
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: clients }, async (_, n) => client(n)))
  } finally {
    clearInterval(sampler)
    agent.destroy()
  }
  const wallSeconds = (performance.now() - started) / 1000
  sampledPeakKiB = Math.max(sampledPeakKiB, readStatusKiB(pid, 'VmRSS'))
  const hwmKiB = hwmReset ? readStatusKiB(pid, 'VmHWM') : 0
  const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits
  const up = percentiles(uploadMs.length > 0 ? uploadMs : [Number.NaN])
  const rd = percentiles(readMs.length > 0 ? readMs : [Number.NaN])
  return {
    clients,
    seconds,
    uploadsPerS: round(uploadMs.length / wallSeconds),
    uploadP95Ms: up.p95Ms,
    readsPerS: round(readMs.length / wallSeconds),
    readP95Ms: rd.p95Ms,
    errors,
    rssPeakMiB: round(Math.max(hwmKiB, sampledPeakKiB) / 1024),
    context: {
      uploads: uploadMs.length,
      reads: readMs.length,
      uploadP50Ms: up.p50Ms,
      readP50Ms: rd.p50Ms,
      seedRecords,
      recordBytes,
      errorSamples,
      wallSeconds: round(wallSeconds, 2),
      rssSampledPeakMiB: round(sampledPeakKiB / 1024),
      rssBeforeMiB: round(beforeKiB / 1024),
      vmHwmReset: hwmReset,
    },
  }
}

/** The error code of a JSON error answer, never its message or any record content. */
function code(a: Answer): string {
  try {
    return String((JSON.parse(a.body.toString('utf8')) as { code?: unknown }).code ?? '')
  } catch {
    return ''
  }
}

/** A `kB` field of /proc/<pid>/status, in KiB. */
function readStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`)
  return Number(m[1])
}
