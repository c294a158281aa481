import type { Address, Hex } from 'viem'
import { dropResearchKeys } from './research-keys.ts'
import type { Services } from '../services.ts'

/** A patient's research consent as its event names it: to a study (`ResearchConsentGiven` / `Withdrawn`) or to a hospital's studies (`HospitalResearchConsent…`). */
export interface OwnResearchConsent { patient: Address; give: boolean; studyId?: Hex; hospital?: Address; txHash: Hex }

/**
 * A research consent or withdrawal this node's patient sent, written by the follower when the
 * flow stopped before writing it (killed after the send): the consent row takes the chain's state,
 * and after a withdrawal that leaves no consent given the research copies of the patient's record
 * keys are dropped (a consent's copies need the patient's key: the top-up at their next sign-in
 * keeps them). Idempotent: a row already in that state changes nothing.
 */
export async function applyOwnResearchConsent(s: Pick<Services, 'db'>, e: OwnResearchConsent): Promise<void> {
  const patient = await s.db.get<{ id: string }>(`SELECT id FROM accounts WHERE address = ? AND role = 'patient' AND state = 'active'`, e.patient.toLowerCase())
  if (!patient) return
  const state = e.give ? 'given' : 'withdrawn'
  if (e.studyId !== undefined) {
    await s.db.run(`INSERT INTO research_consents (study_id, patient_id, state, tx_hash, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (study_id, patient_id) DO UPDATE SET state = excluded.state, tx_hash = excluded.tx_hash, updated_at = excluded.updated_at
      WHERE research_consents.state <> excluded.state`, e.studyId.toLowerCase(), patient.id, state, e.txHash, Date.now())
  } else {
    const hospital = await s.db.get<{ id: string }>('SELECT id FROM hospitals WHERE address = ?', e.hospital!.toLowerCase())
    if (!hospital) return
    await s.db.run(`INSERT INTO research_hospital_consents (hospital_id, patient_id, state, tx_hash, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (hospital_id, patient_id) DO UPDATE SET state = excluded.state, tx_hash = excluded.tx_hash, updated_at = excluded.updated_at
      WHERE research_hospital_consents.state <> excluded.state`, hospital.id, patient.id, state, e.txHash, Date.now())
  }
  if (!e.give) await dropResearchKeys(s, patient.id)
}
