import { hexToBytes, toHex, type Hex } from 'viem'
import { putRawBlock } from '../storage/raw-block.ts'
import { cidFromDigest, digestFromCid, readBlockVerified } from '../storage/read-verified.ts'
import { isAppError } from '../errors.ts'
import type { CID } from 'multiformats/cid'
import type { Services } from '../services.ts'

// Where a grant envelopes block is named: an access grant, a share, a break-glass release, a care
// team's grant, and each hospital's release of its threshold shares for a break-glass (re-wrapped
// for the doctor).
const grantColumns = [
  { table: 'access_requests', column: 'envelopes', ofPatient: 'SELECT DISTINCT envelopes AS digest FROM access_requests WHERE patient_id = ? AND envelopes IS NOT NULL' },
  { table: 'shares', column: 'envelopes', ofPatient: 'SELECT DISTINCT envelopes AS digest FROM shares WHERE patient_id = ? AND envelopes IS NOT NULL' },
  { table: 'emergencies', column: 'envelopes', ofPatient: 'SELECT DISTINCT envelopes AS digest FROM emergencies WHERE patient_id = ? AND envelopes IS NOT NULL' },
  { table: 'team_grants', column: 'envelopes', ofPatient: 'SELECT DISTINCT envelopes AS digest FROM team_grants WHERE patient_id = ?' },
  { table: 'emergency_shares', column: 'shares', ofPatient: 'SELECT DISTINCT es.shares AS digest FROM emergency_shares es JOIN emergencies e ON e.emergency_id = es.emergency_id WHERE e.patient_id = ?' },
] as const
// The blocks that wrap data keys per record, and the list each keeps them in.
const keyLists: Record<string, 'keys' | 'shares'> = { 'medledger/grant-envelopes': 'keys', 'medledger/emergency-shares': 'shares' }

/**
 * Destroys every grant envelope this node holds that wraps `recordId`'s data key: each grant
 * envelopes block of the record's patient (access grants, shares, break-glass releases, care-team
 * grants, and the threshold shares member hospitals released for a break-glass) that
 * names the record is rewritten without it — the other records' wrapped keys are kept as they
 * were, byte for byte, so every node rewriting the same block makes the same new block — the rows
 * are pointed at the new block, and the old one is unpinned and deleted. Blocks this node does
 * not hold are not fetched; the record's research key copy (`research_record_keys`) is deleted.
 * Resolves the number of blocks rewritten.
 */
export async function dropGrantKeys(s: Pick<Services, 'db' | 'ipfs' | 'log'>, { recordId, patientId, signal }: { recordId: Hex; patientId: string; signal?: AbortSignal }): Promise<number> {
  // The copy of its data key a research consent left for the patient's hospital goes too.
  await s.db.run('DELETE FROM research_record_keys WHERE record_id = ?', recordId.toLowerCase())
  const digests = new Set<string>()
  for (const { ofPatient } of grantColumns) {
    for (const r of await s.db.all<{ digest: string }>(ofPatient, patientId)) digests.add(r.digest.toLowerCase())
  }
  let rewritten = 0
  for (const digest of digests) {
    const old = cidFromDigest(hexToBytes(digest as Hex), 'raw')
    const bytes = await heldBlock(s, old, signal)
    const without = bytes && withoutRecord(bytes, recordId)
    if (!without) continue
    const fresh = toHex(digestFromCid(await putRawBlock(s.ipfs, without, { signal })))
    for (const { table, column } of grantColumns) await s.db.run(`UPDATE ${table} SET ${column} = ? WHERE ${column} = ?`, fresh, digest)
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

/** A grant envelopes (or released shares) block without the entry of `recordId`, or undefined when it has none (or is neither). */
function withoutRecord(bytes: Uint8Array, recordId: Hex): Uint8Array | undefined {
  let obj: Record<string, unknown>
  try {
    obj = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof obj
  } catch {
    return undefined
  }
  const list = keyLists[String(obj?.type)]
  if (list === undefined || !Array.isArray(obj[list])) return undefined
  const entries = obj[list] as { recordId?: unknown }[]
  const kept = entries.filter((k) => typeof k?.recordId !== 'string' || k.recordId.toLowerCase() !== recordId.toLowerCase())
  if (kept.length === entries.length) return undefined
  return new TextEncoder().encode(JSON.stringify({ ...obj, [list]: kept }))
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
  if (await blockstore.has(cid, { signal })) await s.ipfs.deleteBlock(cid, { signal })
}
