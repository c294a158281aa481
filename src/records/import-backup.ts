import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { CarBlockIterator } from '@ipld/car/iterator'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { hexToBytes, toHex, type Hex } from 'viem'
import { blockSharding, blocksDir } from '../storage/block-path.ts'
import { DurableFsBlockstore } from '../storage/durable-fs.ts'
import { openIpfs } from '../storage/open-ipfs.ts'
import { pinRecursively } from '../storage/pin-recursively.ts'
import { cidFromDigest, readBlockVerified } from '../storage/read-verified.ts'
import { AppError, isAppError } from '../errors.ts'
import type { Db } from '../db/open-database.ts'

export interface ImportBackupParams {
  db: Pick<Db, 'all'>
  /** The node's IPFS folder, `<home>/ipfs`. */
  ipfsDir: string
  /** A CARv1 file, e.g. from `exportBackup`. */
  file: string
  signal?: AbortSignal
  onProgress?: (p: ImportBackupProgress) => void
}

export interface ImportBackupProgress {
  phase: 'verify' | 'store'
  /** Bytes of the CAR's blocks handled so far in this phase. */
  bytes: number
  /** Size of the CAR file. */
  fileBytes: number
}

export interface ImportBackupResult {
  /** Roots in the CAR's header. */
  roots: number
  /** Distinct blocks in the CAR, all verified. */
  blocks: number
  /** Blocks written to the store (the others were already there, intact). */
  written: number
  /** Bytes of the CAR's blocks. */
  bytes: number
  /** Records whose DAG and envelopes block are now pinned. */
  pinned: Hex[]
  /** Roots that name no record in the database: stored, not pinned. */
  unknownRoots: string[]
  /** Records that could not be pinned: a block of theirs is neither in the CAR nor the store. */
  failed: Array<{ recordId: Hex; problem: string; detail?: string }>
  /** Blocks of records erased since the backup was made: verified, never written. */
  erasedBlocks: number
}

// Block writes under way at once: each waits for its own fsyncs, so a few overlap them.
const PUT_CONCURRENCY = 16

/**
 * Restores blocks from a CARv1 file into the node's block store and pins the records they
 * belong to. First every block is hashed against its CID (one mismatch rejects the whole file
 * and nothing is written); then each block is hashed again as it is written durably (a copy
 * already in the store is kept when intact, replaced when not); then each root that is a
 * record's DAG root is pinned with that record's envelopes block. Importing twice is harmless.
 * Blocks of records erased since the backup (their tombstones and erased CIDs in the database,
 * and what the CAR links under an erased root) are verified but never written.
 *
 * @throws AppError RECORD_INTEGRITY when a block does not hash to its CID or its CID is not
 *   CIDv1 sha2-256 dag-pb or raw; nothing is written.
 * @throws AppError BAD_REQUEST when the file is not a readable CARv1 file; nothing is written.
 * @throws AppError STORAGE_UNAVAILABLE when the block store cannot be written.
 */
export async function importBackup({ db, ipfsDir, file, signal, onProgress }: ImportBackupParams): Promise<ImportBackupResult> {
  signal?.throwIfAborted()
  const fileBytes = (await fs.stat(file)).size

  // Pass 1: verify everything before writing anything, noting the DAG's links on the way.
  const links = new Map<string, string[]>()
  const roots = await readCar(file, async (cid, block) => {
    if (cid.code !== dagPb.code) return
    try {
      links.set(cid.toString(), dagPb.decode(block).Links.map((l) => l.Hash.toString()))
    } catch { /* not a DAG node: pinning says so, for the record it belongs to */ }
  }, { signal, onBytes: (bytes) => onProgress?.({ phase: 'verify', bytes, fileBytes }) })
  const erased = await erasedBlocks(db, links)

  // Pass 2: store. The file is read again, so every block is hashed again before it is written.
  const store = new DurableFsBlockstore(blocksDir(ipfsDir), { sharding: blockSharding })
  await store.open()
  const seen = new Set<string>()
  let blocks = 0
  let written = 0
  let bytes = 0
  let skipped = 0
  try {
    let puts: Promise<void>[] = []
    await readCar(file, async (cid, block) => {
      const key = Buffer.from(cid.multihash.bytes).toString('base64')
      if (seen.has(key)) return
      seen.add(key)
      blocks++
      bytes += block.byteLength
      // An erased record's blocks never come back, whichever CID names them.
      if (erased.has(cid.toString())) {
        skipped++
        return
      }
      puts.push((async () => {
        if (await store.has(cid, { signal }) && await intact(store, cid, signal)) return
        await store.put(cid, block, { signal })
        written++
      })())
      if (puts.length >= PUT_CONCURRENCY) {
        const batch = puts
        puts = []
        await settleAll(batch)
      }
    }, { signal, written: true, onBytes: (b) => onProgress?.({ phase: 'store', bytes: b, fileBytes }) })
    await settleAll(puts)
  } finally {
    await store.close()
  }

  // Pass 3: pin the records the database knows.
  const pinned: Hex[] = []
  const unknownRoots: string[] = []
  const failed: ImportBackupResult['failed'] = []
  const ipfs = await openIpfs({ dir: ipfsDir, signal })
  try {
    for (const root of roots) {
      const rows = root.code === dagPb.code
        ? await db.all<{ record_id: Hex; envelopes: Hex }>('SELECT record_id, envelopes FROM records WHERE digest = ? ORDER BY record_id', toHex(root.multihash.digest))
        : []
      if (rows.length === 0 && !erased.has(root.toString())) unknownRoots.push(root.toString())
      for (const row of rows) {
        try {
          await pinRecursively(ipfs.helia.pins, cidFromDigest(root.multihash.digest, 'dag'), { signal })
          await pinRecursively(ipfs.helia.pins, cidFromDigest(hexToBytes(row.envelopes), 'raw'), { signal })
          pinned.push(row.record_id)
        } catch (err) {
          if (signal?.aborted === true) throw signal.reason
          if (!isAppError(err, 'RECORD_UNAVAILABLE', 'RECORD_INTEGRITY', 'INVALID_CID')) throw err
          failed.push({ recordId: row.record_id, problem: err.code, detail: err.details })
        }
      }
    }
  } finally {
    await ipfs.stop()
  }
  return { roots: roots.length, blocks, written, bytes, pinned, unknownRoots, failed, erasedBlocks: skipped }
}

