import { CliError } from '../client.ts'
import { idList, positiveDays } from '../flags.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger share create --records ID,ID (--to EMAIL | --token) [--days N] [--once]`.
 * @throws CliError USAGE without --records or without exactly one of --to and --token, or with
 * bad --days; the node's code when it refuses.
 */
export async function shareCreate(c: Common, f: { records?: string; to?: string; token?: boolean; days?: string; once?: boolean }): Promise<void> {
  if (!f.records || Boolean(f.to) === Boolean(f.token)) throw new CliError('USAGE', 'share create needs --records ID,ID and either --to EMAIL or --token [--days N] [--once]', 2)
  const r = await signedIn(c).client.json<{ shareId: string; token?: string; expiresAt: string }>('POST', '/shares', {
    recordIds: idList(f.records), ...(f.to ? { to: f.to } : { token: true }), ...(f.days ? { days: positiveDays(f.days) } : {}), ...(f.once ? { once: true } : {}),
  })
  c.out.result(r, () => `Share ${r.shareId} until ${r.expiresAt}${r.token ? `\nToken (shown once; whoever holds it can read these records): ${r.token}` : ''}`)
}

/**
 * `medledger share revoke SHARE_ID`.
 * @throws CliError USAGE without SHARE_ID; the node's code when it refuses.
 */
export async function shareRevoke(c: Common, id: string | undefined): Promise<void> {
  if (!id) throw new CliError('USAGE', 'share revoke needs SHARE_ID', 2)
  const r = await signedIn(c).client.json<{ shareId: string }>('POST', `/shares/${encodeURIComponent(id)}/revoke`)
  c.out.result(r, () => `Revoked share ${r.shareId}.`)
}

/**
 * `medledger share list`: the signed-in patient's shares, live and ended.
 * @throws CliError the node's code when it refuses.
 */
export async function shareList(c: Common): Promise<void> {
  const r = await signedIn(c).client.json<{ shares: { shareId: string; live: boolean; byToken: boolean; recordIds: string[]; expiresAt: string; grantee: { name: string } | null }[] }>('GET', '/shares')
  c.out.result(r, () => r.shares.map((x) => `${x.shareId}  ${x.live ? 'live   ' : 'ended  '}  ${x.byToken ? 'token' : x.grantee?.name}  ${x.recordIds.length} record(s) until ${x.expiresAt}`).join('\n') || 'No shares.')
}
