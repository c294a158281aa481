import { hexToBytes, type Address, type Hex } from 'viem'
import { cidFromDigest, verifyDag } from '../storage/read-verified.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { pinRecursively } from '../storage/pin-recursively.ts'
import { replicaNodes } from './placement.ts'
import { dropRecordBlocks } from '../records/drop-record-blocks.ts'
import { erasedRecord } from '../records/forget-erased-record.ts'
import type { Services } from '../services.ts'

export interface ReplicationStatus {
  /** Records this node should keep a replica of that it does not hold yet. */
  pending: number
  pinned: number
  /** Records whose last attempt failed (retried with back-off). */
  failing: number
  replicas: number
}

export interface ReplicaRow {
  record_id: Hex
  state: 'wanted' | 'pinned'
  attempts: number
  error: string | null
  seen_at: number
  pinned_at: number | null
  next_at: number
}

export interface Replicator {
  status(): Promise<ReplicationStatus>
  /** The member nodes changed: recomputes which records fall to this node. */
  setMembers(members: MemberNode[]): Promise<void>
  /** A record was anchored (or mirrored): takes it if it falls to this node. */
  consider(record: { record_id: Hex; hospital: Address }): Promise<void>
  stop(): Promise<void>
}

/** A member hospital and the libp2p peer id of the node that serves it (from its node info on chain). */
export interface MemberNode { hospital: Address; peerId: string | null }

/** How long one record may take to fetch before the attempt is abandoned and retried later. */
const FETCH_MS = 120_000
const CONCURRENCY = 2

/**
 * Keeps this node's share of the consortium's records: each record is kept by its home node
 * (the node serving the hospital that anchored it) and by the `replicas` member nodes that rank
 * highest for it by rendezvous hashing, so every node agrees without a coordinator. A record
 * that falls here is fetched from peers over bitswap, every block re-hashed against the anchored
 * digest (a peer serving a bad block is refused and the block asked of another), and only then
 * pinned. Failures are retried with back-off, so a node that was offline catches up.
 */
export function startReplicator(s: Pick<Services, 'db' | 'ipfs' | 'log' | 'blockCache'>, { replicas, peerId }: { replicas: number; peerId: string }): Replicator {
  let members: MemberNode[] = []
  let stopped = false
  let active = 0
  let timer: NodeJS.Timeout | undefined
  const inFlight = new Set<Promise<void>>()
  const inFlightIds = new Set<Hex>()
  const abort = new AbortController()

  const homeOf = (hospital: string) => members.find((m) => m.hospital.toLowerCase() === hospital.toLowerCase())?.peerId ?? undefined
  const nodeIds = () => [...new Set(members.map((m) => m.peerId).filter((p): p is string => p !== null))]
  const fallsHere = (recordId: Hex, hospital: string) => {
    const home = homeOf(hospital)
    if (home === peerId) return false // home records are pinned when uploaded
    return replicaNodes(recordId, home, nodeIds(), replicas).includes(peerId)
  }

  async function want(recordId: Hex): Promise<void> {
    const now = Date.now()
    const r = await s.db.run(`INSERT INTO replicas (record_id, state, attempts, error, seen_at, pinned_at, next_at) VALUES (?, 'wanted', 0, NULL, ?, NULL, ?)
      ON CONFLICT (record_id) DO NOTHING`, recordId, now, now)
    if (r.changes > 0) kick()
  }

  async function pump(): Promise<void> {
    while (!stopped && active < CONCURRENCY) {
      const taken = [...inFlightIds]
      const row = await s.db.get<ReplicaRow>(`SELECT * FROM replicas WHERE state = 'wanted' AND next_at <= ?
        ${taken.length > 0 ? `AND record_id NOT IN (${taken.map(() => '?').join(', ')})` : ''} ORDER BY next_at, seen_at LIMIT 1`, Date.now(), ...taken)
      if (!row) break
      active++
      inFlightIds.add(row.record_id)
      const p = replicate(s, row, { signal: abort.signal, stopped: () => stopped }).finally(() => {
        active--
        inFlightIds.delete(row.record_id)
        inFlight.delete(p)
        kick()
      })
      inFlight.add(p)
    }
  }

  function kick(delay = 0): void {
    if (stopped) return
    clearTimeout(timer)
    timer = setTimeout(() => {
      pump().catch((err: unknown) => s.log('warn', `replication: ${(err as Error).message}`)).finally(() => {
        if (!stopped) timer = setTimeout(() => kick(), 1_000)
      })
    }, delay)
  }

  return {
    status: () => replicationStatus(s, replicas),
    async setMembers(next) {
      members = next
      for (const r of await unplacedRecords(s)) if (fallsHere(r.record_id, r.address)) await want(r.record_id)
    },
    async consider({ record_id, hospital }) {
      if (fallsHere(record_id, hospital)) await want(record_id)
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      abort.abort()
      await Promise.allSettled([...inFlight])
    },
  }
}

