import { createHash } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { startAnvil, type StartAnvilResult } from '../src/ledger/anvil.ts'
import { ApiError, createApiClient, type ApiClient } from './api-client.ts'
import { setUpAccounts } from './set-up-accounts.ts'
import { startNodeProcess, type NodeProcess } from './start-node-process.ts'
import { uploadRecordOverHttp } from './upload-record-over-http.ts'
import { percentiles } from './measure-latency.ts'
import type { RandomPool } from './random-source.ts'

export interface MeasureConsortiumParams {
  /** An empty directory for the chain and both nodes' homes; removed afterwards. */
  dir: string
  pool: RandomPool
  /** Records read across nodes (each first, then again); the median of each is reported. */
  readRecords: number
  /** Records uploaded on A and replicated to B. */
  replicatedRecords: number
  adminEmail: string
  adminPassword: string
  /** Registers a cleanup with the caller too, so a signal or the deadline still stops the processes. */
  defer?: (name: string, fn: () => Promise<void>) => void
  progress?: (msg: string) => void
  /** How long B may take to pin the last record after the last upload returned. */
  replicationTimeoutMs?: number
}

export interface MeasureConsortiumResult {
  /**
   * Median over `readRecords` records of one full GET on B of a record only A holds, then of the
   * same read again; p50 and p95 of the first reads (nearest rank).
   */
  crossNodeRead1MiB: { firstMs: number; cachedMs: number; p50Ms: number; p95Ms: number }
  /** B's pinnedAt minus the moment A's upload answered (anchor mined), over `replicatedRecords` records. */
  replicationLagMs: { p50: number; p95: number }
  context: {
    readRecords: number
    firstReadsMs: number[]
    cachedReadsMs: number[]
    /** The same records read on A by the patient (blocks local, no network): a same-conditions baseline. */
    homeReadMedianMs: number
    /** The one-off first cross-node read left out (grant envelopes fetched, bitswap sessions opened). */
    warmUpFirstReadMs: number
    replicatedRecords: number
    replicationLagsMs: number[]
    replicationLagMaxMs: number
    /** The lag split at B's seenAt: anchor seen by B's ledger follower, then fetched, verified and pinned. */
    replicationSeenP50Ms: number
    replicationFetchPinP50Ms: number
    uploadOnAP50Ms: number
    /** From the first upload's start to the last record pinned on B. */
    replicationWallSeconds: number
  }
}

const MiB = 1 << 20
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}
const round = (n: number) => Math.round(n * 10) / 10
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Status {
  registry: string; hospitalAddress: string | null; admitted: boolean; ipfsPeerId: string; ipfsAddrs: string[]; peers: string[]
  follow: { lastBlock: number; headBlock: number; lagBlocks: number }
  replication: { pending: number; pinned: number; failing: number; replicas: number }
}
interface ReplicaView { recordId: string; state: 'home' | 'wanted' | 'pinned' | 'elsewhere'; attempts: number; error: string | null; seenAt: string | null; pinnedAt: string | null }

/**
 * A consortium of two hospital nodes as child processes on loopback, on one external anvil, their
 * IPFS peered over libp2p, driven through the HTTP API as users would: A founds it, B joins and is
 * admitted, a doctor of B asks A's patient for access and the patient approves on A. Measures
 * B's doctor reading 1 MiB records only A holds (first over bitswap, then again from B's own
 * store), then how long 1 MiB records uploaded on A take to be pinned on B.
 * @throws Error when a step fails, a read answers wrong bytes, or B does not pin every record in time;
 *   the processes and `dir` are removed either way.
 */