/**
 * The CIDs of erased records' blocks: those deleted here at erasure, each tombstone's (and each
 * re-keyed record's old version's) DAG root and envelopes block, and every block the CAR's DAG
 * links under such a root.
 */
async function erasedBlocks(db: Pick<Db, 'all'>, links: Map<string, string[]>): Promise<Set<string>> {
  const erased = new Set((await db.all<{ cid: string }>('SELECT cid FROM erased_blocks')).map((r) => r.cid))
  const pending: string[] = []
  // A re-keyed record's old version is as gone as an erased one (superseded_records, issue 13 item 2).
  for (const r of await db.all<{ digest: Hex; envelopes: Hex }>('SELECT digest, envelopes FROM erased_records UNION ALL SELECT digest, envelopes FROM superseded_records')) {
    pending.push(cidFromDigest(hexToBytes(r.digest), 'dag').toString())
    erased.add(cidFromDigest(hexToBytes(r.envelopes), 'raw').toString())
  }
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    erased.add(next)
    for (const child of links.get(next) ?? []) if (!erased.has(child)) pending.push(child)
  }
  return erased
}

/**
 * Reads the CAR at `file`, hands each block to `onBlock` once it hashed to its CID, and returns
 * the header's roots.
 */
async function readCar(file: string, onBlock: (cid: CID, bytes: Uint8Array) => Promise<void>, { signal, onBytes, written = false }: { signal?: AbortSignal; onBytes?: (bytes: number) => void; written?: boolean }): Promise<CID[]> {
  // Pass 2 finds a bad block only if the file changed after pass 1; blocks before it were written.
  const outcome = written ? 'the blocks before it were stored, nothing was pinned' : 'nothing was imported'
  let reader: CarBlockIterator
  let roots: CID[]
  const name = path.basename(file)
  try {
    reader = await CarBlockIterator.fromIterable(createReadStream(file, { signal }))
    roots = await reader.getRoots()
  } catch (err) {
    if (signal?.aborted === true) throw signal.reason
    throw new AppError('BAD_REQUEST', { message: `${name} is not a readable CARv1 file: ${outcome}.`, details: (err as Error).message, cause: err })
  }
  let index = 0
  let bytes = 0
  const blocks = reader[Symbol.asyncIterator]()
  for (;;) {
    let next: IteratorResult<{ cid: CID; bytes: Uint8Array }>
    try {
      next = await blocks.next()
    } catch (err) {
      if (signal?.aborted === true) throw signal.reason
      throw new AppError('BAD_REQUEST', { message: `${name} is not a readable CARv1 file (after block ${index}): ${outcome}.`, details: (err as Error).message, cause: err })
    }
    if (next.done === true) break
    const { cid, bytes: block } = next.value
    if (!(cid.version === 1 && (cid.code === dagPb.code || cid.code === raw.code) && cid.multihash.code === sha256.code && cid.multihash.digest.byteLength === 32)) {
      throw new AppError('RECORD_INTEGRITY', { message: `Block ${index} of ${name} is named by ${cid}, not a CIDv1 sha2-256 dag-pb or raw: ${outcome}.` })
    }
    const actual = createHash('sha256').update(block).digest()
    if (!actual.equals(cid.multihash.digest)) {
      throw new AppError('RECORD_INTEGRITY', { message: `Block ${index} of ${name} (${cid}) does not hash to its CID: ${outcome}.`, details: `it hashes to sha2-256 ${actual.toString('hex')}` })
    }
    await onBlock(CID.asCID(cid) ?? cid, block)
    index++
    bytes += block.byteLength
    onBytes?.(bytes)
  }
  return roots
}

/** Waits for every promise, then throws the first failure: no write is left running. */
async function settleAll(promises: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(promises)
  const failure = results.find(r => r.status === 'rejected')
  if (failure !== undefined) throw (failure as PromiseRejectedResult).reason
}

async function intact(store: DurableFsBlockstore, cid: CID, signal?: AbortSignal): Promise<boolean> {
  try {
    await readBlockVerified(store, cid, { signal, keep: false })
    return true
  } catch (err) {
    if (isAppError(err, 'RECORD_INTEGRITY', 'RECORD_UNAVAILABLE')) return false
    throw err
  }
}
