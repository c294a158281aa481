import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readlinkSync } from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { addCiphertext } from './add-ciphertext.ts'
import { blockFilePath, findBlockOnDisk } from './block-path.ts'
import { openIpfs, type Ipfs } from './open-ipfs.ts'
import { pinRecursively } from './pin-recursively.ts'
import { verifyDag } from './read-verified.ts'
import { isAppError } from '../errors.ts'

/**
 * What the file system was asked to do, in order, as seen at Node's fs layer (our modules run
 * unchanged on a real disk). From it, `isDurable` works out what would survive a power cut at
 * any point, on the POSIX rules: a file's bytes are durable once it was fsynced (or
 * fdatasynced), its name once its folder was fsynced after the rename that made it, and a new
 * folder once its parent was fsynced after it was made.
 */
type FsEvent =
  | { op: 'open'; path: string }
  | { op: 'sync'; path: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'mkdir'; path: string; created: string | undefined }
  | { op: 'mark'; label: string }
  | { op: 'write'; path: string; from: number; to: number }

let events: FsEvent[]
const restore: Array<() => void> = []
/** Called after each rename, to start something at exactly that point. */
let afterRename: ((e: { from: string; to: string }) => void) | undefined
/** fsyncs of this folder take 100 ms longer (a slow disk), to widen a race. */
let slowSyncOf: string | undefined

function recordFs(): void {
  events = []
  const fsObject = fsp as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  for (const name of ['open', 'rename', 'mkdir'] as const) {
    const original = fsObject[name]
    fsObject[name] = async (...args: unknown[]) => {
      const result = await original(...args)
      if (name === 'open') events.push({ op: 'open', path: String(args[0]) })
      if (name === 'rename') {
        events.push({ op: 'rename', from: String(args[0]), to: String(args[1]) })
        afterRename?.({ from: String(args[0]), to: String(args[1]) })
      }
      if (name === 'mkdir') events.push({ op: 'mkdir', path: String(args[0]), created: result as string | undefined })
      return result
    }
    restore.push(() => { fsObject[name] = original })
  }
}

async function recordSyncs(): Promise<void> {
  // FileHandle is not exported: take its prototype from a handle.
  const handle = await fsp.open(os.tmpdir(), 'r')
  const proto = Object.getPrototypeOf(handle) as Record<string, (this: { fd: number }) => Promise<void>>
  await handle.close()
  for (const name of ['sync', 'datasync'] as const) {
    const original = proto[name]
    proto[name] = async function (this: { fd: number }) {
      const p = readlinkSync(`/proc/self/fd/${this.fd}`)
      if (p === slowSyncOf) await sleep(100)
      await original.call(this)
      events.push({ op: 'sync', path: p })
    }
    restore.push(() => { proto[name] = original })
  }
  // Positioned writes (the packs'), to tell which bytes of a pack a later sync covers.
  const write = proto.write as unknown as (this: { fd: number }, ...args: unknown[]) => Promise<{ bytesWritten: number }>
  const writeProto = proto as unknown as { write: typeof write }
  writeProto.write = async function (this: { fd: number }, ...args: unknown[]) {
    const result = await write.apply(this, args)
    if (typeof args[3] === 'number') {
      events.push({ op: 'write', path: readlinkSync(`/proc/self/fd/${this.fd}`), from: args[3], to: args[3] + result.bytesWritten })
    }
    return result
  }
  restore.push(() => { writeProto.write = write })
}

/**
 * Whether block `cid` would survive a crash after the first `upTo` events: its own file by
 * `isDurable`, or, in a pack, the pack's name (its folder fsynced after it was opened) and
 * every byte of the block's range written and then fdatasynced.
 */
