import { parseEventLogs, type Address, type Log } from 'viem'
import { careTeamsAbi, consentAbi, recordLedgerAbi, registryAbi, researchAbi } from '../ledger/abis.ts'
import { careTeamsAddress } from '../ledger/care-teams/care-teams-address.ts'
import { getMeta, setMeta, type Db } from '../db/open-database.ts'
import { logChunks } from '../ledger/log-chunks.ts'
import { isAppError } from '../errors.ts'
import type { Services } from '../services.ts'

const abi = [...registryAbi, ...recordLedgerAbi, ...consentAbi, ...researchAbi, ...careTeamsAbi]

/** One decoded event of the consortium's contracts, with where it was mined. */
export type LedgerEvent = ReturnType<typeof parseEventLogs<typeof abi>>[number] & Log<bigint, number, false>

/** What a handler may spend on one event. */
export interface HandlerContext {
  /**
   * How long an IPFS object the event names may take to arrive: short on the follower's own
   * path (a hostile event may name a block no one has), longer when a quarantined event is
   * retried in the background.
   */
  fetchMs: number
  /**
   * Aborted when the follower stops: a handler's waits end then (with `fetchMs`'s own deadline
   * beside it). What it was applying is left as a crash would leave it: an event on the
   * follower's path is applied again after a restart (its block's position was not saved), a
   * quarantined one is retried (its row unchanged).
   */
  signal?: AbortSignal
}

export type EventHandler = (event: LedgerEvent, ctx: HandlerContext) => Promise<void>

/** A ledger event the follower could not apply, kept aside (pseudonymous facts and an error code only). */
export interface QuarantinedEvent {
  blockNumber: number
  txHash: string
  logIndex: number
  contract: 'Registry' | 'RecordLedger' | 'Consent' | 'Research' | 'CareTeams' | 'unknown'
  eventName: string
  reason: string
  attempts: number
  /** When it is retried next (ISO time); null once the follower gave up on it. */
  nextAttemptAt: string | null
  quarantinedAt: string
}

export interface FollowerStatus {
  /** Last block whose events this node has fully applied. */
  lastBlock: number
  /** The chain's head at the last poll. */
  headBlock: number
  /** Blocks behind the head. */
  lagBlocks: number
  /** The last error that held the follower back, until it passes. */
  error: string | null
}

/** On the follower's path an object an event names must be quick to come (it is usually local or one peer away). */
export const FOLLOW_FETCH_MS = 2_000
/**
 * What an event may wait on the follower's path instead, once events set aside in the same pass
 * took FOLLOW_FETCH_MS in all, or while no peer is connected: enough for a block already in the
 * local store, mostly (on a loaded machine even a local read may take longer: the retry finds it);
 * anything else goes to the background retries at once.
 */
export const FOLLOW_LOCAL_MS = 100
/** A background retry may wait as long as a peer may reasonably take (`retryFetchMs`, `MEDLEDGER_FOLLOW_RETRY_MS`). */
export const RETRY_FETCH_MS = 20_000
/** Retries of a quarantined event, with back-off from 1 s to 10 min (about 1.5 h in all). */
const MAX_ATTEMPTS = 14
const RETRY_SCAN_MS = 1_000
/** A retry made while no peer is connected is not counted; the event is tried again this much later, or as soon as a peer connects. */
const UNREACHABLE_RETRY_MS = 30_000
/** Quarantined events retried at once. */
const RETRY_CONCURRENCY = 4

export interface Follower {
  status(): FollowerStatus
  /** Resolves once the follower has applied every event up to the head seen at the call. */
  caughtUp(): Promise<void>
  /** The events it could not apply, oldest first. */
  quarantined(limit?: number): Promise<QuarantinedEvent[]>
  stop(): Promise<void>
}

const META_KEY = 'follow.block'

export interface StartFollowerParams {
  handlers: EventHandler[]
  intervalMs?: number
  fromBlock?: number
  /** Whether any peer could send a block now (false while no peer is connected). */
  reachable?: () => boolean
  /** Stops the follower as `stop()` does when it aborts (handlers' waits that watch it end at once). */
  signal?: AbortSignal
  /** How long a background retry waits for an IPFS object the event names (default RETRY_FETCH_MS). */
  retryFetchMs?: number
}

