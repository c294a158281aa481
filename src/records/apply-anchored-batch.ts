import { hexToBytes, isAddressEqual, type Address, type Hex } from 'viem'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { checkLeaf, leafHash, merkleTree } from '../ledger/anchor-batch.ts'
import { AppError, isAppError } from '../errors.ts'
import { decodeBatchManifest } from './batch-manifest.ts'
import { applyAnchoredRecord } from './apply-anchored-record.ts'
import type { Services } from '../services.ts'

/** A batch anchored on the ledger, as its `BatchAnchored` event names it. */
export interface AnchoredBatch {
  root: Hex
  hospital: Address
  manifest: Hex
  count: number
  txHash: Hex
  blockNumber: number
  /** Longest wait for the manifest block from the network. */
  fetchMs: number
}

/**
 * Makes the records of a batch anchored by any member known here: fetches the batch manifest by
 * its digest (verified), checks it lists exactly `count` leaves whose Merkle tree has the event's
 * root, and each leaf on chain (`checkLeaf`: proof, the root's hospital, the author's signature,
 * the parties); only then inserts each record (as a lone anchor's event would) with its proof.
 * All or nothing: a bad batch inserts no record. Idempotent. Resolves the batch's records.
 * @throws AppError RECORD_UNAVAILABLE (manifest not served within `fetchMs`), RECORD_INTEGRITY
 *   (manifest or a leaf does not hold), LEDGER_*
 */
export async function applyAnchoredBatch(s: Pick<Services, 'db' | 'ledger' | 'ipfs' | 'notify'>, b: AnchoredBatch): Promise<{ recordId: Hex; hospital: Address }[]> {
  const bytes = await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(b.manifest), 'raw'), { signal: AbortSignal.timeout(b.fetchMs) }).catch((cause: unknown) => {
    if (isAppError(cause, 'RECORD_INTEGRITY')) throw cause
    throw new AppError('RECORD_UNAVAILABLE', { cause, details: `batch manifest ${b.manifest} not served within ${b.fetchMs} ms` })
  })
  const { root, leaves } = decodeBatchManifest(bytes)
  const { root: computed, proofs } = merkleTree(leaves.map(leafHash))
  if (root !== b.root.toLowerCase() || computed !== root || leaves.length !== b.count) {
    throw new AppError('RECORD_INTEGRITY', { details: `batch manifest ${b.manifest} does not match root ${b.root}` })
  }
  for (const [i, leaf] of leaves.entries()) {
    if (!isAddressEqual(leaf.hospital, b.hospital)) throw new AppError('RECORD_INTEGRITY', { details: `batch ${b.root}: leaf ${i} names another hospital` })
    try {
      await checkLeaf(s.ledger, { root, proof: proofs[i]!, leaf })
    } catch (err) {
      if (!isAppError(err, 'LEDGER_REVERTED')) throw err
      throw new AppError('RECORD_INTEGRITY', { details: `batch ${b.root}: leaf ${i}: ${err.details ?? ''}` })
    }
  }
  for (const [i, leaf] of leaves.entries()) {
    const recordId = leaf.recordId.toLowerCase() as Hex
    // A record held already (anchored alone, or by this node) keeps how it was anchored.
    if (await s.db.get('SELECT 1 AS x FROM records WHERE record_id = ?', recordId)) continue
    await applyAnchoredRecord(s, { ...leaf, recordId, txHash: b.txHash, blockNumber: b.blockNumber })
    await s.db.run(`INSERT INTO record_proofs (record_id, root, proof, signature, manifest) VALUES (?, ?, ?, ?, ?) ON CONFLICT (record_id) DO NOTHING`,
      recordId, root, JSON.stringify(proofs[i]), leaf.signature, b.manifest.toLowerCase())
  }
  return leaves.map((l) => ({ recordId: l.recordId.toLowerCase() as Hex, hospital: l.hospital }))
}

/** The records this node holds under batch root `root`. */
export async function recordsOfBatch(db: Services['db'], root: Hex): Promise<Hex[]> {
  return (await db.all<{ record_id: Hex }>('SELECT record_id FROM record_proofs WHERE root = ?', root.toLowerCase())).map((r) => r.record_id)
}
