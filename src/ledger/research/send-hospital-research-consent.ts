import { encodeFunctionData, type Address, type LocalAccount, type TransactionReceipt } from 'viem'
import { researchAbi } from '../abis.ts'
import { sendTransaction } from '../send-transaction.ts'
import { researchAddress } from './research-address.ts'
import type { Ledger } from '../connect-ledger.ts'

/**
 * `Research.giveHospitalConsent` (`give`) or `withdrawHospitalConsent`, from the patient's own key:
 * consent to every approved study of `hospital`'s researchers.
 * @throws AppError RESEARCH_UNAVAILABLE, LEDGER_REVERTED (`ResearchHospitalConsentExists`, `ResearchNoHospitalConsent`, `ResearchUnknownHospital`, …) / LEDGER_UNAVAILABLE
 */
export async function sendHospitalResearchConsent(ledger: Ledger, p: { patient: LocalAccount; hospital: Address; give: boolean; signal?: AbortSignal }): Promise<TransactionReceipt> {
  const data = p.give
    ? encodeFunctionData({ abi: researchAbi, functionName: 'giveHospitalConsent', args: [p.hospital] })
    : encodeFunctionData({ abi: researchAbi, functionName: 'withdrawHospitalConsent', args: [p.hospital] })
  return sendTransaction(ledger, { account: p.patient, to: researchAddress(ledger), data, purpose: p.give ? 'research-consent-hospital' : 'research-withdraw-hospital', ref: p.hospital.toLowerCase(), abi: researchAbi, signal: p.signal })
}