/**
 * Moves the follower's saved position back to just before `block` when it is at or past it: a
 * chain that lost its tail and got the journal's transactions again may hold them in fewer
 * blocks than before, below the position the follower had reached, where it would never look.
 * Its handlers are idempotent, so the blocks from `block` on are applied again harmlessly; this
 * node's own events among them are what write the rows a flow killed after its send did not.
 */
export async function rewindFollower(db: Db, block: number): Promise<void> {
  const saved = await getMeta(db, META_KEY)
  if (saved !== undefined && Number(saved) >= block) await setMeta(db, META_KEY, String(block - 1))
}

/**
 * Follows the ledger's events (Registry, RecordLedger, Consent, Research, CareTeams) from the last block this node
 * applied, in chain order (the Registry's membership events of a pass over several blocks
 * first: `membershipFirst`), handing each to every handler; the position is saved after each
 * chunk, so a node that was stopped resumes where it left off and catches up. Handlers must be
 * idempotent (a crash between a handler and the save replays the chunk).
 *
 * No single event can stall it: an event a handler throws on is quarantined (where it was
 * mined, which event, why) and the follower moves on; quarantined events are retried in the
 * background with back-off (an IPFS block a legitimate event names may arrive late) and deleted
 * once applied; a pass waits for IPFS about FOLLOW_FETCH_MS in all (`waitBudget`). Only an unreachable chain or database holds the follower at a chunk, retried
 * on the next poll. `stop()` (or `signal`) aborts the handlers' `ctx.signal`, so that a wait in
 * flight (a retry's may be `retryFetchMs`) ends at once; what it was applying stays to be applied
 * after a restart, as after a crash.
 */
export async function startFollower(s: Pick<Services, 'db' | 'ledger' | 'log'>, { handlers, intervalMs = 300, fromBlock = 0, reachable = () => true, signal, retryFetchMs = RETRY_FETCH_MS }: StartFollowerParams): Promise<Follower> {
  const saved = await getMeta(s.db, META_KEY)
  let last = saved === undefined ? fromBlock - 1 : Number(saved)
  let head = last
  let error: string | null = null
  let stopped = false
  let waiters: { block: number; resolve: () => void }[] = []
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  let teamsFollowed = false
  const stopping = new AbortController()
  const stopSignal = signal === undefined ? stopping.signal : AbortSignal.any([signal, stopping.signal])
  const isStopped = () => stopped || stopSignal.aborted

  async function apply(event: LedgerEvent, ctx: HandlerContext): Promise<void> {
    for (const handle of handlers) await handle(event, { ...ctx, signal: stopSignal })
  }

  async function tick(): Promise<void> {
    head = Number(await s.ledger.client.getBlockNumber({ cacheTime: 0 }))
    const pass: Pass = { apply, stopped: isStopped, waits: waitBudget(reachable), appliedAhead: new Set() }
    teamsFollowed ||= await followCareTeams(s, { ...pass, from: fromBlock, to: last })
    await membershipFirst(s, pass, { from: last + 1, to: head })
    for await (const { to, logs } of logChunks(s.ledger.client, { address: addresses(s), from: last + 1, to: head })) {
      if (isStopped()) return
      if (!(await applyChunk(s, logs, pass))) return
      await setMeta(s.db, META_KEY, String(to))
      last = to
    }
  }

  function settle(): void {
    const done = waiters.filter((w) => w.block <= last)
    waiters = waiters.filter((w) => w.block > last)
    for (const w of done) w.resolve()
  }

  function schedule(delay: number): void {
    if (isStopped()) return
    timer = setTimeout(() => {
      running = tick().then(() => {
        if (error !== null) s.log('info', 'ledger follower: caught up again')
        error = null
      }, (err: unknown) => {
        if (isStopped()) return
        const message = (err as Error).message.split('\n')[0]
        if (message !== error) s.log('warn', `ledger follower: held at block ${last + 1}: ${message}`)
        error = message
      }).finally(() => {
        settle()
        schedule(error === null ? intervalMs : Math.min(5_000, intervalMs * 4))
      })
    }, delay)
  }
  schedule(0)

  const retries = startRetries(s, { apply, stopped: isStopped, reachable, retryFetchMs })

  return {
    quarantined: (limit = 100) => listQuarantined(s, limit),
    status: () => ({ lastBlock: Math.max(last, 0), headBlock: head, lagBlocks: Math.max(0, head - last), error }),
    async caughtUp() {
      const target = Number(await s.ledger.client.getBlockNumber({ cacheTime: 0 }))
      if (last >= target) return
      await new Promise<void>((resolve) => waiters.push({ block: target, resolve }))
    },
    async stop() {
      stopped = true
      stopping.abort()
      clearTimeout(timer)
      retries.clear()
      await running.catch(() => {})
      await retries.settled()
      for (const w of waiters) w.resolve()
      waiters = []
    },
  }
}