/**
 * Fetches one record's blocks (each re-hashed against its CID) and pins them, then marks the
 * replica pinned; a failure is kept with the next attempt's time (back-off), unless the
 * replicator is stopping.
 */
async function replicate(s: Pick<Services, 'db' | 'ipfs' | 'log' | 'blockCache'>, row: ReplicaRow, { signal: stopping, stopped }: { signal: AbortSignal; stopped: () => boolean }): Promise<void> {
  const rec = await s.db.get<{ digest: Hex; envelopes: Hex }>('SELECT digest, envelopes FROM records WHERE record_id = ?', row.record_id)
  if (!rec) return
  const signal = AbortSignal.any([stopping, AbortSignal.timeout(FETCH_MS)])
  try {
    const dag = cidFromDigest(hexToBytes(rec.digest), 'dag')
    const env = cidFromDigest(hexToBytes(rec.envelopes), 'raw')
    // The record's envelopes block and DAG from one peer in one round (over bitswap when that
    // fails); then every block is hashed against its CID here before anything is pinned.
    await s.ipfs.prefetch(dag, { raws: [env], signal })
    const { size } = await verifyDag(s.ipfs.blockstore, dag, { signal, cache: s.blockCache })
    await getRawBlockVerified(s.ipfs.blockstore, env, { signal })
    await pinRecursively(s.ipfs.helia.pins, env, { signal })
    await pinRecursively(s.ipfs.helia.pins, dag, { signal })
    // Erased while its blocks were on their way (from a peer that had not shredded yet): they go again.
    if (await erasedRecord(s, row.record_id)) {
      await dropRecordBlocks(s, { digest: rec.digest, envelopes: rec.envelopes })
      return
    }
    await s.db.run(`UPDATE replicas SET state = 'pinned', pinned_at = ?, error = NULL WHERE record_id = ?`, Date.now(), row.record_id)
    await s.db.run('UPDATE records SET stored_bytes = ? WHERE record_id = ? AND stored_bytes = 0', size, row.record_id)
  } catch (err) {
    if (stopped()) return
    const attempts = row.attempts + 1
    const delay = Math.min(60_000, 500 * 2 ** Math.min(attempts, 7))
    const message = (err as Error).message.split('\n')[0].slice(0, 300)
    await s.db.run('UPDATE replicas SET attempts = ?, error = ?, next_at = ? WHERE record_id = ?', attempts, message, Date.now() + delay, row.record_id)
    if (attempts === 1 || attempts % 5 === 0) s.log('warn', `replication of ${row.record_id}: attempt ${attempts} failed (${message}); retrying`)
  }
}

/** Anchored records not placed yet (no replica row), with the address of the hospital that anchored each. */
async function unplacedRecords(s: Pick<Services, 'db'>): Promise<{ record_id: Hex; address: Address }[]> {
  return s.db.all<{ record_id: Hex; address: Address }>(`SELECT r.record_id, h.address FROM records r JOIN hospitals h ON h.id = r.hospital_id
    WHERE r.state = 'anchored' AND NOT EXISTS (SELECT 1 FROM replicas p WHERE p.record_id = r.record_id)`)
}

async function replicationStatus(s: Pick<Services, 'db'>, replicas: number): Promise<ReplicationStatus> {
  const row = await s.db.get<{ pending: number; pinned: number; failing: number }>(`SELECT
    COALESCE(SUM(CASE WHEN state = 'wanted' THEN 1 ELSE 0 END), 0) AS pending,
    COALESCE(SUM(CASE WHEN state = 'pinned' THEN 1 ELSE 0 END), 0) AS pinned,
    COALESCE(SUM(CASE WHEN state = 'wanted' AND attempts > 0 THEN 1 ELSE 0 END), 0) AS failing FROM replicas`)
  return { pending: Number(row?.pending ?? 0), pinned: Number(row?.pinned ?? 0), failing: Number(row?.failing ?? 0), replicas }
}
