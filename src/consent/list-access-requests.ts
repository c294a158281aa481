import { chainTime } from '../ledger/chain-time.ts'
import { requireRole, type Actor } from '../accounts/account.ts'
import { toView, type AccessRequestView, type RequestRow } from './access-request.ts'
import type { Services } from '../services.ts'

/** Requests addressed to a patient, or made by a doctor; all for the admin. Newest first. */
export async function listAccessRequests(s: Services, { actor }: { actor: Actor | undefined }): Promise<AccessRequestView[]> {
  const who = requireRole(actor, 'admin', 'doctor', 'patient')
  const column = who.account.role === 'patient' ? 'patient_id' : 'requester_id'
  const rows = who.account.role === 'admin'
    ? await s.db.all('SELECT * FROM access_requests ORDER BY created_at DESC') as RequestRow[]
    : await s.db.all(`SELECT * FROM access_requests WHERE ${column} = ? ORDER BY created_at DESC`, who.account.id) as RequestRow[]
  const now = await chainTime(s.ledger)
  return Promise.all(rows.map((r) => toView(s, r, now)))
}
