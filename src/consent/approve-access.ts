import { bytesToHex, toHex, zeroHash, type Address, type Hex } from 'viem'
import { publicKeyOf } from '../accounts/directory.ts'
import { parseRecordId } from '../crypto/tokens.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import { readKeyDigests } from '../ledger/read-key-digests.ts'
import { sendApproval } from '../ledger/consent/send-approval.ts'
import { scopeOf } from '../ledger/scope-of.ts'
import { requireKeys, type AccountRow, type Actor } from '../accounts/account.ts'
import { openRecordKeys } from '../records/open-record-keys.ts'
import { AppError } from '../errors.ts'
import { sealGrantEnvelopes } from './grant-envelopes.ts'
import { loadOwnPending, parseDays, patientRecords, type AccessRequestView } from './access-request.ts'
import { getAccessRequest } from './get-access-request.ts'
import type { Services } from '../services.ts'

/**
 * The patient approves a request addressed to them, optionally narrowing records or duration:
 * the node re-wraps the granted records' data keys for the doctor (an IPFS block referenced on
 * chain) and the approval is sent from the patient's own key.
 * @throws AppError NOT_REQUEST_PATIENT, REQUEST_NOT_PENDING, REQUEST_NOT_FOUND, INVALID_DURATION, RECORD_NOT_FOUND, LEDGER_*
 */
export async function approveAccess(s: Services, p: { actor: Actor | undefined; requestId: string; days?: number; recordIds?: string[]; signal?: AbortSignal }): Promise<AccessRequestView> {
  const { patient, row } = await loadOwnPending(s, p.actor, p.requestId)
  const keys = requireKeys(patient)
  const duration = p.days === undefined ? row.duration_s : parseDays(p.days)
  if (duration > row.duration_s) throw new AppError('INVALID_DURATION', { message: 'An approval may shorten the requested duration, not extend it.' })
  const requested = row.record_ids === null ? null : (JSON.parse(row.record_ids) as Hex[])
  let granted = requested
  if (p.recordIds && p.recordIds.length > 0) {
    granted = p.recordIds.map((r) => parseRecordId(r))
    if (requested !== null && granted.some((r) => !requested.includes(r))) {
      throw new AppError('VALIDATION_FAILED', { message: 'An approval may narrow the requested records, not add others.' })
    }
  }
  const rows = await patientRecords(s, patient.account.id, granted)
  const requester = await s.db.get('SELECT * FROM accounts WHERE id = ?', row.requester_id) as AccountRow
  const [keyDigest] = (await readKeyDigests(s.ledger, { accounts: [requester.address as Address] })).accounts
  const requesterKey = await publicKeyOf(s, requester, p.signal)
  if (bytesToHex(hashSha256(requesterKey)) !== keyDigest) throw new AppError('PUBLIC_KEY_MISMATCH')
  const me = { address: patient.account.address, scheme: patient.account.keyScheme, privateKey: keys.encryptionPrivateKey }
  const dataKeys = []
  for (const r of rows) dataKeys.push({ recordId: r.record_id, dataKey: (await openRecordKeys(s, r, me, p.signal)).dataKey })
  const block = await sealGrantEnvelopes({
    grantId: row.request_id,
    kind: 'grant',
    to: { kind: 'account', address: requester.address as Address, scheme: requester.key_scheme, publicKey: requesterKey },
    keys: dataKeys,
  })
  const envelopes = toHex(digestFromCid(await putRawBlock(s.ipfs, block, { signal: p.signal })))
  const receipt = await sendApproval(s.ledger, { patient: keys.ledger, requestId: row.request_id, scope: granted === requested ? zeroHash : scopeOf(granted), duration: BigInt(duration), envelopes, signal: p.signal })
  const block_ = await s.ledger.client.getBlock({ blockNumber: receipt.blockNumber })
  // The follower applies this node's own AccessApproved too (a node stopped before this point
  // keeps the approval): whichever moves the request from pending tells the doctor.
  const moved = await s.db.run(`UPDATE access_requests SET status = 'approved', granted_record_ids = ?, duration_s = ?, expires_at = ?, envelopes = ?, decision_tx = ?, decided_at = ? WHERE request_id = ? AND status = 'pending'`, granted && JSON.stringify(granted), duration, Number(block_.timestamp) + duration, envelopes, receipt.transactionHash, Date.now(), row.request_id)
  if (moved.changes === 0) await s.db.run('UPDATE access_requests SET duration_s = ? WHERE request_id = ?', duration, row.request_id)
  else await s.notify?.({ accountId: row.requester_id, kind: 'access-approved', by: { accountId: patient.account.id }, recordCount: granted?.length ?? 'all', expiresAt: new Date((Number(block_.timestamp) + duration) * 1000) })
  return getAccessRequest(s, { actor: patient, requestId: row.request_id })
}
