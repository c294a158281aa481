import { CliError } from '../client.ts'
import { idList, positiveDays } from '../flags.ts'
import { signedIn, type Common } from '../session.ts'

interface RequestView { requestId: string; status: string; patient: { name: string }; requester: { name: string }; purpose: string; expiresAt: string | null; recordIds: string[] | null; grantedRecordIds: string[] | null; reason: string | null }

const describe = (r: RequestView) =>
  `${r.requestId}  ${r.status.padEnd(8)}  ${r.requester.name} → ${r.patient.name}  ${r.grantedRecordIds ?? r.recordIds ? `${(r.grantedRecordIds ?? r.recordIds)!.length} record(s)` : 'all records'}  ${r.expiresAt ? `until ${r.expiresAt}` : ''}  "${r.purpose}"${r.reason ? `  reason: ${r.reason}` : ''}`

/**
 * `medledger access request --patient P --purpose TEXT --days N [--records ID,ID]`: a doctor asks a patient for access.
 * @throws CliError USAGE without --patient, --purpose or --days, or with bad --days; the node's code when it refuses.
 */
export async function accessRequest(c: Common, f: { patient?: string; records?: string; purpose?: string; days?: string }): Promise<void> {
  if (!f.patient || !f.purpose || !f.days) throw new CliError('USAGE', 'access request needs --patient P --purpose TEXT --days N [--records ID,ID]', 2)
  const r = await signedIn(c).client.json<RequestView>('POST', '/access-requests', { patient: f.patient, purpose: f.purpose, days: positiveDays(f.days), ...(f.records ? { recordIds: idList(f.records) } : {}) })
  c.out.result(r, () => `Requested: ${describe(r)}`)
}

/**
 * `medledger access approve REQUEST_ID [--days N] [--records ID,ID]`: the patient grants a request.
 * @throws CliError USAGE without REQUEST_ID or with bad --days; the node's code when it refuses.
 */
export async function accessApprove(c: Common, id: string | undefined, f: { days?: string; records?: string }): Promise<void> {
  if (!id) throw new CliError('USAGE', 'access approve needs REQUEST_ID [--days N] [--records ID,ID]', 2)
  const r = await signedIn(c).client.json<RequestView>('POST', `/access-requests/${encodeURIComponent(id)}/approve`, { ...(f.days ? { days: positiveDays(f.days) } : {}), ...(f.records ? { recordIds: idList(f.records) } : {}) })
  c.out.result(r, () => `Approved: ${describe(r)}`)
}

/**
 * `medledger access deny REQUEST_ID --reason TEXT`.
 * @throws CliError USAGE without REQUEST_ID or --reason; the node's code when it refuses.
 */
export async function accessDeny(c: Common, id: string | undefined, f: { reason?: string }): Promise<void> {
  if (!id || !f.reason) throw new CliError('USAGE', 'access deny needs REQUEST_ID --reason TEXT', 2)
  const r = await signedIn(c).client.json<RequestView>('POST', `/access-requests/${encodeURIComponent(id)}/deny`, { reason: f.reason })
  c.out.result(r, () => `Denied: ${describe(r)}`)
}

/**
 * `medledger access revoke REQUEST_ID`: the patient ends a grant.
 * @throws CliError USAGE without REQUEST_ID; the node's code when it refuses.
 */
export async function accessRevoke(c: Common, id: string | undefined): Promise<void> {
  if (!id) throw new CliError('USAGE', 'access revoke needs REQUEST_ID', 2)
  const r = await signedIn(c).client.json<RequestView>('POST', `/access-requests/${encodeURIComponent(id)}/revoke`)
  c.out.result(r, () => `Revoked: ${describe(r)}`)
}

/**
 * `medledger access list`: the signed-in user's access requests.
 * @throws CliError the node's code when it refuses.
 */
export async function accessList(c: Common): Promise<void> {
  const r = await signedIn(c).client.json<{ requests: RequestView[] }>('GET', '/access-requests')
  c.out.result(r, () => r.requests.map(describe).join('\n') || 'No access requests.')
}