type FollowerServices = Pick<Services, 'db' | 'ledger' | 'log'>

/** The consortium's contracts, whose events are followed (Research and CareTeams when the deployment has them). */
function addresses(s: FollowerServices): Address[] {
  const c = s.ledger.contracts
  return [c.registry, c.recordLedger, c.consent, ...(c.research ? [c.research] : []), ...(c.careTeams ? [c.careTeams] : [])]
}

const CARE_TEAMS_KEY = 'follow.careTeams'

/**
 * Finds the CareTeams contract the Registry links (asked of the chain until found: a deployment
 * without it has none) and, the first time, applies its events up to block `to`, the follower's
 * position: a node that followed the chain before it followed CareTeams mirrors the teams made
 * meanwhile (on a fresh node the range is empty). True once done, false to try on the next poll.
 */
async function followCareTeams(s: FollowerServices, { from, to, ...pass }: Pass & { from: number; to: number }): Promise<boolean> {
  if (!s.ledger.contracts.careTeams) {
    await careTeamsAddress(s.ledger).catch((err: unknown) => {
      if (!isAppError(err, 'TEAMS_UNAVAILABLE')) throw err
    })
  }
  const careTeams = s.ledger.contracts.careTeams
  if (!careTeams) return false
  if (await getMeta(s.db, CARE_TEAMS_KEY) !== undefined) return true
  for await (const { logs } of logChunks(s.ledger.client, { address: [careTeams], from, to })) {
    if (!(await applyChunk(s, logs, pass))) return false
  }
  await setMeta(s.db, CARE_TEAMS_KEY, String(to))
  return true
}

function contractOf(s: FollowerServices, address: string): QuarantinedEvent['contract'] {
  const a = address.toLowerCase()
  const c = s.ledger.contracts
  return a === c.registry.toLowerCase() ? 'Registry' : a === c.recordLedger.toLowerCase() ? 'RecordLedger' : a === c.consent.toLowerCase() ? 'Consent'
    : a === c.research?.toLowerCase() ? 'Research' : a === c.careTeams?.toLowerCase() ? 'CareTeams' : 'unknown'
}

/** Keeps `event` aside; rethrows `err` instead when the chain itself cannot be reached (nothing is wrong with the event). */
async function quarantine(s: FollowerServices, event: LedgerEvent, err: unknown): Promise<void> {
  if (isAppError(err, 'LEDGER_UNAVAILABLE') || !isAppError(err)) {
    await s.ledger.client.getBlockNumber({ cacheTime: 0 }).catch(() => { throw err })
  }
  const reason = reasonOf(err)
  const now = Date.now()
  await s.db.run(`INSERT INTO quarantined_events (tx_hash, log_index, block_number, contract, event_name, reason, attempts, next_at, created_at)
    VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (tx_hash, log_index) DO NOTHING`,
  event.transactionHash.toLowerCase(), event.logIndex, Number(event.blockNumber), contractOf(s, event.address), event.eventName, reason, now + backoff(1), now)
  s.log('warn', `ledger follower: quarantined ${contractOf(s, event.address)}.${event.eventName} at block ${event.blockNumber} (log ${event.logIndex}): ${reason}`)
}

type Apply = (event: LedgerEvent, ctx: HandlerContext) => Promise<void>

/** What one pass of the follower hands each chunk: the handlers, whether it is stopping, its wait budget, the events applied ahead. */
interface Pass { apply: Apply; stopped: () => boolean; waits: WaitBudget; appliedAhead: Set<string> }

const positionOf = (e: LedgerEvent) => `${e.transactionHash.toLowerCase()}:${e.logIndex}`
const byPosition = (a: LedgerEvent, b: LedgerEvent) => Number(a.blockNumber) - Number(b.blockNumber) || a.logIndex - b.logIndex

