import { requireRole, toAccount, type Account, type AccountRow, type Actor, type Role } from '../accounts/account.ts'
import type { Services } from '../services.ts'
import { carePatients } from './care-patients.ts'

export interface ListVisibleAccountsParams {
  actor: Actor | undefined
  /** Only accounts of this role. */
  role?: Role
  /** Only accounts of this hospital (its id). */
  hospital?: string
}

/** States of the accounts a list may show: not half-made sign-ups, not other members' mirrors. */
const listedStates = `('active', 'pending', 'rejected', 'suspended')`

/**
 * The accounts the actor may see, with name and e-mail, oldest first: an account that is not
 * active (a pending, rejected or suspended one) sees only itself; the admin sees all; hospital
 * staff see their own hospital's accounts; a confirmed doctor sees themselves and the patients
 * they have a care relationship with (see `carePatients`); a patient sees themselves.
 * @throws AppError UNAUTHENTICATED, LEDGER_UNAVAILABLE
 */
export async function listVisibleAccounts(s: Services, { actor, role, hospital }: ListVisibleAccountsParams): Promise<Account[]> {
  const me = requireRole(actor, 'admin', 'staff', 'doctor', 'patient').account
  let rows: AccountRow[]
  if (me.status !== 'active') {
    rows = await s.db.all(`SELECT * FROM accounts WHERE id = ?`, me.id) as AccountRow[]
  } else if (me.role === 'admin') {
    rows = await s.db.all(`SELECT * FROM accounts WHERE state IN ${listedStates} ORDER BY created_at`) as AccountRow[]
  } else if (me.role === 'staff' && me.hospitalId !== null) {
    rows = await s.db.all(`SELECT * FROM accounts WHERE state IN ${listedStates} AND (hospital_id = ? OR id = ?) ORDER BY created_at`, me.hospitalId, me.id) as AccountRow[]
  } else if (me.role === 'doctor') {
    const ids = [me.id, ...await carePatients(s, { doctorId: me.id })]
    rows = await s.db.all(`SELECT * FROM accounts WHERE state = 'active' AND id IN (${ids.map(() => '?').join(', ')}) ORDER BY created_at`, ...ids) as AccountRow[]
  } else {
    rows = await s.db.all(`SELECT * FROM accounts WHERE id = ?`, me.id) as AccountRow[]
  }
  return rows.filter((r) => (!role || r.role === role) && (!hospital || r.hospital_id === hospital)).map(toAccount)
}
