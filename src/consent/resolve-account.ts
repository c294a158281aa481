import { findAccount, requireRole, toAccount, type Account, type Actor } from '../accounts/account.ts'
import { AppError } from '../errors.ts'
import type { Services } from '../services.ts'
import { carePatients } from './care-patients.ts'

/** What a confirmed doctor learns of a patient they have no care relationship with: enough to ask for access or upload, nothing personal. */
export type AccountRef = Pick<Account, 'id' | 'address' | 'role'>

/**
 * Finds ONE account by exact e-mail, id or ledger address, as far as the actor may see it.
 * Yourself, always (in full); nobody else while your account is not active. The admin: any
 * account; hospital staff: their own hospital's; a confirmed doctor: a patient they have a care
 * relationship with in full, any other patient as id, address and role only; a patient: only
 * themselves. Every other answer is UNKNOWN_ACCOUNT, alike for an account that exists and one
 * that does not.
 * @throws AppError UNAUTHENTICATED, UNKNOWN_ACCOUNT, LEDGER_UNAVAILABLE
 */
export async function resolveAccount(s: Services, { actor, ref }: { actor: Actor | undefined; ref: string }): Promise<Account | AccountRef> {
  const me = requireRole(actor, 'admin', 'staff', 'doctor', 'patient').account
  const r = ref.trim().toLowerCase()
  if ([me.email, me.id, me.address.toLowerCase()].includes(r)) return me
  if (me.status !== 'active' || r === '') throw new AppError('UNKNOWN_ACCOUNT')
  const row = await findAccount(s.db, r)
  if (!row) throw new AppError('UNKNOWN_ACCOUNT')
  if (me.role === 'admin') return toAccount(row)
  if (me.role === 'staff' && me.hospitalId !== null && row.hospital_id === me.hospitalId) return toAccount(row)
  if (me.role === 'doctor' && row.role === 'patient') {
    if ((await carePatients(s, { doctorId: me.id, patientId: row.id })).size > 0) return toAccount(row)
    return { id: row.id, address: toAccount(row).address, role: row.role }
  }
  throw new AppError('UNKNOWN_ACCOUNT')
}
