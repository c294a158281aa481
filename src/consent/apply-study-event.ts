import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem'
import { hashSha256 } from '../crypto/hashes.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { ensureAccount } from '../accounts/directory.ts'
import { checkText } from '../text/check-text.ts'
import { AppError } from '../errors.ts'
import { findStudy, insertStudy, type StudyRow } from './studies.ts'
import type { Services } from '../services.ts'

/** The title and purpose of a protocol block, checked as `createStudy` checks them. */
function parseProtocol(bytes: Uint8Array): { title: string; purpose: string } {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  const cut = text.indexOf('\n')
  if (cut < 0) throw new AppError('RECORD_INTEGRITY', { details: 'protocol block has no title line' })
  return { title: checkText(text.slice(0, cut), { field: 'title', max: 200 }), purpose: checkText(text.slice(cut + 1), { field: 'purpose', max: 5000, multiline: true }) }
}

/**
 * `StudyProposed` from another node: the study is mirrored here, so that this node's patients
 * see it once approved and may consent, and this node's admin may decide it. Its text is
 * fetched from IPFS by the protocol hash on chain (a raw block, checked to hash to it on
 * arrival) within `fetchMs`, so the proposing node is not trusted for it; its researcher is
 * mirrored from the Registry. Idempotent: a study held already is left as it is.
 * @throws AppError RECORD_UNAVAILABLE (the text not served in time: the follower retries),
 *   RECORD_INTEGRITY or VALIDATION_FAILED (a block that is not a protocol text), UNKNOWN_ACCOUNT
 */
export async function applyStudyProposed(
  s: Pick<Services, 'db' | 'ledger' | 'ipfs'>,
  e: { studyId: Hex; researcher: Address; protocolHash: Hex; txHash: string; fetchMs: number },
): Promise<void> {
  const studyId = e.studyId.toLowerCase() as Hex
  if (await findStudy(s, studyId)) return
  const bytes = await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(e.protocolHash), 'raw'), { signal: AbortSignal.timeout(e.fetchMs) })
    .catch((cause: unknown) => {
      if (cause instanceof AppError && cause.code !== 'STORAGE_UNAVAILABLE') throw cause
      throw new AppError('RECORD_UNAVAILABLE', { cause, details: `protocol of study ${studyId} not served within ${e.fetchMs} ms` })
    })
  // getRawBlockVerified checked the bytes against their CID, the CID is the protocol hash: checked once more here all the same.
  if (bytesToHex(hashSha256(bytes)) !== e.protocolHash.toLowerCase()) throw new AppError('RECORD_INTEGRITY', { details: 'protocol block does not hash to the protocol hash' })
  let text: { title: string; purpose: string }
  try {
    text = parseProtocol(bytes)
  } catch (cause) {
    throw new AppError('RECORD_INTEGRITY', { cause, details: 'protocol block is not a study protocol text' })
  }
  const researcher = await ensureAccount(s, e.researcher)
  if (researcher.role !== 'researcher') throw new AppError('RECORD_INTEGRITY', { details: 'study proposed by an account that is not a researcher' })
  const row: StudyRow = {
    id: studyId, researcher_id: researcher.id, title: text.title, purpose: text.purpose, protocol_hash: e.protocolHash.toLowerCase() as Hex,
    min_k: null, state: 'proposed', tx_hash: e.txHash, decided_at: null, created_at: Date.now(),
  }
  await insertStudy(s.db, row)
}

/**
 * `StudyApproved` or `StudyRejected` sent from another node (the admin deciding there): the
 * study held here takes the decision, and its researcher, when theirs is this node, is told.
 * A study this node does not hold (its proposal quarantined, or from before this node followed
 * Research) is left to its proposal: `hasConsent` on chain decides consent and export anyway.
 */
export async function applyStudyDecided(s: Pick<Services, 'db' | 'notify'>, e: { studyId: Hex; approved: boolean; admin: Address }): Promise<void> {
  const row = await findStudy(s, e.studyId)
  if (!row || row.state !== 'proposed') return
  const state = e.approved ? 'approved' : 'rejected'
  const changed = await s.db.run(`UPDATE studies SET state = ?, decided_at = ? WHERE id = ? AND state = 'proposed'`, state, Date.now(), row.id)
  if (changed.changes === 0) return
  // The mail names who decided by role: the deciding admin's account when held here, else this
  // node's own admin account (the consortium admin acts from another node).
  const admin = await s.db.get<{ id: string }>(`SELECT id FROM accounts WHERE address = ? OR role = 'admin' ORDER BY CASE WHEN address = ? THEN 0 ELSE 1 END, created_at LIMIT 1`,
    e.admin.toLowerCase(), e.admin.toLowerCase())
  const researcher = await s.db.get<{ state: string }>('SELECT state FROM accounts WHERE id = ?', row.researcher_id)
  if (admin && researcher?.state !== 'remote') await s.notify?.({ accountId: row.researcher_id, kind: e.approved ? 'study-approved' : 'study-rejected', by: { accountId: admin.id } })
}
