import { zeroAddress, zeroHash, type Address, type Hex } from 'viem'
import { ensureAccount } from '../accounts/directory.ts'
import { findActiveByAddress } from '../accounts/find-active-by-address.ts'
import { readShare } from '../ledger/consent/read-share.ts'
import { insertShare } from './insert-share.ts'
import { markShareRevoked } from './mark-share-revoked.ts'
import { markShareUsed } from './mark-share-used.ts'
import { readGrantRecordIds } from './read-grant-record-ids.ts'
import type { Services } from '../services.ts'

/** A share as its `Shared` event names it. */
export interface SharedRecords {
  shareId: Hex
  patient: Address
  /** Zero for a share by token. */
  grantee: Address
  /** Zero for a share with a named account. */
  tokenHash: Hex
  expiresAt: number
  once: boolean
  envelopes: Hex
  txHash: Hex
  fetchMs: number
  /** Sent by this node (its patient's own share): the row is written whoever the grantee is (the flow stopped before writing it). */
  own?: boolean
}

/**
 * A patient of another member shared records with an account of this node, or by token: this
 * node can serve it, over the records its envelopes block covers (fetched within `fetchMs`).
 * Shares with accounts held elsewhere are ignored (unless this node's own patient made it: its
 * flow may have stopped between the mining and writing the row); a share already held is kept.
 * @throws AppError RECORD_UNAVAILABLE, RECORD_INTEGRITY (the envelopes block), LEDGER_*
 */
export async function applyShared(s: Pick<Services, 'db' | 'ledger' | 'ipfs'>, e: SharedRecords): Promise<void> {
  const shareId = e.shareId.toLowerCase() as Hex
  if (await s.db.get('SELECT 1 AS x FROM shares WHERE share_id = ?', shareId)) return
  const tokenHash = e.tokenHash.toLowerCase() as Hex
  const grantee = e.grantee.toLowerCase()
  const granteeRow = grantee === zeroAddress ? undefined : e.own ? await ensureAccount(s, grantee as Address) : await findActiveByAddress(s.db, grantee)
  if (tokenHash === zeroHash && !granteeRow) return
  const patient = await ensureAccount(s, e.patient)
  const envelopes = e.envelopes.toLowerCase() as Hex
  const recordIds = await readGrantRecordIds(s, { envelopes, grantId: shareId, fetchMs: e.fetchMs })
  await insertShare(s.db, {
    shareId, patientId: patient.id, granteeId: granteeRow?.id ?? null, tokenHash: tokenHash === zeroHash ? null : tokenHash.slice(2),
    recordIds, expiresAt: e.expiresAt, once: e.once, envelopes, txHash: e.txHash,
  })
  // A share applied late (its envelopes came after a retry) may have been revoked or used
  // meanwhile, and those events found no row to mark: the chain says how it stands now.
  const now = await readShare(s.ledger, { shareId })
  if (now.revoked) await markShareRevoked(s.db, shareId)
  if (now.used) await markShareUsed(s.db, shareId)
}
