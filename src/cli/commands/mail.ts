import { signedIn, type Common } from '../session.ts'

interface MailItem { id: number; kind: string; subject: string; body: string; state: string; createdAt: string; sentAt: string | null }

/**
 * `medledger mail list`: the signed-in user's notifications, newest first.
 * @throws CliError UNAUTHENTICATED without a session; the node's code when it refuses.
 */
export async function mailList(c: Common, f: { limit?: string; offset?: string }): Promise<void> {
  const client = signedIn(c).client
  const q = new URLSearchParams()
  if (f.limit) q.set('limit', f.limit)
  if (f.offset) q.set('offset', f.offset)
  const r = await client.json<{ mail: MailItem[]; total: number; limit: number; offset: number }>('GET', `/mail${q.size ? `?${q}` : ''}`)
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
