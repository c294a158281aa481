import { hexToBytes, toHex, type Hex } from 'viem'
import { putRawBlock } from '../storage/raw-block.ts'
import { cidFromDigest, digestFromCid, readBlockVerified } from '../storage/read-verified.ts'
import { isAppError } from '../errors.ts'
import type { CID } from 'multiformats/cid'
import type { Services } from '../services.ts'

// The tables whose rows name a grant envelopes block (an access grant, a share, a break-glass).
const grantTables = ['access_requests', 'shares', 'emergencies'] as const

/**
 * Destroys every grant envelope this node holds that wraps `recordId`'s data key: each grant
 * envelopes block of the record's patient (access grants, shares, break-glass releases) that
 * names the record is rewritten without it — the other records' wrapped keys are kept as they
 * were, byte for byte, so every node rewriting the same block makes the same new block — the rows
 * are pointed at the new block, and the old one is unpinned and deleted. Blocks this node does
 * not hold are not fetched. Resolves the number of blocks rewritten.
 */
export async function dropGrantKeys(s: Pick<Services, 'db' | 'ipfs' | 'log'>, { recordId, patientId, signal }: { recordId: Hex; patientId: string; signal?: AbortSignal }): Promise<number> {
  const digests = new Set<string>()
  for (const table of grantTables) {
    const rows = await s.db.all<{ envelopes: string }>(`SELECT DISTINCT envelopes FROM ${table} WHERE patient_id = ? AND envelopes IS NOT NULL`, patientId)
    for (const r of rows) digests.add(r.envelopes.toLowerCase())
  }
  let rewritten = 0
  for (const digest of digests) {
    const old = cidFromDigest(hexToBytes(digest as Hex), 'raw')
    const bytes = await heldBlock(s, old, signal)
    const without = bytes && withoutRecord(bytes, recordId)
    if (!without) continue
    const fresh = toHex(digestFromCid(await putRawBlock(s.ipfs, without, { signal })))
    for (const table of grantTables) await s.db.run(`UPDATE ${table} SET envelopes = ? WHERE envelopes = ?`, fresh, digest)
    await unpinAndDelete(s, old, signal)
    rewritten++
  }
  return rewritten
}

/** The block's bytes when this node holds it intact; undefined otherwise (never fetched from a peer). */
async function heldBlock(s: Pick<Services, 'ipfs'>, cid: CID, signal?: AbortSignal): Promise<Uint8Array | undefined> {
  if (!(await s.ipfs.helia.blockstore.has(cid, { signal }))) return undefined
  try {
    return (await readBlockVerified(s.ipfs.helia.blockstore, cid, { signal })).bytes
  } catch (err) {
    if (isAppError(err, 'RECORD_INTEGRITY', 'RECORD_UNAVAILABLE')) return undefined
    throw err
  }
}

/** A grant envelopes block without the entry of `recordId`, or undefined when it has none (or is not one). */
function withoutRecord(bytes: Uint8Array, recordId: Hex): Uint8Array | undefined {
  let obj: { type?: unknown; keys?: unknown }
  try {
    obj = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof obj
  } catch {
    return undefined
  }
  if (obj?.type !== 'medledger/grant-envelopes' || !Array.isArray(obj.keys)) return undefined
  const keys = obj.keys as { recordId?: unknown }[]
  const kept = keys.filter((k) => typeof k?.recordId !== 'string' || k.recordId.toLowerCase() !== recordId.toLowerCase())
  if (kept.length === keys.length) return undefined
  return new TextEncoder().encode(JSON.stringify({ ...obj, keys: kept }))
}

async function unpinAndDelete(s: Pick<Services, 'ipfs'>, cid: CID, signal?: AbortSignal): Promise<void> {
  const { pins, blockstore } = s.ipfs.helia
  if (await pins.isPinned(cid, { signal })) {
    try {
      for await (const _ of pins.rm(cid, { signal })) { /* drains the unpinning */ }
    } catch (err) {
      if ((err as Error)?.name !== 'NotFoundError') throw err
    }
  }
  if (await blockstore.has(cid, { signal })) await blockstore.delete(cid, { signal })
}
