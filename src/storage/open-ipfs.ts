import '../polyfills.ts'
import path from 'node:path'
import { createHeliaLight } from 'helia'
import { blockSharding, blocksDir } from './block-path.ts'
import { DurableFsBlockstore, DurableFsDatastore } from './durable-fs.ts'
import { createHashWorker, type HashWorker } from './hash-worker.ts'
import { AppError } from '../errors.ts'
import type { Helia } from 'helia'

export interface OpenIpfsParams {
  /** The node's IPFS folder: blocks go to `<dir>/blocks`, pins and other state to `<dir>/datastore`. */
  dir: string
  signal?: AbortSignal
}

/** One node's IPFS: Helia owns the blocks; `blockstore` is Helia's view of them. */
export interface Ipfs {
  readonly helia: Helia
  /** Helia's block store: local blocks now, blocks fetched from peers once peering exists. */
  readonly blockstore: Helia['blockstore']
  /** Absolute path of the folder given to `openIpfs`. */
  readonly dir: string
  /** Hashes large blocks on a second thread, so that adding a file overlaps reading its source. */
  readonly hasher: Omit<HashWorker, 'close'>
  /** Stops Helia and closes the stores; safe to call twice. */
  stop(): Promise<void>
}

/**
 * Opens (creating if needed) the IPFS store in `dir` and starts an offline Helia node on it:
 * no libp2p, no block brokers, no routers, so nothing is fetched from or announced to anyone.
 * Every block and datastore write is durable (fsynced) before it resolves.
 *
 * @throws AppError STORAGE_UNAVAILABLE when the folder cannot be opened or Helia cannot start.
 */
export async function openIpfs({ dir, signal }: OpenIpfsParams): Promise<Ipfs> {
  signal?.throwIfAborted()
  const root = path.resolve(dir)
  const blockstore = new DurableFsBlockstore(blocksDir(root), { sharding: blockSharding })
  const datastore = new DurableFsDatastore(path.join(root, 'datastore'))
  // Started now, so it is up by the first upload, whose first leaves would otherwise be hashed
  // on this thread while it boots.
  const hasher = createHashWorker()
  hasher.start()
  let helia: Helia | undefined
  try {
    // Helia starts its stores but does not open them; FsBlockstore/FsDatastore need open().
    await blockstore.open()
    await datastore.open()
    helia = createHeliaLight({ blockstore, datastore })
    await helia.start()
    signal?.throwIfAborted()
  } catch (err) {
    await helia?.stop().catch(() => {})
    await Promise.allSettled([blockstore.close(), datastore.close(), hasher.close()])
    if (signal?.aborted === true) throw signal.reason
    throw new AppError('STORAGE_UNAVAILABLE', { details: `opening IPFS store at ${root}`, cause: err })
  }

  const node = helia
  let stopping: Promise<void> | undefined
  return {
    helia: node,
    blockstore: node.blockstore,
    dir: root,
    hasher,
    stop: async () => {
      stopping ??= (async () => {
        await node.stop()
        await Promise.all([blockstore.close(), datastore.close(), hasher.close()])
      })()
      await stopping
    },
  }
}