/** The Registry's membership and admission events: they fetch nothing, and their handlers read the chain as it is now. */
const MEMBERSHIP_EVENTS = new Set(['HospitalProposed', 'HospitalAdded', 'HospitalRemoved', 'NodeInfoSet'])

/**
 * When a pass covers more than one block (a node catching up, one joining), the Registry's
 * membership and admission events in it are applied first, in chain order, so that a proposal or
 * an admission is mirrored here without waiting behind the records, teams and shares before it;
 * the in-order pass then skips them. One that fails is left to the in-order pass (which quarantines it).
 */
async function membershipFirst(s: FollowerServices, pass: Pass, { from, to }: { from: number; to: number }): Promise<void> {
  if (to <= from) return
  for await (const { logs } of logChunks(s.ledger.client, { address: [s.ledger.contracts.registry], from, to })) {
    const events = (parseEventLogs({ abi, logs, strict: true }) as unknown as LedgerEvent[]).filter((e) => MEMBERSHIP_EVENTS.has(e.eventName)).sort(byPosition)
    for (const event of events) {
      if (pass.stopped()) return
      try {
        await pass.apply(event, { fetchMs: FOLLOW_FETCH_MS })
        pass.appliedAhead.add(positionOf(event))
      } catch { /* applied again, or quarantined, in chain order */ }
    }
  }
}

/** How long the next event may wait for IPFS on the follower's path, and the time events set aside took. */
interface WaitBudget { fetchMs(): number; setAside(ms: number): void }

/**
 * The follower's path waits for IPFS objects about FOLLOW_FETCH_MS per pass in all: each event
 * may wait what the events it set aside in this pass left of it; once they took it all (a run of
 * hostile events naming blocks no one has), and while no peer is connected (a joining node not
 * admitted yet, replaying old batches, care teams and shares), an event only finds what is
 * already local (FOLLOW_LOCAL_MS) and the others go to the background retries at once, so that
 * what comes after them on chain (an admission proposal) is not held up for 2 s per such event.
 */
function waitBudget(reachable: () => boolean): WaitBudget {
  let setAsideMs = 0
  return {
    fetchMs: () => reachable() ? Math.max(FOLLOW_LOCAL_MS, Math.round(FOLLOW_FETCH_MS - setAsideMs)) : FOLLOW_LOCAL_MS,
    setAside: (ms) => { setAsideMs += ms },
  }
}

/** Applies one chunk's events in chain order, quarantining any a handler throws on; false when stopped midway. */
async function applyChunk(s: FollowerServices, logs: Log[], { apply, stopped, waits, appliedAhead }: Pass): Promise<boolean> {
  const events = parseEventLogs({ abi, logs, strict: true }) as unknown as LedgerEvent[]
  events.sort(byPosition)
  for (const event of events) {
    if (stopped()) return false
    if (appliedAhead.has(positionOf(event))) continue
    const started = performance.now()
    try {
      await apply(event, { fetchMs: waits.fetchMs() })
    } catch (err) {
      if (stopped()) throw err
      waits.setAside(performance.now() - started)
      await quarantine(s, event, err)
    }
  }
  return true
}

type Retrying = { apply: Apply; stopped: () => boolean; reachable: () => boolean; retryFetchMs: number }

/**
 * Scans for due quarantined events every RETRY_SCAN_MS until stopped; when a peer connects after
 * none was, every event waiting is due at once. `clear` stops the timer, `settled` awaits a scan under way.
 */
function startRetries(s: FollowerServices, r: Retrying): { clear: () => void; settled: () => Promise<void> } {
  let timer: NodeJS.Timeout | undefined
  let retrying: Promise<void> = Promise.resolve()
  let wasReachable = r.reachable()
  const scan = async (): Promise<void> => {
    const now = r.reachable()
    if (now && !wasReachable) await s.db.run('UPDATE quarantined_events SET next_at = ? WHERE next_at IS NOT NULL', Date.now())
    wasReachable = now
    await retryDue(s, r)
  }
  const schedule = (): void => {
    if (r.stopped()) return
    timer = setTimeout(() => {
      retrying = scan().catch((err: unknown) => s.log('warn', `ledger follower: retrying quarantined events: ${(err as Error).message.split('\n')[0]}`))
        .finally(schedule)
    }, RETRY_SCAN_MS)
  }
  schedule()
  return { clear: () => clearTimeout(timer), settled: () => retrying.catch(() => {}) }
}

