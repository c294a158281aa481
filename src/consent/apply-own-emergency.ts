import type { Hex } from 'viem'
import { ensureAccount } from '../accounts/directory.ts'
import { releaseEmergency } from './emergency.ts'
import { releaseEmergencyShares } from './emergency-shares.ts'
import type { DeclaredEmergency } from './apply-emergency-declared.ts'
import type { Services } from '../services.ts'

/**
 * An emergency this node's doctor declared, written by the follower when the declaring flow
 * stopped before writing it (killed after the send): the row (its reason not kept: only its keyed
 * hash is on the ledger), then what the flow would have done next — the patient's hospital here
 * releases the keys, or, for a patient held elsewhere, this node's hospitals their shares.
 * Whichever of this and the flow writes the row goes on; a row already written changes nothing.
 * @throws AppError UNKNOWN_ACCOUNT, RECORD_UNAVAILABLE, LEDGER_* (releasing)
 */
export async function applyOwnEmergencyDeclared(s: Services, e: DeclaredEmergency): Promise<void> {
  const emergencyId = e.emergencyId.toLowerCase() as Hex
  const patient = await s.db.get<{ id: string; state: string }>(`SELECT id, state FROM accounts WHERE address = ? AND role = 'patient' AND state IN ('active', 'remote')`, e.patient.toLowerCase())
  if (!patient) return
  const doctor = await ensureAccount(s, e.doctor)
  const written = await s.db.run(`INSERT INTO emergencies (emergency_id, doctor_id, patient_id, reason, expires_at, declare_tx, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (emergency_id) DO NOTHING`, emergencyId, doctor.id, patient.id, 'Not kept: the declaring node stopped before writing it (its keyed hash is on the ledger).',
  e.expiresAt, e.txHash, Date.now())
  if (written.changes === 0) return
  if (patient.state === 'active') await releaseEmergency(s, emergencyId)
  else await releaseEmergencyShares(s, { emergencyId })
}
