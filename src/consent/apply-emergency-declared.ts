import type { Address, Hex } from 'viem'
import { ensureAccount } from '../accounts/directory.ts'
import { findActiveByAddress } from '../accounts/find-active-by-address.ts'
import { releaseEmergency } from './emergency.ts'
import type { Services } from '../services.ts'

/** A break-glass access as its `EmergencyDeclared` event names it. */
export interface DeclaredEmergency { emergencyId: Hex; doctor: Address; patient: Address; expiresAt: number; txHash: Hex }

/**
 * A doctor declared an emergency on a patient of this node (from whichever node): the patient's
 * hospital knows it and releases the keys, once. Emergencies on patients held elsewhere are ignored.
 * @throws AppError UNKNOWN_ACCOUNT, RECORD_UNAVAILABLE, LEDGER_* (releasing the keys)
 */
export async function applyEmergencyDeclared(s: Services, e: DeclaredEmergency): Promise<void> {
  const emergencyId = e.emergencyId.toLowerCase() as Hex
  const existing = await s.db.get<{ envelopes: string | null }>('SELECT envelopes FROM emergencies WHERE emergency_id = ?', emergencyId)
  const patient = await findActiveByAddress(s.db, e.patient, 'patient')
  if (!existing) {
    if (!patient) return
    const doctor = await ensureAccount(s, e.doctor)
    await s.db.run(`INSERT INTO emergencies (emergency_id, doctor_id, patient_id, reason, expires_at, declare_tx, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (emergency_id) DO NOTHING`, emergencyId, doctor.id, patient.id, 'Stated at the declaring hospital (its keyed hash is on the ledger).',
    e.expiresAt, e.txHash, Date.now())
  }
  if (patient && (existing?.envelopes ?? null) === null) await releaseEmergency(s, emergencyId)
}
