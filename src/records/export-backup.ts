import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { CarWriter } from '@ipld/car/writer'
import * as dagPb from '@ipld/dag-pb'
import { hexToBytes, type Hex } from 'viem'
import { cidFromDigest, readBlockVerified, type BlockGetter } from '../storage/read-verified.ts'
import { AppError, isAppError } from '../errors.ts'
import type { Db } from '../db/open-database.ts'
import type { CID } from 'multiformats/cid'

export interface ExportBackupParams {
  db: Pick<Db, 'all'>
  blockstore: BlockGetter
  /** The CAR file to write; replaced only once the whole export is written and durable. */
  out: string
  /**
   * Every record held here, replicas kept for other members included. Default: the records of
   * the hospitals this node holds keys for.
   */
  all?: boolean
  signal?: AbortSignal
  onProgress?: (p: ExportBackupProgress) => void
}

export interface ExportBackupProgress {
  records: number
  totalRecords: number
  /** Block bytes written so far. */
  bytes: number
}

export interface ExportBackupResult {
  file: string
  records: number
  blocks: number
  /** Size of the CAR file. */
  bytes: number
  /** sha256 of the CAR file, hex. */
  sha256: string
}

interface BackupRow { record_id: Hex; digest: Hex; envelopes: Hex }

// Leaves read ahead of the one being written: overlaps disk reads with hashing and writing.
const READ_AHEAD = 8

/**
 * Writes the blocks of the node's records to one CARv1 file: its roots are the records' dag-pb
 * roots, its blocks every block of their DAGs and each record's envelopes block. Every block is
 * hashed against its CID as it is read; the file appears under `out` only when complete and
 * fsynced (temp file in the same folder, then rename).
 *
 * @throws AppError RECORD_INTEGRITY when a block of a record does not hash to its CID or its DAG
 *   is malformed (details name the record); nothing is written.
 * @throws AppError RECORD_UNAVAILABLE when a block of a record is missing; nothing is written.
 * @throws AppError STORAGE_UNAVAILABLE when the file cannot be written.
 */
export async function exportBackup({ db, blockstore, out, all = false, signal, onProgress }: ExportBackupParams): Promise<ExportBackupResult> {
  signal?.throwIfAborted()
  const rows = await db.all<BackupRow>(`SELECT r.record_id, r.digest, r.envelopes FROM records r
    WHERE r.hospital_id IN (SELECT id FROM hospitals WHERE sealed_secrets <> '')
    ${all ? `OR r.record_id IN (SELECT record_id FROM replicas WHERE state = 'pinned')` : ''}
    ORDER BY r.created_at, r.record_id`)
  const roots = uniqueCids(rows.map(r => cidFromDigest(hexToBytes(r.digest), 'dag')))

  const file = path.resolve(out)
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
  let handle: fs.FileHandle
  try {
    handle = await fs.open(tmp, 'wx', 0o600)
  } catch (err) {
    throw new AppError('STORAGE_UNAVAILABLE', { message: `Cannot write ${file}.`, details: (err as Error).message, cause: err })
  }
  const fileHash = createHash('sha256')
  let fileBytes = 0
  const { writer, out: car } = CarWriter.create(roots)
  // The writer's put waits for this loop to take the bytes; should writing fail, `stopped`
  // rejects so that the put it is waiting on does not hang.
  const draining = (async () => {
    for await (const chunk of car) {
      fileHash.update(chunk)
      fileBytes += chunk.byteLength
      for (let offset = 0; offset < chunk.byteLength;) {
        offset += (await handle.write(chunk, offset, chunk.byteLength - offset)).bytesWritten
      }
    }
  })()
  let closing = false
  const stopped = draining.then(() => { if (!closing) throw new Error('CAR output ended early') })
  stopped.catch(() => {})
  const put = async (block: { cid: CID; bytes: Uint8Array }): Promise<void> => { await Promise.race([writer.put(block), stopped]) }

  const seen = new Set<string>()
  let blocks = 0
  let blockBytes = 0
  try {
    for (const [i, row] of rows.entries()) {
      const write = async (cid: CID, bytes: Uint8Array) => {
        await put({ cid, bytes })
        blocks++
        blockBytes += bytes.byteLength
      }
      await writeRecordBlocks(blockstore, row, seen, write, signal)
      onProgress?.({ records: i + 1, totalRecords: rows.length, bytes: blockBytes })
    }
    closing = true
    await Promise.race([writer.close(), stopped])
    await draining
    await handle.datasync()
    await handle.close()
    await fs.rename(tmp, file)
    await fsyncDir(path.dirname(file))
  } catch (err) {
    await handle.close().catch(() => {})
    await fs.rm(tmp, { force: true })
    if (err instanceof AppError) throw err
    throw new AppError('STORAGE_UNAVAILABLE', { message: `Cannot write ${file}.`, details: (err as Error).message, cause: err })
  }
  return { file, records: rows.length, blocks, bytes: fileBytes, sha256: fileHash.digest('hex') }
}

