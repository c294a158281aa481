import { CliError, createClient, pickSession } from '../client.ts'
import type { Common } from './client-commands.ts'

interface MailItem { id: number; kind: string; subject: string; body: string; state: string; createdAt: string; sentAt: string | null }

/** `medledger mail list`: the signed-in user's notifications, newest first. */
export async function mailList(c: Common, f: { limit?: string; offset?: string }): Promise<void> {
  const s = pickSession(c.api, c.as)
  if (!s) throw new CliError('UNAUTHENTICATED', c.as ? `No session for ${c.as} on ${c.api}: run \`medledger login --email ${c.as}\`.` : `Not signed in on ${c.api}: run \`medledger login --email E\`.`)
  const q = new URLSearchParams()
  if (f.limit) q.set('limit', f.limit)
  if (f.offset) q.set('offset', f.offset)
  const r = await createClient(c.api, s.token).json<{ mail: MailItem[]; total: number; limit: number; offset: number }>('GET', `/mail${q.size ? `?${q}` : ''}`)
  c.out.result(r, () => [
    ...r.mail.map((m) => [
      `#${m.id}  ${m.createdAt}  ${m.state}${m.sentAt ? ` ${m.sentAt}` : ''}  ${m.kind}`,
      `Subject: ${m.subject}`,
      '',
      m.body.trimEnd().replace(/^/gm, '    '),
      '',
    ].join('\n')),
    `${r.mail.length} of ${r.total} message(s).`,
  ].join('\n'))
}
