import type { Hex, LocalAccount, TransactionReceipt } from 'viem'
import { GroupCommitter } from '../ledger/group-commit.ts'
import { anchorRecord } from '../ledger/anchor-record.ts'
import { anchorBatch, leafHash, merkleTree, partiesRefusal, type SignedLeaf } from '../ledger/anchor-batch.ts'
import type { AppError } from '../errors.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { encodeBatchManifest } from './batch-manifest.ts'
import type { AnchorBatches, Services } from '../services.ts'

/** One record waiting for its anchor: its author's key and signed leaf. */
export interface AnchorItem {
  author: LocalAccount
  leaf: SignedLeaf
}

/** What the transaction carrying a record settled with; for a batch, its root and each kept item's proof. */
export interface AnchorOutcome {
  /** Absent when every item of the batch was refused before sending. */
  receipt?: TransactionReceipt
  /** The mined block's time (seconds), read once per transaction. */
  anchoredAt?: number
  batch?: { root: Hex; proofs: Map<number, Hex[]>; manifest: Hex }
  /** Items (by position) left out of the batch, with the refusal `anchor` would have given. */
  refused?: Map<number, AppError>
}

type AnchorServices = Pick<Services, 'db' | 'ledger' | 'ipfs' | 'nodeKey'>

/** Most records under one root: keeps the manifest block (about 550 bytes a leaf) far under its limit. */
export const MAX_BATCH = 100

/**
 * The node's group committers of record anchors, one per hospital (its account sends the
 * hospital's batches). When no anchor of the hospital is in flight a record goes out at once,
 * alone, from its author's key (`RecordLedger.anchor`); records that arrive while one is in
 * flight go together in the next transaction, as one Merkle root sent from the hospital's
 * account, their proofs written (`record_proofs`) before it is journaled. Once a transaction is
 * mined its records are marked anchored together, before any of their uploads is answered.
 */
export function createAnchorBatches(s: AnchorServices, { maxBatch = MAX_BATCH }: { maxBatch?: number } = {}): AnchorBatches {
  const committers = new Map<string, GroupCommitter<AnchorItem, AnchorOutcome>>()
  return {
    async submit(hospitalId, item) {
      let committer = committers.get(hospitalId)
      if (!committer) {
        committer = new GroupCommitter<AnchorItem, AnchorOutcome>({ send: (items) => sendAnchors(s, hospitalId, items), maxBatch })
        committers.set(hospitalId, committer)
      }
      const { result, index } = await committer.submit(item)
      const refusal = result.refused?.get(index)
      if (refusal || !result.receipt || result.anchoredAt === undefined) throw refusal
      const proof = result.batch?.proofs.get(index)
      return { receipt: result.receipt, anchoredAt: result.anchoredAt, proof: proof && result.batch ? { root: result.batch.root, proof } : undefined }
    },
    idle: async () => { await Promise.all([...committers.values()].map((c) => c.idle())) },
  }
}

/**
 * Anchors a record through the node's anchor committers (`Services.anchorBatches`), or alone
 * when the setup has none; settles when the transaction carrying it is mined (its journal row
 * updated).
 * @throws AppError LEDGER_* (for every record of the failed transaction)
 */
export async function anchorQueued(s: AnchorServices & Pick<Services, 'anchorBatches'>, hospitalId: string, item: AnchorItem): ReturnType<AnchorBatches['submit']> {
  if (s.anchorBatches) return s.anchorBatches.submit(hospitalId, item)
  const { receipt, anchoredAt } = await sendAnchors(s, hospitalId, [item])
  return { receipt: receipt!, anchoredAt: anchoredAt! }
}

async function sendAnchors(s: AnchorServices, hospitalId: string, items: readonly AnchorItem[]): Promise<AnchorOutcome> {
  if (items.length === 1) {
    const { author, leaf } = items[0]!
    const receipt = await anchorRecord(s.ledger, { author, recordId: leaf.recordId, patient: leaf.patient, hospital: leaf.hospital, digest: leaf.digest, envelopes: leaf.envelopes })
    return { receipt, anchoredAt: await markAnchored(s, receipt, [leaf.recordId]) }
  }
  // The batch's transaction checks no leaf: a record `anchor` would refuse stays out of it.
  // One registry read per distinct (author, patient, hospital).
  const refused = new Map<number, AppError>()
  const asked = new Map<string, Promise<AppError | undefined>>()
  const checks = await Promise.all(items.map(({ leaf }) => {
    const key = `${leaf.author}|${leaf.patient}|${leaf.hospital}`.toLowerCase()
    if (!asked.has(key)) asked.set(key, partiesRefusal(s.ledger, leaf))
    return asked.get(key)!
  }))
  checks.forEach((r, i) => { if (r) refused.set(i, r) })
  const kept = items.map((item, i) => ({ leaf: item.leaf, i })).filter(({ i }) => !refused.has(i))
  if (kept.length === 0) return { refused }
  const leaves = kept.map((k) => k.leaf)
  const tree = merkleTree(leaves.map(leafHash))
  const root = tree.root
  const manifest = digestHex(await putRawBlock(s.ipfs, encodeBatchManifest({ root, leaves })))
  // Durable (one commit) before the transaction is journaled: recovery finds the root each
  // pending record waits for.
  const proofs = new Map<number, Hex[]>()
  await s.db.transaction(async (tx) => {
    for (const [j, { leaf, i }] of kept.entries()) {
      proofs.set(i, tree.proofs[j]!)
      await tx.run(`INSERT INTO record_proofs (record_id, root, proof, signature, manifest) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (record_id) DO UPDATE SET root = excluded.root, proof = excluded.proof, signature = excluded.signature, manifest = excluded.manifest`,
      leaf.recordId, root, JSON.stringify(tree.proofs[j]), leaf.signature, manifest)
    }
  })
  const { keys } = await unlockHospital(s, hospitalId)
  const receipt = await anchorBatch(s.ledger, { hospital: keys.ledger, root, manifest, count: leaves.length })
  return { receipt, anchoredAt: await markAnchored(s, receipt, leaves.map((l) => l.recordId)), batch: { root, proofs, manifest }, refused }
}

/** Marks the records a mined transaction anchored, in one statement; resolves its block's time. */
async function markAnchored(s: AnchorServices, receipt: TransactionReceipt, recordIds: readonly Hex[]): Promise<number> {
  const anchoredAt = Number((await s.ledger.client.getBlock({ blockNumber: receipt.blockNumber })).timestamp)
  await s.db.run(`UPDATE records SET state = 'anchored', tx_hash = ?, block_number = ?, anchored_at = ? WHERE record_id IN (${recordIds.map(() => '?').join(', ')})`,
    receipt.transactionHash, Number(receipt.blockNumber), anchoredAt, ...recordIds)
  return anchoredAt
}

function digestHex(cid: Parameters<typeof digestFromCid>[0]): Hex {
  return `0x${Buffer.from(digestFromCid(cid)).toString('hex')}`
}
