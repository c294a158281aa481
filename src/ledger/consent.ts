import { encodeFunctionData, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { consentAbi } from './abis.ts'
import { sendTransaction, toLedgerError } from './send-transaction.ts'
import type { Ledger } from './connect-ledger.ts'

// Thin wrappers over the Consent contract: each sends one transaction from the acting
// account's own key (through the journal) or reads one view. The contract enforces who may do
// what; the node only prepares the calls.

type Write = (ledger: Ledger, account: LocalAccount, args: readonly unknown[], ref: string, signal?: AbortSignal) => Promise<TransactionReceipt>

function writer(functionName: string, purpose: string): Write {
  return (ledger, account, args, ref, signal) => sendTransaction(ledger, {
    account,
    to: ledger.contracts.consent,
    data: encodeFunctionData({ abi: consentAbi, functionName, args } as never),
    purpose,
    ref,
    abi: consentAbi,
    signal,
  })
}

/** `requestAccess(requestId, patient, scope, purpose, purposeHash, duration)` from the doctor. */
export const sendAccessRequest = writer('requestAccess', 'consent-request')
/** `approve(requestId, scope, duration, envelopes)` from the patient. */
export const sendApproval = writer('approve', 'consent-approve')
/** `deny(requestId, reasonHash)` from the patient. */
export const sendDenial = writer('deny', 'consent-deny')
/** `revoke(requestId)` from the patient. */
export const sendRevocation = writer('revoke', 'consent-revoke')
/** `share(shareId, grantee, tokenHash, scope, duration, once, envelopes)` from the patient. */
export const sendShare = writer('share', 'consent-share')
/** `revokeShare(shareId)` from the patient. */
export const sendShareRevocation = writer('revokeShare', 'consent-share-revoke')
/** `useShareToken(shareId, recordId)` from the serving hospital. */
export const sendShareTokenUse = writer('useShareToken', 'consent-share-use')
/** `declareEmergency(emergencyId, patient, reasonHash, window)` from the doctor. */
export const sendEmergency = writer('declareEmergency', 'consent-emergency')
/** `releaseEmergencyKey(emergencyId, envelopes)` from the patient's hospital. */
export const sendEmergencyRelease = writer('releaseEmergencyKey', 'consent-emergency-release')
/** `logAccess(recordId, patient, purpose, ref)` from the reader. */
export const sendAccessLog = writer('logAccess', 'audit')

async function view<T>(ledger: Ledger, functionName: string, args: readonly unknown[]): Promise<T> {
  try {
    return (await ledger.client.readContract({ address: ledger.contracts.consent, abi: consentAbi, functionName, args } as never)) as T
  } catch (err) {
    throw toLedgerError(err, consentAbi)
  }
}

/** Whether a grant is approved, unrevoked, unexpired (chain time) and held by `grantee`. */
export function isGrantLive(ledger: Ledger, requestId: Hex, grantee: Address): Promise<boolean> {
  return view(ledger, 'isGrantLive', [requestId, grantee])
}

/** Whether a share is unrevoked, unexpired and (when single-use) unused. */
export function isShareLive(ledger: Ledger, shareId: Hex): Promise<boolean> {
  return view(ledger, 'isShareLive', [shareId])
}

/** Whether an emergency access is open for `doctor` (chain time). */
export function isEmergencyLive(ledger: Ledger, emergencyId: Hex, doctor: Address): Promise<boolean> {
  return view(ledger, 'isEmergencyLive', [emergencyId, doctor])
}

/** Share `shareId` as the chain holds it now: whether it was revoked, and (single-use) used. */
export async function readShare(ledger: Ledger, shareId: Hex): Promise<{ revoked: boolean; used: boolean }> {
  const share = await view<{ revoked: boolean; used: boolean }>(ledger, 'shareOf', [shareId])
  return { revoked: share.revoked, used: share.used }
}