/**
 * Hands the blocks of one record not in `seen` to `write`: its DAG, then its envelopes block.
 * @throws AppError RECORD_INTEGRITY, RECORD_UNAVAILABLE naming the record; the signal's reason.
 */
async function writeRecordBlocks(blockstore: BlockGetter, row: BackupRow, seen: Set<string>, write: (cid: CID, bytes: Uint8Array) => Promise<void>, signal?: AbortSignal): Promise<void> {
  try {
    await writeDag(blockstore, cidFromDigest(hexToBytes(row.digest), 'dag'), seen, write, signal)
    const env = cidFromDigest(hexToBytes(row.envelopes), 'raw')
    if (!seen.has(env.toString())) {
      seen.add(env.toString())
      await write(env, (await readBlockVerified(blockstore, env, { signal })).bytes)
    }
  } catch (err) {
    if (signal?.aborted === true) throw signal.reason
    if (isAppError(err, 'RECORD_INTEGRITY', 'RECORD_UNAVAILABLE', 'INVALID_CID')) {
      const code = err.code === 'INVALID_CID' ? 'RECORD_INTEGRITY' : err.code
      throw new AppError(code, {
        message: `Record ${row.record_id} ${code === 'RECORD_UNAVAILABLE' ? 'has a missing block' : 'has a corrupt block'}: nothing was exported.`,
        details: err.details,
        cause: err,
      })
    }
    throw err
  }
}

/**
 * Reads the DAG under `root` depth first in link order, each block hashed against its CID, and
 * hands every block not in `seen` to `write`, parents before children.
 */
async function writeDag(blockstore: BlockGetter, root: CID, seen: Set<string>, write: (cid: CID, bytes: Uint8Array) => Promise<void>, signal?: AbortSignal): Promise<void> {
  const visit = async (cid: CID, bytes: Uint8Array): Promise<void> => {
    await write(cid, bytes)
    if (cid.code !== dagPb.code) return
    let links: CID[]
    try {
      links = dagPb.decode(bytes).Links.map(l => l.Hash)
    } catch (err) {
      throw new AppError('RECORD_INTEGRITY', { details: `node ${cid} is not dag-pb: ${(err as Error).message}`, cause: err })
    }
    const fresh = links.filter(l => !seen.has(l.toString()))
    for (const l of fresh) seen.add(l.toString())
    for (let start = 0; start < fresh.length; start += READ_AHEAD) {
      const batch = fresh.slice(start, start + READ_AHEAD)
      const reads = batch.map(l => {
        const p = readBlockVerified(blockstore, l, { signal })
        p.catch(() => {}) // awaited in order below
        return p
      })
      for (const [j, l] of batch.entries()) await visit(l, (await reads[j]).bytes)
    }
  }
  if (seen.has(root.toString())) return
  seen.add(root.toString())
  await visit(root, (await readBlockVerified(blockstore, root, { signal })).bytes)
}

function uniqueCids(cids: CID[]): CID[] {
  const byString = new Map<string, CID>()
  for (const cid of cids) byString.set(cid.toString(), cid)
  return [...byString.values()]
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r')
  try { await h.sync() } finally { await h.close() }
}
