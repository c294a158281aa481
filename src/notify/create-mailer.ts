import { createTransport } from 'nodemailer'
import { AppError } from '../errors.ts'
import type { Mailer } from '../services.ts'

export type { MailMessage, Mailer } from '../services.ts'

export interface CreateMailerParams {
  /** `smtp://user:pass@host:port` (STARTTLS when offered) or `smtps://…` (TLS from the start). */
  smtpUrl: string
  from: string
  /** Connection, greeting and idle-socket limit, so a silent server cannot hold a message for minutes. */
  timeoutMs?: number
}

/**
 * Creates the SMTP transport of a node from its `MEDLEDGER_SMTP_URL`.
 * @throws AppError VALIDATION_FAILED when the URL is not smtp: or smtps: (the URL is never echoed).
 */
export function createMailer({ smtpUrl, from, timeoutMs = 15_000 }: CreateMailerParams): Mailer {
  let u: URL
  try {
    u = new URL(smtpUrl)
  } catch {
    throw new AppError('VALIDATION_FAILED', { message: 'Invalid configuration: smtpUrl: not a URL.' })
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new AppError('VALIDATION_FAILED', { message: 'Invalid configuration: smtpUrl: expected smtp: or smtps:.' })
  const secure = u.protocol === 'smtps:'
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
  const port = u.port ? Number(u.port) : secure ? 465 : 587
  const user = decodeURIComponent(u.username)
  const pass = decodeURIComponent(u.password)
  const transport = createTransport({
    host,
    port,
    secure,
    auth: user ? { user, pass } : undefined,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    // nodemailer's own logging would print the SMTP conversation, AUTH included.
    logger: false,
    debug: false,
  })
  const secrets = credentialForms(user, pass, u.username, u.password)
  const redact = (text: string) => secrets.reduce((t, s) => t.split(s).join('***'), text)

  return {
    from,
    target: `${u.protocol}//${u.host}`,
    async send({ to, subject, text }, { signal } = {}) {
      signal?.throwIfAborted()
      const sending = transport.sendMail({ from, to, subject, text })
      let onAbort: (() => void) | undefined
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal!.reason)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
      try {
        await Promise.race([sending, aborted])
      } catch (err) {
        if (signal?.aborted && err === signal.reason) {
          sending.catch(() => {}) // settles after close(); nothing waits for it any more
          throw err
        }
        const e = err as { code?: string; responseCode?: number; message?: string }
        throw new Error(redact([e.code, e.responseCode, e.message ?? String(err)].filter((x) => x !== undefined && x !== '').join(' ')).slice(0, 500))
      } finally {
        if (onAbort) signal?.removeEventListener('abort', onAbort)
      }
    },
    close() {
      transport.close()
    },
  }
}

/** The ways a credential can appear in an error text: raw, percent-encoded, base64 of SASL PLAIN/LOGIN. */
function credentialForms(user: string, pass: string, rawUser: string, rawPass: string): string[] {
  if (!pass) return []
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')
  return [...new Set([pass, rawPass, b64(pass), b64(`\0${user}\0${pass}`), b64(`${user}\0${user}\0${pass}`), rawUser && user ? `${rawUser}:${rawPass}` : ''])]
    .filter((s) => s !== '')
    .sort((a, b) => b.length - a.length)
}
