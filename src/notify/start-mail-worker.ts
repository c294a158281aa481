import type { Services } from '../services.ts'
import type { Mailer } from './create-mailer.ts'
import { deliverOutbox } from './deliver-outbox.ts'

export interface StartMailWorkerParams {
  /** Time between passes over the outbox, and the first retry delay. */
  intervalMs?: number
  /** Longest wait between two tries of one message (the back-off doubles up to it). */
  maxDelayMs?: number
  /** A message older than this is no longer tried and stays `failed`. */
  maxAgeMs?: number
}

export interface MailWorker {
  /** Stops the timer and waits for the pass under way; a message being sent stays as it was. */
  stop(): Promise<void>
}

/**
 * Delivers the outbox on a timer: every pass sends what is `queued`, and retries what `failed`
 * after a delay that doubles with each failure, from `intervalMs` up to `maxDelayMs`.
 */
export function startMailWorker(s: Pick<Services, 'db' | 'log'> & { mailer: Mailer }, { intervalMs = 2000, maxDelayMs = 15 * 60_000, maxAgeMs = 3 * 24 * 3600_000 }: StartMailWorkerParams = {}): MailWorker {
  // Back-off is kept in memory: after a restart every waiting message is tried once at once.
  const retries = new Map<number, { failures: number; nextAt: number; firstAt: number }>()
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()

  const pass = async () => {
    const now = Date.now()
    const outcomes = await deliverOutbox(s, {
      isDue: (id) => (retries.get(id)?.nextAt ?? 0) <= now,
      notBefore: now - maxAgeMs,
      signal: controller.signal,
    })
    const after = Date.now()
    for (const o of outcomes) {
      if (o.sent) { retries.delete(o.id); continue }
      const r = retries.get(o.id) ?? { failures: 0, nextAt: 0, firstAt: after }
      r.failures += 1
      r.nextAt = after + Math.min(intervalMs * 2 ** (r.failures - 1), maxDelayMs)
      retries.set(o.id, r)
    }
    for (const [id, r] of retries) if (after - r.firstAt > maxAgeMs) retries.delete(id)
  }
  const tick = () => {
    running = pass()
      .catch((err: unknown) => { if (!controller.signal.aborted) s.log('error', `mail worker: ${(err as Error).message}`) })
      .finally(() => {
        if (!controller.signal.aborted) timer = setTimeout(tick, intervalMs).unref()
      })
  }
  timer = setTimeout(tick, 0).unref()

  return {
    async stop() {
      controller.abort(new Error('mail worker stopped'))
      clearTimeout(timer)
      await running
    },
  }
}
