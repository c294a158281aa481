import { AppError } from '../errors.ts'
import { requireRole, type Actor } from './account.ts'

/**
 * The actor, who must be a doctor whose account is confirmed.
 * @throws AppError FORBIDDEN, DOCTOR_NOT_CONFIRMED
 */
export function requireConfirmedDoctor(actor: Actor | undefined): Actor {
  const doctor = requireRole(actor, 'doctor')
  if (doctor.account.status !== 'active') throw new AppError('DOCTOR_NOT_CONFIRMED')
  return doctor
}
