import type { Services } from '../services.ts'
import type { Mailer } from './create-mailer.ts'

export interface DeliverOutboxParams {
  /** Most messages sent in one pass. */
  limit?: number
  /** Skips a waiting message that is not due yet (the worker's back-off). */
  isDue?: (id: number) => boolean
  /** Messages created before this time (ms) are no longer tried; they stay `failed` or `queued`. */
  notBefore?: number
  signal?: AbortSignal
}

export interface DeliveryOutcome {
  id: number
  sent: boolean
  /** Why it was not sent; never holds the SMTP credentials. */
  error?: string
}

/**
 * Sends the outbox's `queued` and `failed` messages, oldest first, and marks each `sent` (with
 * its time) or `failed` (with the reason). Stops between messages when `signal` aborts, leaving
 * the rest as they were.
 */
export async function deliverOutbox(s: Pick<Services, 'db' | 'log'> & { mailer: Mailer }, { limit = 50, isDue = () => true, notBefore = 0, signal }: DeliverOutboxParams = {}): Promise<DeliveryOutcome[]> {
  const waiting = await s.db.all(`SELECT id, to_address, subject, body FROM outbox WHERE state IN ('queued', 'failed') AND created_at >= ? ORDER BY id`, notBefore) as { id: number; to_address: string; subject: string; body: string }[]
  const outcomes: DeliveryOutcome[] = []
  for (const m of waiting) {
    if (outcomes.length >= limit || signal?.aborted) break
    if (!isDue(m.id)) continue
    try {
      await s.mailer.send({ to: m.to_address, subject: m.subject, text: m.body }, { signal })
    } catch (err) {
      if (signal?.aborted) break
      const error = (err as Error).message
      await s.db.run(`UPDATE outbox SET state = 'failed', error = ? WHERE id = ?`, error, m.id)
      // The outbox id, not the address: logs hold no personal data.
      s.log('warn', `mail ${m.id}: not sent through ${s.mailer.target}: ${error.split(m.to_address).join('<recipient>')}`)
      outcomes.push({ id: m.id, sent: false, error })
      continue
    }
    await s.db.run(`UPDATE outbox SET state = 'sent', sent_at = ?, error = NULL WHERE id = ?`, Date.now(), m.id)
    outcomes.push({ id: m.id, sent: true })
  }
  return outcomes
}
