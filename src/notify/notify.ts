import { AppError } from '../errors.ts'
import type { Config } from '../config.ts'
import type { NotificationFacts, NotifyParams, Party, Services } from '../services.ts'
import { notificationKinds, renderNotification, type NamedParty, type PartyRole } from './render-notification.ts'

export type { NotifyParams, Party } from '../services.ts'

/**
 * Puts a notification in the outbox: `queued` for the mail worker when the node has an SMTP
 * URL, otherwise `kept` (readable through `GET /api/v1/mail`). Never waits for SMTP.
 * @throws AppError UNKNOWN_ACCOUNT when the recipient or an acting account does not exist,
 *   UNKNOWN_HOSPITAL for an unknown acting hospital, INTERNAL for facts out of range.
 */
export async function notify(s: Pick<Services, 'db' | 'config'>, params: NotifyParams): Promise<void> {
  const facts = checkFacts(params)
  const recipient = await s.db.get('SELECT email, name, role, state FROM accounts WHERE id = ?', params.accountId) as
    { email: string; name: string; role: PartyRole; state: string } | undefined
  if (!recipient) throw new AppError('UNKNOWN_ACCOUNT', { details: 'notification recipient' })
  // Another member's user: its own node tells it, on seeing the same event on the ledger.
  if (recipient.state === 'remote') return
  const by = await partyOf(s, params.by)
  const { subject, body } = renderNotification({ ...facts, recipient, by, baseUrl: uiBaseUrl(s.config) })
  await s.db.run('INSERT INTO outbox (account_id, to_address, kind, subject, body, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', params.accountId, recipient.email, facts.kind, subject, body, s.config.smtpUrl === '' ? 'kept' : 'queued', Date.now())
}

async function partyOf({ db }: Pick<Services, 'db'>, by: Party): Promise<NamedParty> {
  if ('accountId' in by) {
    const row = await db.get('SELECT name, role FROM accounts WHERE id = ?', by.accountId) as NamedParty | undefined
    if (!row) throw new AppError('UNKNOWN_ACCOUNT', { details: 'notification party' })
    return row
  }
  const row = await db.get('SELECT name FROM hospitals WHERE id = ?', by.hospitalId) as { name: string } | undefined
  if (!row) throw new AppError('UNKNOWN_HOSPITAL', { details: 'notification party' })
  return { name: row.name, role: 'hospital' }
}

/** Copies only the fields a kind has, checked, so a caller's extra properties never reach a template. */
function checkFacts(p: NotificationFacts): NotificationFacts {
  const bad = (what: string) => new AppError('INTERNAL', { details: `notify ${String(p.kind)}: ${what}` })
  const records = (n: unknown): number | 'all' => {
    if (n === 'all' || (Number.isSafeInteger(n) && (n as number) > 0)) return n as number | 'all'
    throw bad('recordCount must be a positive whole number or "all"')
  }
  const when = (d: unknown): Date => {
    if (d instanceof Date && Number.isFinite(d.getTime())) return new Date(d.getTime())
    throw bad('expiresAt must be a valid Date')
  }
  switch (p.kind) {
    case 'access-requested':
      if (!Number.isSafeInteger(p.durationSeconds) || p.durationSeconds <= 0) throw bad('durationSeconds must be a positive whole number')
      return { kind: p.kind, recordCount: records(p.recordCount), durationSeconds: p.durationSeconds }
    case 'access-approved':
    case 'team-access-granted':
    case 'team-grant-confirmed':
      return { kind: p.kind, recordCount: records(p.recordCount), expiresAt: when(p.expiresAt) }
    case 'emergency-access':
      return { kind: p.kind, expiresAt: when(p.expiresAt) }
    default:
      if (!(notificationKinds as readonly string[]).includes(p.kind)) throw bad('unknown kind')
      return { kind: p.kind }
  }
}

/** The UI's address for links: the configured public URL, else the listening address when it is fixed. */
function uiBaseUrl(config: Pick<Config, 'publicUrl' | 'host' | 'port'>): string {
  if (config.publicUrl !== '') return config.publicUrl
  if (config.port === 0 || config.host === '0.0.0.0' || config.host === '::') return ''
  return `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`
}
