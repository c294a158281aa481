import { requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { sendResearchConsent } from '../ledger/research/send-research-consent.ts'
import { hasResearchConsent } from '../ledger/research/has-research-consent.ts'
import { sendHospitalResearchConsent } from '../ledger/research/send-hospital-research-consent.ts'
import { findHospital } from '../accounts/hospital.ts'
import { AppError } from '../errors.ts'
import { findStudy } from './studies.ts'
import { dropResearchKeys, keepResearchKeys } from './research-keys.ts'
import type { Services } from '../services.ts'

export interface ResearchConsentResult {
  studyId: string
  consent: 'given' | 'withdrawn'
  purpose: 'HRESCH'
  txHash: string
}

/**
 * A patient consents (`give`) to the use of their records, de-identified, in an approved study,
 * or withdraws that consent; on chain from the patient's own key (purpose HRESCH). A withdrawal
 * takes effect at the next export: the chain is asked then.
 * @throws AppError FORBIDDEN, UNKNOWN_STUDY, STUDY_NOT_APPROVED, RESEARCH_CONSENT_EXISTS, NO_RESEARCH_CONSENT, LEDGER_*
 */
export async function setResearchConsent(s: Services, { actor, study, give, signal }: { actor: Actor | undefined; study: string; give: boolean; signal?: AbortSignal }): Promise<ResearchConsentResult> {
  const who = requireRole(actor, 'patient')
  const row = await findStudy(s, study)
  if (!row) throw new AppError('UNKNOWN_STUDY')
  if (give && row.state !== 'approved') throw new AppError('STUDY_NOT_APPROVED')
  const live = await hasResearchConsent(s.ledger, { studyId: row.id, patient: who.account.address as `0x${string}` })
  if (give && live) throw new AppError('RESEARCH_CONSENT_EXISTS')
  if (!give && !live) throw new AppError('NO_RESEARCH_CONSENT')
  const receipt = await sendResearchConsent(s.ledger, { patient: requireKeys(who).ledger, studyId: row.id, give, signal })
  const state = give ? 'given' : 'withdrawn'
  const now = Date.now()
  await s.db.run(`INSERT INTO research_consents (study_id, patient_id, state, tx_hash, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (study_id, patient_id) DO UPDATE SET state = excluded.state, tx_hash = excluded.tx_hash, updated_at = excluded.updated_at`,
  row.id, who.account.id, state, receipt.transactionHash, now)
  await researchKeys(s, who, give, signal)
  return { studyId: row.id, consent: state, purpose: 'HRESCH', txHash: receipt.transactionHash }
}

/** A patient's research consent to one study, or to all of a hospital's studies (`hospital` set, `studyId` null), as the Consent views show it. */
export interface ResearchConsentView {
  studyId: `0x${string}` | null
  hospital?: { id: string; name: string; address: string }
  title: string
  state: 'given' | 'withdrawn'
  txHash: `0x${string}` | null
  updatedAt: string
  patient: { id: string; name: string }
  /** The study's researcher; null for a hospital's studies (the recipients are its researchers). */
  researcher: { id: string; name: string } | null
}

/** The caller's research consents (a patient's own; nobody else sees them): this node's copy of the chain's. */
export async function listResearchConsents(s: Services, { actor }: { actor: Actor | undefined }): Promise<ResearchConsentView[]> {
  const who = requireRole(actor, 'patient')
  const rows = await s.db.all<{ study_id: `0x${string}`; title: string; state: 'given' | 'withdrawn'; tx_hash: `0x${string}` | null; updated_at: number; researcher_id: string; researcher_name: string }>(
    `SELECT c.study_id, s.title, c.state, c.tx_hash, c.updated_at, s.researcher_id, a.name AS researcher_name FROM research_consents c
      JOIN studies s ON s.id = c.study_id JOIN accounts a ON a.id = s.researcher_id WHERE c.patient_id = ? ORDER BY c.updated_at DESC`, who.account.id)
  const studies: ResearchConsentView[] = rows.map((r) => ({
    studyId: r.study_id,
    title: r.title,
    state: r.state,
    txHash: r.tx_hash,
    updatedAt: new Date(Number(r.updated_at)).toISOString(),
    patient: { id: who.account.id, name: who.account.name },
    researcher: { id: r.researcher_id, name: r.researcher_name },
  }))
  const hospitals = await s.db.all<{ hospital_id: string; name: string; address: string; state: 'given' | 'withdrawn'; tx_hash: `0x${string}` | null; updated_at: number }>(
    `SELECT c.hospital_id, h.name, h.address, c.state, c.tx_hash, c.updated_at FROM research_hospital_consents c JOIN hospitals h ON h.id = c.hospital_id
      WHERE c.patient_id = ? ORDER BY c.updated_at DESC`, who.account.id)
  return [...studies, ...hospitals.map((h) => ({
    studyId: null,
    hospital: { id: h.hospital_id, name: h.name, address: h.address },
    title: `Every approved study of ${h.name}`,
    state: h.state,
    txHash: h.tx_hash,
    updatedAt: new Date(Number(h.updated_at)).toISOString(),
    patient: { id: who.account.id, name: who.account.name },
    researcher: null,
  }))]
}

/** A patient's consent to every approved study of their own hospital's researchers, as this node holds it (null: never given). */
export async function ownHospitalResearchConsent(s: Services, { actor }: { actor: Actor | undefined }): Promise<'given' | 'withdrawn' | null> {
  const who = requireRole(actor, 'patient')
  const row = await s.db.get<{ state: 'given' | 'withdrawn' }>('SELECT state FROM research_hospital_consents WHERE hospital_id = ? AND patient_id = ?', who.account.hospitalId, who.account.id)
  return row?.state ?? null
}

/**
 * A patient consents to every approved study, present and future, of a hospital's researchers,
 * or withdraws that consent; on chain from the patient's own key (purpose HRESCH). A study they
 * withdraw from on its own stays out.
 * @throws AppError FORBIDDEN, UNKNOWN_HOSPITAL, RESEARCH_CONSENT_EXISTS, NO_RESEARCH_CONSENT, LEDGER_*
 */
export async function setHospitalResearchConsent(s: Services, { actor, hospital, give, signal }: { actor: Actor | undefined; hospital: string; give: boolean; signal?: AbortSignal }): Promise<{ hospitalId: string; consent: 'given' | 'withdrawn'; purpose: 'HRESCH'; txHash: string }> {
  const who = requireRole(actor, 'patient')
  const h = await findHospital(s.db, hospital)
  if (!h) throw new AppError('UNKNOWN_HOSPITAL')
  const row = await s.db.get<{ state: string }>('SELECT state FROM research_hospital_consents WHERE hospital_id = ? AND patient_id = ?', h.id, who.account.id)
  if (give && row?.state === 'given') throw new AppError('RESEARCH_CONSENT_EXISTS')
  if (!give && row?.state !== 'given') throw new AppError('NO_RESEARCH_CONSENT')
  const receipt = await sendHospitalResearchConsent(s.ledger, { patient: requireKeys(who).ledger, hospital: h.address as `0x${string}`, give, signal })
  const state = give ? 'given' : 'withdrawn'
  await s.db.run(`INSERT INTO research_hospital_consents (hospital_id, patient_id, state, tx_hash, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (hospital_id, patient_id) DO UPDATE SET state = excluded.state, tx_hash = excluded.tx_hash, updated_at = excluded.updated_at`,
  h.id, who.account.id, state, receipt.transactionHash, Date.now())
  await researchKeys(s, who, give, signal)
  return { hospitalId: h.id, consent: state, purpose: 'HRESCH', txHash: receipt.transactionHash }
}

/**
 * After a consent, the patient's records' keys are kept for their home hospital (the export opens
 * them there); after a withdrawal that leaves no consent given, they are dropped.
 */
async function researchKeys(s: Services, who: Actor, give: boolean, signal?: AbortSignal): Promise<void> {
  if (!give) return dropResearchKeys(s, who.account.id)
  const keys = requireKeys(who)
  await keepResearchKeys(s, { patientId: who.account.id, address: who.account.address, scheme: who.account.keyScheme, privateKey: keys.encryptionPrivateKey, hospitalId: who.account.hospitalId, signal })
}
