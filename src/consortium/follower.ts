import { parseEventLogs, type Log } from 'viem'
import { consentAbi, recordLedgerAbi, registryAbi } from '../ledger/abis.ts'
import { getMeta, setMeta } from '../db/open-database.ts'
import { logChunks } from '../ledger/log-chunks.ts'
import type { Services } from '../services.ts'

const abi = [...registryAbi, ...recordLedgerAbi, ...consentAbi]

/** One decoded event of the consortium's contracts, with where it was mined. */
export type LedgerEvent = ReturnType<typeof parseEventLogs<typeof abi>>[number] & Log<bigint, number, false>

export type EventHandler = (event: LedgerEvent) => Promise<void>

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

export interface Follower {
  status(): FollowerStatus
  /** Resolves once the follower has applied every event up to the head seen at the call. */
  caughtUp(): Promise<void>
  stop(): Promise<void>
}

const META_KEY = 'follow.block'

/**
 * Follows the ledger's events (Registry, RecordLedger, Consent) from the last block this node
 * applied, in chain order, handing each to every handler; the position is saved after each
 * chunk, so a node that was stopped resumes where it left off and catches up. Handlers must be
 * idempotent (a crash between a handler and the save replays the chunk). A handler that throws
 * holds the follower at that chunk, which is retried on the next poll; nothing is skipped.
 */
export async function startFollower(s: Pick<Services, 'db' | 'ledger' | 'log'>, { handlers, intervalMs = 300, fromBlock = 0 }: { handlers: EventHandler[]; intervalMs?: number; fromBlock?: number }): Promise<Follower> {
  const saved = await getMeta(s.db, META_KEY)
  let last = saved === undefined ? fromBlock - 1 : Number(saved)
  let head = last
  let error: string | null = null
  let stopped = false
  let waiters: { block: number; resolve: () => void }[] = []
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()

  const addresses = () => [s.ledger.contracts.registry, s.ledger.contracts.recordLedger, s.ledger.contracts.consent]

  async function tick(): Promise<void> {
    head = Number(await s.ledger.client.getBlockNumber({ cacheTime: 0 }))
    for await (const { to, logs } of logChunks(s.ledger.client, { address: addresses(), from: last + 1, to: head })) {
      if (stopped) return
      const events = parseEventLogs({ abi, logs, strict: true }) as unknown as LedgerEvent[]
      events.sort((a, b) => Number(a.blockNumber) - Number(b.blockNumber) || a.logIndex - b.logIndex)
      for (const event of events) {
        if (stopped) return
        for (const handle of handlers) await handle(event)
      }
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
    if (stopped) return
    timer = setTimeout(() => {
      running = tick().then(() => {
        if (error !== null) s.log('info', 'ledger follower: caught up again')
        error = null
      }, (err: unknown) => {
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

  return {
    status: () => ({ lastBlock: Math.max(last, 0), headBlock: head, lagBlocks: Math.max(0, head - last), error }),
    async caughtUp() {
      const target = Number(await s.ledger.client.getBlockNumber({ cacheTime: 0 }))
      if (last >= target) return
      await new Promise<void>((resolve) => waiters.push({ block: target, resolve }))
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running.catch(() => {})
      for (const w of waiters) w.resolve()
      waiters = []
    },
  }
}
