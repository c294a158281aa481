import { CliError, createClient, pickSession, type ApiClient } from '../client.ts'
import type { Common } from './client-commands.ts'

function session(c: Common): ApiClient {
  const s = pickSession(c.api, c.as)
  if (!s) throw new CliError('UNAUTHENTICATED', `Not signed in on ${c.api}: run \`medledger login --email E\`.`)
  return createClient(c.api, s.token)
}

function list(v: string | undefined): string[] | undefined {
  return v ? v.split(',').map((x) => x.trim()).filter(Boolean) : undefined
}

function days(v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new CliError('USAGE', '--days takes a positive number', 2)
  return n
}

interface RequestView { requestId: string; status: string; patient: { name: string }; requester: { name: string }; purpose: string; expiresAt: string | null; recordIds: string[] | null; grantedRecordIds: string[] | null; reason: string | null }

const describe = (r: RequestView) =>
  `${r.requestId}  ${r.status.padEnd(8)}  ${r.requester.name} → ${r.patient.name}  ${r.grantedRecordIds ?? r.recordIds ? `${(r.grantedRecordIds ?? r.recordIds)!.length} record(s)` : 'all records'}  ${r.expiresAt ? `until ${r.expiresAt}` : ''}  "${r.purpose}"${r.reason ? `  reason: ${r.reason}` : ''}`

export async function accessRequest(c: Common, f: { patient?: string; records?: string; purpose?: string; days?: string }): Promise<void> {
  if (!f.patient || !f.purpose || !f.days) throw new CliError('USAGE', 'access request needs --patient P --purpose TEXT --days N [--records ID,ID]', 2)
  const r = await session(c).json<RequestView>('POST', '/access-requests', { patient: f.patient, purpose: f.purpose, days: days(f.days), ...(f.records ? { recordIds: list(f.records) } : {}) })
  c.out.result(r, () => `Requested: ${describe(r)}`)
}

export async function accessApprove(c: Common, id: string | undefined, f: { days?: string; records?: string }): Promise<void> {
  if (!id) throw new CliError('USAGE', 'access approve needs REQUEST_ID [--days N] [--records ID,ID]', 2)
  const r = await session(c).json<RequestView>('POST', `/access-requests/${encodeURIComponent(id)}/approve`, { ...(f.days ? { days: days(f.days) } : {}), ...(f.records ? { recordIds: list(f.records) } : {}) })
  c.out.result(r, () => `Approved: ${describe(r)}`)
}

export async function accessDeny(c: Common, id: string | undefined, f: { reason?: string }): Promise<void> {
  if (!id || !f.reason) throw new CliError('USAGE', 'access deny needs REQUEST_ID --reason TEXT', 2)
  const r = await session(c).json<RequestView>('POST', `/access-requests/${encodeURIComponent(id)}/deny`, { reason: f.reason })
  c.out.result(r, () => `Denied: ${describe(r)}`)
}

export async function accessRevoke(c: Common, id: string | undefined): Promise<void> {
  if (!id) throw new CliError('USAGE', 'access revoke needs REQUEST_ID', 2)
  const r = await session(c).json<RequestView>('POST', `/access-requests/${encodeURIComponent(id)}/revoke`)
  c.out.result(r, () => `Revoked: ${describe(r)}`)
}

export async function accessList(c: Common): Promise<void> {
  const r = await session(c).json<{ requests: RequestView[] }>('GET', '/access-requests')
  c.out.result(r, () => r.requests.map(describe).join('\n') || 'No access requests.')
}

export async function shareCreate(c: Common, f: { records?: string; to?: string; token?: boolean; days?: string; once?: boolean }): Promise<void> {
  if (!f.records || Boolean(f.to) === Boolean(f.token)) throw new CliError('USAGE', 'share create needs --records ID,ID and either --to EMAIL or --token [--days N] [--once]', 2)
  const r = await session(c).json<{ shareId: string; token?: string; expiresAt: string }>('POST', '/shares', {
    recordIds: list(f.records), ...(f.to ? { to: f.to } : { token: true }), ...(f.days ? { days: days(f.days) } : {}), ...(f.once ? { once: true } : {}),
  })
  c.out.result(r, () => `Share ${r.shareId} until ${r.expiresAt}${r.token ? `\nToken (shown once; whoever holds it can read these records): ${r.token}` : ''}`)
}

export async function shareRevoke(c: Common, id: string | undefined): Promise<void> {
  if (!id) throw new CliError('USAGE', 'share revoke needs SHARE_ID', 2)
  const r = await session(c).json<{ shareId: string }>('POST', `/shares/${encodeURIComponent(id)}/revoke`)
  c.out.result(r, () => `Revoked share ${r.shareId}.`)
}

export async function shareList(c: Common): Promise<void> {
  const r = await session(c).json<{ shares: { shareId: string; live: boolean; byToken: boolean; recordIds: string[]; expiresAt: string; grantee: { name: string } | null }[] }>('GET', '/shares')
  c.out.result(r, () => r.shares.map((x) => `${x.shareId}  ${x.live ? 'live   ' : 'ended  '}  ${x.byToken ? 'token' : x.grantee?.name}  ${x.recordIds.length} record(s) until ${x.expiresAt}`).join('\n') || 'No shares.')
}

export async function emergencyOpen(c: Common, f: { patient?: string; reason?: string }): Promise<void> {
  if (!f.patient || f.reason === undefined) throw new CliError('USAGE', 'emergency open needs --patient P --reason TEXT', 2)
  const r = await session(c).json<{ emergencyId: string; expiresAt: string; records: number }>('POST', '/emergencies', { patient: f.patient, reason: f.reason })
  c.out.result(r, () => `EMERGENCY ACCESS ${r.emergencyId}: recorded on the ledger, the patient is notified and admins will review it.\n${r.records} record(s) open to you until ${r.expiresAt}.`)
}

export async function emergencyList(c: Common): Promise<void> {
  const r = await session(c).json<{ emergencies: { emergencyId: string; doctor: { name: string }; patient: { name: string }; reason: string; live: boolean; createdAt: string }[] }>('GET', '/emergencies')
  c.out.result(r, () => r.emergencies.map((e) => `${e.createdAt}  ${e.live ? 'LIVE ' : 'ended'}  ${e.doctor.name} → ${e.patient.name}  "${e.reason}"`).join('\n') || 'No emergency accesses.')
}

export async function audit(c: Common, f: { patient?: string; record?: string }): Promise<void> {
  if (Boolean(f.patient) === Boolean(f.record)) throw new CliError('USAGE', 'audit needs --patient P or --record ID', 2)
  const client = session(c)
  const q = new URLSearchParams()
  if (f.patient) q.set('patient', (await client.json<{ id: string }>('POST', '/users/resolve', { ref: f.patient })).id)
  if (f.record) q.set('record', f.record)
  const r = await client.json<{ entries: { at: string; event: string; actor: { name: string | null; address: string }; recordId: string | null; purpose: string | null; why: string | null; emergency: boolean }[] }>('GET', `/audit?${q}`)
  c.out.result(r, () => r.entries.map((e) => `${e.at}  ${e.emergency ? '!! ' : '   '}${e.event.padEnd(22)} ${e.actor.name ?? e.actor.address}${e.recordId ? `  record ${e.recordId.slice(0, 10)}…` : ''}${e.purpose ? `  (${e.purpose})` : ''}${e.why ? `  "${e.why}"` : ''}`).join('\n') || 'No entries.')
}
