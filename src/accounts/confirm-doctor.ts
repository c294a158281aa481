import type { Address } from 'viem'
import { sendConfirmation } from '../ledger/registry/send-confirmation.ts'
import { sendRejection } from '../ledger/registry/send-rejection.ts'
import { commitText } from '../crypto/commit-text.ts'
import { checkText } from '../text/check-text.ts'
import { AppError } from '../errors.ts'
import { requireKeys, requireRole, toAccount, type Account, type AccountRow, type Actor } from './account.ts'
import type { Services } from '../services.ts'

export interface PendingDoctor extends Account { licence: string | null }

/** The self-registered roles that wait for confirmation. */
export type PendingRole = 'doctor' | 'researcher'

async function loadPending(s: Services, actor: Actor | undefined, id: string, role: PendingRole): Promise<{ by: Actor; row: AccountRow }> {
  const by = requireRole(actor, 'admin', 'staff')
  const row = await s.db.get(`SELECT * FROM accounts WHERE id = ? AND role = ?`, id, role) as AccountRow | undefined
  if (!row || (by.account.role === 'staff' && row.hospital_id !== by.account.hospitalId)) throw new AppError('UNKNOWN_ACCOUNT')
  if (row.state !== 'pending') throw new AppError('ACCOUNT_NOT_PENDING')
  return { by, row }
}

/**
 * The admin or the doctor's hospital staff confirms a signed-up doctor (or, with `role`, a
 * researcher), on chain from their own key.
 * @throws AppError FORBIDDEN, UNKNOWN_ACCOUNT, ACCOUNT_NOT_PENDING, LEDGER_*
 */
export async function confirmDoctor(s: Services, { actor, id, role = 'doctor', signal }: { actor: Actor | undefined; id: string; role?: PendingRole; signal?: AbortSignal }): Promise<Account> {
  const { by, row } = await loadPending(s, actor, id, role)
  await sendConfirmation(s.ledger, { by: requireKeys(by).ledger, account: row.address as Address, signal })
  await s.db.run(`UPDATE accounts SET state = 'active' WHERE id = ?`, row.id)
  await s.notify?.({ accountId: row.id, kind: role === 'doctor' ? 'doctor-confirmed' : 'researcher-confirmed', by: { accountId: by.account.id } })
  return toAccount({ ...row, state: 'active' })
}

/**
 * The admin or the hospital staff rejects a signed-up doctor with a reason (off chain; a keyed
 * hash on chain).
 * @throws AppError FORBIDDEN, UNKNOWN_ACCOUNT, ACCOUNT_NOT_PENDING, VALIDATION_FAILED, LEDGER_*
 */
export async function rejectDoctor(s: Services, { actor, id, reason, role = 'doctor', signal }: { actor: Actor | undefined; id: string; reason: string; role?: PendingRole; signal?: AbortSignal }): Promise<Account> {
  const { by, row } = await loadPending(s, actor, id, role)
  const text = checkText(reason, { field: 'reason', max: 500, multiline: true })
  await sendRejection(s.ledger, { by: requireKeys(by).ledger, account: row.address as Address, reasonHash: commitText(s.nodeKey, `0x${row.address.slice(2).padStart(64, '0')}`, text), signal })
  await s.db.run(`UPDATE accounts SET state = 'rejected', rejection_reason = ? WHERE id = ?`, text, row.id)
  await s.notify?.({ accountId: row.id, kind: role === 'doctor' ? 'doctor-rejected' : 'researcher-rejected', by: { accountId: by.account.id } })
  return toAccount({ ...row, state: 'rejected' })
}

/** Doctors (or researchers) waiting for confirmation: all (admin) or the staff's hospital's. */
export async function listPendingDoctors(s: Services, { actor, role = 'doctor' }: { actor: Actor | undefined; role?: PendingRole }): Promise<PendingDoctor[]> {
  const by = requireRole(actor, 'admin', 'staff')
  const rows = (by.account.role === 'admin'
    ? await s.db.all(`SELECT * FROM accounts WHERE role = ? AND state = 'pending' ORDER BY created_at`, role)
    : await s.db.all(`SELECT * FROM accounts WHERE role = ? AND state = 'pending' AND hospital_id = ? ORDER BY created_at`, role, by.account.hospitalId)) as (AccountRow & { licence: string | null })[]
  return rows.map((r) => ({ ...toAccount(r), licence: r.licence }))
}