async function isBlockDurable(cid: CID, upTo = events.length): Promise<boolean> {
  const block = await findBlockOnDisk(dir, cid)
  if (block === undefined) return false
  if (!block.packed) return isDurable(block.file, upTo)
  const before = events.slice(0, upTo)
  const opened = before.findIndex(e => e.op === 'open' && e.path === block.file)
  if (opened < 0 || !before.slice(opened + 1).some(e => e.op === 'sync' && e.path === path.dirname(block.file))) return false
  const start = block.offset - 48
  const end = block.offset + block.length
  let covered = start
  let lastWrite = -1
  // Writes of one record are sequential pieces; each must be followed by a sync of the pack.
  for (const [i, e] of before.entries()) {
    if (e.op === 'write' && e.path === block.file && e.from <= covered && e.to > covered && e.from >= start) {
      covered = Math.min(e.to, end)
      lastWrite = i
    }
  }
  return covered === end && before.slice(lastWrite + 1).some(e => e.op === 'sync' && e.path === block.file)
}

function mark(label: string): number {
  events.push({ op: 'mark', label })
  return events.length
}

/** Whether folder `dir` would survive a crash after the first `upTo` events. */
function isDirDurable(dir: string, upTo: number): boolean {
  const made = events.slice(0, upTo).findIndex(e => e.op === 'mkdir' && e.created !== undefined && (dir === e.created || dir.startsWith(e.created + path.sep)))
  if (made < 0) return true // there before the test
  const parent = path.dirname(dir)
  return events.slice(made + 1, upTo).some(e => e.op === 'sync' && e.path === parent) && isDirDurable(parent, upTo)
}

/**
 * Whether `file` would survive a crash after the first `upTo` events with whole bytes: some
 * rename to it is durable (its folder fsynced after it), and the bytes of the last one are.
 * (A rename over the file by another copy of the same bytes is atomic: either copy survives.)
 */
function isDurable(file: string, upTo = events.length): boolean {
  const before = events.slice(0, upTo)
  const renames = before.flatMap((e, i) => e.op === 'rename' && e.to === file ? [i] : [])
  if (renames.length === 0) return false
  const last = renames.at(-1)!
  const { from } = before[last] as { from: string }
  const bytesSynced = before.slice(0, last).some(e => e.op === 'sync' && e.path === from) ||
    before.slice(last + 1).some(e => e.op === 'sync' && e.path === file)
  const nameSynced = renames.some(r => before.slice(r + 1).some(e => e.op === 'sync' && e.path === path.dirname(file)))
  return bytesSynced && nameSynced && isDirDurable(path.dirname(file), upTo)
}

let dir: string
let ipfs: Ipfs

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'medledger-durable-'))
  ipfs = await openIpfs({ dir })
  recordFs()
  await recordSyncs()
})

afterEach(async () => {
  afterRename = undefined
  slowSyncOf = undefined
  while (restore.length > 0) restore.pop()!()
  await ipfs?.stop()
  await fsp.rm(dir, { recursive: true, force: true })
})

const pinKeyFile = (cid: CID): string => path.join(dir, 'datastore', 'pin', `${cid.toString(base36)}.data`)
const pinEntryFile = (cid: CID): string => path.join(dir, 'datastore', 'pinned-block', `${base36.encode(cid.multihash.bytes)}.data`)

async function rawCid(bytes: Uint8Array): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(bytes))
}

