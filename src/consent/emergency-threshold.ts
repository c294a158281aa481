import { sendEmergencyThreshold } from '../ledger/consent/send-emergency-threshold.ts'
import { requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { AppError } from '../errors.ts'
import type { Services } from '../services.ts'

/**
 * The consortium admin sets, on chain (`Consent.setEmergencyThreshold`, from the admin's own
 * key), how many member hospitals new records' data keys are split among (`shares`, n) and how
 * many of them a break-glass needs (`threshold`, k). 0 and 0 bring back the default:
 * n = min(5, members), k = ceil(n/2) + 1 capped at n. Records already stored keep their split.
 * @throws AppError FORBIDDEN (not the admin), VALIDATION_FAILED (not 2 <= k <= n <= 16 nor 0/0), LEDGER_*
 */
export async function setEmergencyThreshold(s: Services, { actor, shares, threshold, signal }: { actor: Actor | undefined; shares: number; threshold: number; signal?: AbortSignal }): Promise<{ shares: number; threshold: number; txHash: string }> {
  const admin = requireRole(actor, 'admin')
  if (admin.account.hospitalId !== null) throw new AppError('FORBIDDEN', { message: 'Only the consortium admin sets the break-glass threshold.' })
  const valid = (shares === 0 && threshold === 0) || (Number.isInteger(shares) && Number.isInteger(threshold) && threshold >= 2 && threshold <= shares && shares <= 16)
  if (!valid) throw new AppError('VALIDATION_FAILED', { message: 'The threshold must satisfy 2 <= threshold <= shares <= 16 (or both 0 for the default).' })
  const receipt = await sendEmergencyThreshold(s.ledger, { admin: requireKeys(admin).ledger, shares, threshold, signal })
  return { shares, threshold, txHash: receipt.transactionHash }
}
