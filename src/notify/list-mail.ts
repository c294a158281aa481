import { AppError } from '../errors.ts'
import type { Services } from '../services.ts'
import type { NotificationKind } from './render-notification.ts'

export type MailState = 'kept' | 'queued' | 'sent' | 'failed'

/** One notification as its recipient sees it (no delivery error text: that is for operators). */
export interface MailView {
  id: number
  kind: NotificationKind
  subject: string
  body: string
  state: MailState
  createdAt: string
  sentAt: string | null
}

export interface ListMailParams {
  /** Whose notifications: only ever the signed-in account's own. */
  accountId: string
  limit?: number
  offset?: number
}

export interface ListMailResult {
  mail: MailView[]
  total: number
  limit: number
  offset: number
}

/**
 * Lists one account's notifications, newest first.
 * @throws AppError VALIDATION_FAILED when limit is not 1 to 200 or offset not a safe integer ≥ 0
 */
export async function listMail({ db }: Pick<Services, 'db'>, { accountId, limit = 50, offset = 0 }: ListMailParams): Promise<ListMailResult> {
  // A database cannot bind an integer past 2^53 (a schema's "integer" takes 1e48): refuse it here.
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 200 || !Number.isSafeInteger(offset) || offset < 0) {
    throw new AppError('VALIDATION_FAILED', { message: 'limit is 1 to 200 and offset 0 or more.' })
  }
  const rows = await db.all('SELECT id, kind, subject, body, state, created_at, sent_at FROM outbox WHERE account_id = ? ORDER BY id DESC LIMIT ? OFFSET ?', accountId, limit, offset) as { id: number; kind: NotificationKind; subject: string; body: string; state: MailState; created_at: number; sent_at: number | null }[]
  const { total } = await db.get('SELECT count(*) AS total FROM outbox WHERE account_id = ?', accountId) as { total: number }
  return {
    mail: rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      subject: r.subject,
      body: r.body,
      state: r.state,
      createdAt: new Date(r.created_at).toISOString(),
      sentAt: r.sent_at === null ? null : new Date(r.sent_at).toISOString(),
    })),
    total,
    limit,
    offset,
  }
}