describe('durable writes, checked against the order of file operations', () => {
  test('a block put resolves only once its bytes, its name and its new folders are durable', async () => {
    const blocks = Array.from({ length: 40 }, () => randomBytes(3000))
    await Promise.all(blocks.map(async bytes => {
      const cid = await rawCid(bytes)
      await ipfs.helia.blockstore.put(cid, bytes)
      const at = mark(`put ${cid}`)
      assert.ok(isDurable(blockFilePath(dir, cid), at), `block ${cid} durable when its put resolved`)
    }))
    // And never a name for bytes that were not yet on disk: every rename of a block follows
    // the sync of its temp file.
    for (const [i, e] of events.entries()) {
      if (e.op !== 'rename' || !e.to.startsWith(path.join(dir, 'blocks'))) continue
      assert.ok(events.slice(0, i).some(s => s.op === 'sync' && s.path === e.from), `${e.to} renamed after its bytes were synced`)
    }
  })

  test('a put into a folder that another put has just made waits until the folder is durable', async () => {
    // Blocks that share a shard folder (named after the last two characters of their CID).
    const byShard = new Map<string, Array<{ cid: CID; bytes: Uint8Array }>>()
    let group: Array<{ cid: CID; bytes: Uint8Array }> = []
    while (group.length < 4) {
      const bytes = randomBytes(64)
      const cid = await rawCid(bytes)
      const shard = path.dirname(blockFilePath(dir, cid))
      group = byShard.get(shard) ?? []
      byShard.set(shard, [...group, { cid, bytes }])
      group = byShard.get(shard)!
    }
    slowSyncOf = path.join(dir, 'blocks')
    await Promise.all(group.map(async ({ cid, bytes }) => {
      await ipfs.helia.blockstore.put(cid, bytes)
      assert.ok(isDurable(blockFilePath(dir, cid), mark('put')), `block ${cid} durable, folder included, when its put resolved`)
    }))
  })

  test('concurrent puts of one block each resolve only once it is durable', async () => {
    const bytes = randomBytes(100_000)
    const cid = await rawCid(bytes)
    const file = blockFilePath(dir, cid)
    const put = async (): Promise<void> => {
      await ipfs.helia.blockstore.put(cid, bytes)
      assert.ok(isDurable(file, mark('put')), 'durable when the put resolved')
    }
    // Helia skips a put when the block is there; a second put made just after the first one's
    // rename, before its folder is fsynced, finds the file and must still wait for it.
    let second: Promise<void> | undefined
    afterRename = ({ to }) => { if (to === file) second ??= put() }
    await Promise.all([put(), put()])
    assert.ok(second !== undefined)
    await second
  })

  test('addCiphertext writes the root only after its leaves are durable, and acknowledges only a durable pin', async () => {
    const { cid } = await addCiphertext(ipfs, [randomBytes(3 * 1_048_576 + 100)])
    const acknowledged = mark('acknowledged')
    const { leaves } = await verifyDag(ipfs.blockstore, cid)
    const blocks = [cid, ...leaves]

    // A crash at any point before the root file exists leaves no root; once it is being
    // written, every leaf already survives a crash.
    const rootFile = blockFilePath(dir, cid)
    const rootWritten = events.findIndex(e => e.op === 'open' && path.dirname(e.path) === path.dirname(rootFile) && path.basename(e.path).startsWith(`.${path.basename(rootFile)}.`))
    assert.ok(rootWritten > 0)
    for (const leaf of leaves) assert.ok(await isBlockDurable(leaf, rootWritten), `leaf ${leaf} durable before the root is written`)
    assert.equal((await findBlockOnDisk(dir, leaves[0]))?.packed, true, 'a 1 MiB leaf goes to a pack')

    // The pin is named only once every block and every pin entry is durable.
    const pinNamed = events.findIndex(e => e.op === 'rename' && e.to === pinKeyFile(cid))
    assert.ok(pinNamed > 0)
    for (const c of blocks) {
      assert.ok(await isBlockDurable(c, pinNamed), `block ${c} durable before the pin`)
      assert.ok(isDurable(pinEntryFile(c), pinNamed), `pin entry of ${c} durable before the pin`)
    }
    assert.ok(isDurable(pinKeyFile(cid), acknowledged), 'the pin is durable when addCiphertext resolves')
  })

  test('a pin whose block entry cannot be written is not recorded, and pinning again works once it can', async () => {
    const { cid } = await addCiphertext(ipfs, [randomBytes(2 * 1_048_576)], { pin: false })
    const { leaves } = await verifyDag(ipfs.blockstore, cid)
    // A folder where an entry's file must go: its write fails (at the rename) however often it
    // is tried.
    const blocked = pinEntryFile(leaves[1])
    await fsp.mkdir(path.join(blocked, 'x'), { recursive: true })

    await assert.rejects(pinRecursively(ipfs.helia.pins, cid), (err: unknown) => isAppError(err, 'STORAGE_UNAVAILABLE'))
    await assert.rejects(fsp.access(pinKeyFile(cid)), { code: 'ENOENT' })
    await assert.rejects(ipfs.helia.pins.get(cid), { name: 'NotFoundError' })

    await fsp.rm(blocked, { recursive: true })
    await pinRecursively(ipfs.helia.pins, cid)
    assert.ok(isDurable(pinKeyFile(cid), mark('pinned')))
    for (const c of [cid, ...leaves]) assert.equal(await ipfs.helia.pins.isPinned(c), true)
  })
})