type DueRow = { tx_hash: string; log_index: number; block_number: number; attempts: number }

/**
 * Retries the quarantined events that are due, off the follower's path, RETRY_CONCURRENCY at a
 * time, the least tried first (a run of hostile events retried again and again does not hold up
 * one quarantined a moment ago). While no peer is connected the wait is FOLLOW_FETCH_MS (only
 * the local store can answer), and an event still missing its block is not counted an attempt
 * (a joining node may wait days for its admission, then for its peers).
 */
async function retryDue(s: FollowerServices, r: Retrying): Promise<void> {
  const due = await s.db.all<DueRow>(
    'SELECT tx_hash, log_index, block_number, attempts FROM quarantined_events WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY attempts, next_at LIMIT 16', Date.now())
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < due.length && !r.stopped()) await retryOne(s, due[next++]!, r)
  }
  await Promise.all(Array.from({ length: RETRY_CONCURRENCY }, worker))
}

async function retryOne(s: FollowerServices, row: DueRow, { apply, stopped, reachable, retryFetchMs }: Retrying): Promise<void> {
  const logs = await s.ledger.client.getLogs({ address: addresses(s), fromBlock: BigInt(row.block_number), toBlock: BigInt(row.block_number) })
  const event = (parseEventLogs({ abi, logs, strict: true }) as unknown as LedgerEvent[])
    .find((e) => e.transactionHash.toLowerCase() === row.tx_hash && e.logIndex === Number(row.log_index))
  try {
    if (!event) throw new Error('the event is no longer on the chain')
    await apply(event, { fetchMs: reachable() ? retryFetchMs : FOLLOW_FETCH_MS })
    await s.db.run('DELETE FROM quarantined_events WHERE tx_hash = ? AND log_index = ?', row.tx_hash, row.log_index)
    s.log('info', `ledger follower: applied the quarantined ${event.eventName} at block ${row.block_number} (log ${row.log_index})`)
  } catch (err) {
    if (stopped()) return
    const unreachable = !reachable() && (isAppError(err, 'RECORD_UNAVAILABLE') || (err as Error)?.name === 'TimeoutError')
    const attempts = Number(row.attempts) + (unreachable ? 0 : 1)
    const nextAt = unreachable ? Date.now() + UNREACHABLE_RETRY_MS : attempts >= MAX_ATTEMPTS ? null : Date.now() + backoff(attempts)
    await s.db.run('UPDATE quarantined_events SET attempts = ?, reason = ?, next_at = ? WHERE tx_hash = ? AND log_index = ?',
      attempts, reasonOf(err), nextAt, row.tx_hash, row.log_index)
  }
}

/** The quarantined events, oldest first. */
async function listQuarantined(s: FollowerServices, limit: number): Promise<QuarantinedEvent[]> {
  const rows = await s.db.all<{ tx_hash: string; log_index: number; block_number: number; contract: QuarantinedEvent['contract']; event_name: string; reason: string; attempts: number; next_at: number | null; created_at: number }>(
    'SELECT * FROM quarantined_events ORDER BY block_number, log_index LIMIT ?', limit)
  return rows.map((r) => ({
    blockNumber: Number(r.block_number),
    txHash: r.tx_hash,
    logIndex: Number(r.log_index),
    contract: r.contract,
    eventName: r.event_name,
    reason: r.reason,
    attempts: Number(r.attempts),
    nextAttemptAt: r.next_at === null ? null : new Date(Number(r.next_at)).toISOString(),
    quarantinedAt: new Date(Number(r.created_at)).toISOString(),
  }))
}

function backoff(attempts: number): number {
  return Math.min(600_000, 1_000 * 2 ** Math.max(0, attempts - 1))
}

/**
 * Why an event could not be applied, fit for the node's log and the admin's page: an error's
 * code and registered message (which never carry personal data) or its kind, with the
 * details our own code writes (pseudonymous ids only), cut short.
 */
function reasonOf(err: unknown): string {
  if (isAppError(err)) return `${err.code}${err.details ? `: ${String(err.details)}` : ''}`.split('\n')[0]!.slice(0, 200)
  const e = err as Error
  return `${e?.name ?? 'Error'}: ${String(e?.message ?? err)}`.split('\n')[0]!.slice(0, 200)
}
