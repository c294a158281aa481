import { requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { sendResearchConsent } from '../ledger/research/send-research-consent.ts'
import { hasResearchConsent } from '../ledger/research/has-research-consent.ts'
import { AppError } from '../errors.ts'
import { findStudy } from './studies.ts'
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
  return { studyId: row.id, consent: state, purpose: 'HRESCH', txHash: receipt.transactionHash }
}