export async function measureConsortium({
  dir, pool, readRecords, replicatedRecords, adminEmail, adminPassword, defer = () => {}, progress = () => {}, replicationTimeoutMs = 60_000,
}: MeasureConsortiumParams): Promise<MeasureConsortiumResult> {
  const cleanups: { name: string; fn: () => Promise<void> }[] = []
  const onCleanup = (name: string, fn: () => Promise<void>) => { cleanups.push({ name, fn }); defer(name, fn) }
  onCleanup(`temp dir ${dir}`, () => rm(dir, { recursive: true, force: true }))
  const nodes: Record<string, NodeProcess> = {}
  try {
    await mkdir(dir, { recursive: true })
    const chain: StartAnvilResult = await startAnvil({ home: join(dir, 'chain'), port: 0 })
    onCleanup(`anvil pid ${chain.process.pid}`, () => chain.stop())

    const start = async (key: 'a' | 'b', args: string[]) => {
      const node = await startNodeProcess({ home: join(dir, key), adminEmail, adminPassword, args })
      nodes[key] = node
      onCleanup(`node ${key.toUpperCase()} pid ${node.pid}`, () => node.stop())
      return createApiClient(node.url)
    }
    const statusOf = (api: ApiClient) => api.json<Status>('GET', '/status')
    const login = async (api: ApiClient, email: string, password: string) =>
      (await api.json<{ token: string }>('POST', '/auth/login', { body: { email, password } })).token

    progress(`consortium: anvil on ${chain.rpcUrl}; node A founding`)
    const a = await start('a', ['--chain-rpc', chain.rpcUrl, '--ipfs-listen', '/ip4/127.0.0.1/tcp/0'])
    const accounts = await setUpAccounts(a, { adminEmail, adminPassword })
    const adminA = await login(a, adminEmail, adminPassword)
    const stA = await waitFor('node A to publish its IPFS address', async () => {
      const s = await statusOf(a)
      return s.admitted && s.ipfsAddrs.length > 0 ? s : undefined
    })

    // B keeps no replicas (`--replicas 0`) for the cross-node reads: with `--replicas 1` and two
    // members, every record of A falls to B, which would fetch it as soon as it sees the anchor, so
    // a "first read" would often find the blocks already local. Racing the replicator instead would
    // measure a mix of both. B is restarted with `--replicas 1` for the replication figure.
    const joinArgs = (replicas: number) => [
      '--chain-rpc', chain.rpcUrl, '--registry', stA.registry, '--ipfs-listen', '/ip4/127.0.0.1/tcp/0',
      '--ipfs-peer', stA.ipfsAddrs[0], '--hospital-name', 'Bench Joining Hospital', '--replicas', String(replicas),
    ]
    progress('consortium: node B joining (--replicas 0), admitted by A')
    let b = await start('b', joinArgs(0))
    const stB = await statusOf(b)
    await a.json('POST', '/hospitals/admit', { token: adminA, body: { address: stB.hospitalAddress, name: 'Bench Joining Hospital' } })
    await waitFor('node B admitted', async () => (await statusOf(b)).admitted)
    let adminB = await login(b, adminEmail, adminPassword)
    const password = 'bench-password-0123456789'
    await waitFor('a doctor enrolled on node B', async () => {
      try {
        return await b.json('POST', '/users', { token: adminB, body: { role: 'doctor', email: 'doctor-b@bench.test', name: 'Dr Joining', password } })
      } catch (err) {
        // The admin's own staff registration may still be on its way.
        if (err instanceof ApiError && err.status === 409 && err.body.includes('NOT_ADMITTED')) return undefined
        throw err
      }
    })
    const doctorB = await login(b, 'doctor-b@bench.test', password)
    await waitFor('A and B peered', async () => (await statusOf(a)).peers.includes(stB.ipfsPeerId) && (await statusOf(b)).peers.includes(stA.ipfsPeerId))

    // --- Cross-node reads. One more record than measured: the first cross-node read also fetches
    // the grant's envelopes block and opens the bitswap session, once per grant, not per record.
    progress(`consortium: ${readRecords} + 1 records of 1 MiB uploaded on A, access asked on B, approved on A`)
    const records: { recordId: string; sha256: string }[] = []
    for (let i = 0; i <= readRecords; i++) {
      const body = slice(pool, i)
      const up = await uploadRecordOverHttp(a, { token: accounts.doctor.token, patient: accounts.patient.email, body })
      records.push({ recordId: up.recordId, sha256: createHash('sha256').update(body).digest('hex') })
    }
    const request = await b.json<{ requestId: string }>('POST', '/access-requests', { token: doctorB, body: { patient: accounts.patient.address, purpose: 'bench', days: 7 } })
    await waitFor('the access request on node A', async () => {
      const r = await a.json<{ requests: { requestId: string }[] }>('GET', '/access-requests', { token: accounts.patient.token })
      return r.requests.some((q) => q.requestId === request.requestId)
    })
    await a.json('POST', `/access-requests/${request.requestId}/approve`, { token: accounts.patient.token, body: {} })
    await waitFor('the approval on node B', async () =>
      (await b.json<{ status: string }>('GET', `/access-requests/${request.requestId}`, { token: doctorB })).status === 'approved')

    const read = async (api: ApiClient, token: string, { recordId, sha256 }: { recordId: string; sha256: string }) => {
      const started = performance.now()
      const res = await api.raw('GET', `/records/${recordId}`, { token })
      const bytes = new Uint8Array(await res.arrayBuffer())
      const ms = performance.now() - started
      if (bytes.length !== MiB || createHash('sha256').update(bytes).digest('hex') !== sha256) throw new Error(`read of ${recordId} answered wrong bytes (${bytes.length})`)
      return ms
    }
    const notHeldByB = async (recordId: string) => {
      const r = await b.json<ReplicaView>('GET', `/replicas/${recordId}`, { token: adminB })
      if (r.state !== 'elsewhere') throw new Error(`record ${recordId} is '${r.state}' on B before its first read: the first read would not cross nodes`)
    }
    const firstMs: number[] = []
    const cachedMs: number[] = []
    let warmUpFirstReadMs = 0
    for (const [i, record] of records.entries()) {
      await notHeldByB(record.recordId)
      const first = await read(b, doctorB, record)
      const cached = await read(b, doctorB, record)
      if (i === 0) warmUpFirstReadMs = first
      else { firstMs.push(first); cachedMs.push(cached) }
    }
    const homeMs: number[] = []
    for (const record of records.slice(1)) homeMs.push(await read(a, accounts.patient.token, record))
    progress(`consortium: cross-node read first ${firstMs.map(round).join(', ')} ms; cached ${cachedMs.map(round).join(', ')} ms; on A ${homeMs.map(round).join(', ')} ms (warm-up first ${round(warmUpFirstReadMs)} ms)`)

    // --- Replication: B again on the same home, now keeping one replica of every record of A.
    progress('consortium: node B restarted with --replicas 1; waiting for it to take its share of the records so far')
    await nodes.b.stop()
    b = await start('b', joinArgs(1))
    adminB = await login(b, adminEmail, adminPassword)
    await waitFor('B peered and caught up', async () => {
      const [sa, sb] = await Promise.all([statusOf(a), statusOf(b)])
      return sa.peers.includes(stB.ipfsPeerId) && sb.peers.includes(stA.ipfsPeerId) && sb.follow.lagBlocks === 0
        && sb.replication.replicas === 1 && sb.replication.pending === 0 && sb.replication.pinned >= records.length
    })

    progress(`consortium: ${replicatedRecords} records of 1 MiB (random bytes) uploaded on A one after another; B's pinnedAt polled`)
    const uploaded: { recordId: string; returnedAt: number; ms: number }[] = []
    const wallStart = Date.now()
    for (let i = 0; i < replicatedRecords; i++) {
      const body = slice(pool, readRecords + 1 + i)
      const started = performance.now()
      const up = await uploadRecordOverHttp(a, { token: accounts.doctor.token, patient: accounts.patient.email, body })
      const returnedAt = Date.now()
      if (up.txHash === null) throw new Error(`upload ${up.recordId} answered without a mined anchor`)
      uploaded.push({ recordId: up.recordId, returnedAt, ms: performance.now() - started })
    }
    const wanted = new Set(uploaded.map((u) => u.recordId))
    const deadline = Date.now() + replicationTimeoutMs
    for (;;) {
      const { replicas } = await b.json<{ replicas: ReplicaView[] }>('GET', '/replicas?limit=1000', { token: adminB })
      const pinned = replicas.filter((r) => wanted.has(r.recordId) && r.state === 'pinned').length
      if (pinned === wanted.size) break
      if (Date.now() > deadline) {
        const missing = uploaded.filter((u) => !replicas.some((r) => r.recordId === u.recordId && r.state === 'pinned'))
        const detail = missing.slice(0, 5).map((u) => {
          const r = replicas.find((x) => x.recordId === u.recordId)
          return `${u.recordId}: ${r ? `${r.state}, ${r.attempts} attempts${r.error ? `, ${r.error}` : ''}` : 'not seen by B'}`
        })
        throw new Error(`B pinned ${pinned} of ${wanted.size} records within ${replicationTimeoutMs / 1000} s of the last upload; missing ${missing.length}, e.g. ${detail.join('; ')}`)
      }
      await sleep(250)
    }
    const lags: number[] = []
    const seen: number[] = []
    const fetchPin: number[] = []
    let lastPinned = 0
    for (const u of uploaded) {
      const r = await b.json<ReplicaView>('GET', `/replicas/${u.recordId}`, { token: adminB })
      const pinnedAt = Date.parse(r.pinnedAt!)
      lastPinned = Math.max(lastPinned, pinnedAt)
      lags.push(pinnedAt - u.returnedAt)
      seen.push(Date.parse(r.seenAt!) - u.returnedAt)
      fetchPin.push(pinnedAt - Date.parse(r.seenAt!))
    }
    const lag = percentiles(lags)
    progress(`consortium: replication lag p50 ${lag.p50Ms} ms, p95 ${lag.p95Ms} ms, max ${Math.max(...lags)} ms (p50 seen by B after ${median(seen)} ms, fetched and pinned ${median(fetchPin)} ms later)`)

    return {
      crossNodeRead1MiB: { firstMs: round(median(firstMs)), cachedMs: round(median(cachedMs)), ...percentiles(firstMs) },
      replicationLagMs: { p50: lag.p50Ms, p95: lag.p95Ms },
      context: {
        readRecords,
        firstReadsMs: firstMs.map(round),
        cachedReadsMs: cachedMs.map(round),
        homeReadMedianMs: round(median(homeMs)),
        warmUpFirstReadMs: round(warmUpFirstReadMs),
        replicatedRecords,
        replicationLagsMs: lags,
        replicationLagMaxMs: Math.max(...lags),
        replicationSeenP50Ms: median(seen),
        replicationFetchPinP50Ms: median(fetchPin),
        uploadOnAP50Ms: percentiles(uploaded.map((u) => u.ms)).p50Ms,
        replicationWallSeconds: round((lastPinned - wallStart) / 1000),
      },
    }
  } catch (err) {
    for (const [key, node] of Object.entries(nodes)) process.stderr.write(`--- consortium node ${key.toUpperCase()} output (last lines) ---\n${node.tail()}\n`)
    throw err
  } finally {
    for (const { name, fn } of cleanups.reverse()) {
      try { await fn() } catch (err) { progress(`cleanup of ${name} failed: ${(err as Error).message}`) }
    }
  }
}

/** The `i`-th 1 MiB of the pool, wrapping around: distinct records while the pool lasts. */
function slice(pool: RandomPool, i: number): Uint8Array {
  const at = (i * MiB) % pool.bytes.length
  return pool.bytes.subarray(at, at + MiB)
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (err) { last = err }
    await sleep(150)
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
}
