import { hexToBytes, type Address, type Hex } from 'viem'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { applyErasureDecided, applyErasureRequested } from '../consent/erasures.ts'
import { shredRecord } from '../consent/shred-record.ts'
import type { EventHandler, HandlerContext, LedgerEvent } from './follower.ts'
import type { Services } from '../services.ts'

type Event = LedgerEvent & { eventName: string; args: Record<string, unknown> }

/**
 * What a node does with RecordLedger's erasure events (issue 13 item 3):
 *  - ErasureRequested: mirrored here when this node knows the record, so that its hospital's
 *    staff (or the admin) here can decide it;
 *  - ErasureConfirmed / ErasureRejected: the request follows. Both also when this node sent
 *    them (idempotent), in case it stopped between the mining and writing them itself;
 *  - RecordErased (the tombstone): the record is crypto-shredded here — its envelopes, the grant
 *    envelopes that wrap its key and its blocks are destroyed, its row forgotten. Applied even
 *    when this node sent it (idempotent), in case it stopped between the mining and the shredding;
 *  - EmergencyKeyReleased / EmergencyShareReleased for a break-glass this node keeps: the block
 *    is fetched now (not at the doctor's first read), so that this node holds it when an erasure
 *    rewrites the blocks that wrap the erased record's key.
 */
export function erasureHandlers(s: Services): EventHandler {
  return async (event: LedgerEvent, ctx: HandlerContext): Promise<void> => {
    const e = event as Event
    const a = e.args
    const txHash = e.transactionHash
    switch (e.eventName) {
      case 'RecordErased':
        await shredRecord(s, { recordId: a.recordId as Hex, txHash })
        return
      // Applied when this node sent them too (idempotent): it may have stopped between the mining
      // and writing the request or decision itself.
      case 'ErasureRequested':
        return applyErasureRequested(s, { erasureId: a.erasureId as Hex, recordId: a.recordId as Hex, patient: a.patient as Address, hospital: a.hospital as Address, txHash })
      case 'ErasureConfirmed':
      case 'ErasureRejected':
        return applyErasureDecided(s, { erasureId: a.erasureId as Hex, confirmed: e.eventName === 'ErasureConfirmed', by: a.by as Address, txHash })
      case 'EmergencyKeyReleased':
        return holdReleased(s, 'SELECT 1 AS x FROM emergencies WHERE emergency_id = ? AND envelopes = ?', a.emergencyId as Hex, a.envelopes as Hex, ctx)
      case 'EmergencyShareReleased':
        return holdReleased(s, 'SELECT 1 AS x FROM emergency_shares WHERE emergency_id = ? AND shares = ?', a.emergencyId as Hex, a.shares as Hex, ctx)
      default:
    }
  }
}

/** Fetches (and so keeps) a break-glass release block when this node recorded that release. */
async function holdReleased(s: Services, known: string, emergencyId: Hex, digest: Hex, { fetchMs }: HandlerContext): Promise<void> {
  if (!(await s.db.get(known, emergencyId.toLowerCase(), digest.toLowerCase()))) return
  await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(digest), 'raw'), { signal: AbortSignal.timeout(fetchMs) })
}
