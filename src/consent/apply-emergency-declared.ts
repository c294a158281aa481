import type { Address, Hex } from 'viem'
import { ensureAccount } from '../accounts/directory.ts'
import { findActiveByAddress } from '../accounts/find-active-by-address.ts'
import { releaseEmergency } from './emergency.ts'
import { releaseEmergencyShares } from './emergency-shares.ts'
import type { Services } from '../services.ts'

/** A break-glass access as its `EmergencyDeclared` event names it. */
export interface DeclaredEmergency { emergencyId: Hex; doctor: Address; patient: Address; expiresAt: number; txHash: Hex }

/**
 * A doctor declared an emergency (from whichever node). On a patient of this node: the patient's
 * hospital knows it and releases the keys (and its own shares), once. On a patient held
 * elsewhere: this node's hospital releases the shares it holds of the patient's records, if any.
 * @throws AppError UNKNOWN_ACCOUNT, RECORD_UNAVAILABLE, LEDGER_* (releasing the keys)
 */
export async function applyEmergencyDeclared(s: Services, e: DeclaredEmergency): Promise<void> {
  const emergencyId = e.emergencyId.toLowerCase() as Hex
  const existing = await s.db.get<{ envelopes: string | null }>('SELECT envelopes FROM emergencies WHERE emergency_id = ?', emergencyId)
  const patient = await findActiveByAddress(s.db, e.patient, 'patient')
  if (!patient) return releaseSharesHeldHere(s, e, emergencyId, existing !== undefined)
  if (!existing) {
    const doctor = await ensureAccount(s, e.doctor)
    await s.db.run(`INSERT INTO emergencies (emergency_id, doctor_id, patient_id, reason, expires_at, declare_tx, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (emergency_id) DO NOTHING`, emergencyId, doctor.id, patient.id, 'Stated at the declaring hospital (its keyed hash is on the ledger).',
    e.expiresAt, e.txHash, Date.now())
  }
  if ((existing?.envelopes ?? null) === null) await releaseEmergency(s, emergencyId)
}

/**
 * Threshold break-glass: an emergency on a patient of another hospital. When this node knows
 * records of that patient (replicas, mirrored anchors), its hospital may hold shares of their
 * data keys: it keeps the emergency and releases them to the doctor, once.
 */
async function releaseSharesHeldHere(s: Services, e: DeclaredEmergency, emergencyId: Hex, known: boolean): Promise<void> {
  const patient = await s.db.get<{ id: string }>('SELECT id FROM accounts WHERE address = ?', e.patient.toLowerCase())
  if (!patient || !(await s.db.get(`SELECT 1 FROM records WHERE patient_id = ? AND state = 'anchored' LIMIT 1`, patient.id))) return
  if (!known) {
    const doctor = await ensureAccount(s, e.doctor)
    await s.db.run(`INSERT INTO emergencies (emergency_id, doctor_id, patient_id, reason, expires_at, declare_tx, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (emergency_id) DO NOTHING`, emergencyId, doctor.id, patient.id, 'Stated at the declaring hospital (its keyed hash is on the ledger).',
    e.expiresAt, e.txHash, Date.now())
  }
  await releaseEmergencyShares(s, { emergencyId })
}
