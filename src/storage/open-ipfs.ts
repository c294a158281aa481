import '../polyfills.ts'
import path from 'node:path'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createHeliaLight } from 'helia'
import { blockSharding, blocksDir } from './block-path.ts'
import { DurableFsBlockstore, DurableFsDatastore } from './durable-fs.ts'
import { createHashWorker, type HashWorker } from './hash-worker.ts'
import { prefetchDag } from './prefetch-dag.ts'
import { readBlockVerified } from './read-verified.ts'
import { fetchRecordBlocks, isTooLargeForOneRound, serveRecordBlocks } from './record-blocks.ts'
import { AppError, isAppError } from '../errors.ts'
import { AllowList, parsePeerAddr, type PeerAddr } from '../network/allow-list.ts'
import { fetchingBlockstore } from '../network/fetching-blockstore.ts'
import { consortiumLibp2pOptions } from '../network/libp2p-options.ts'
import { loadOrCreatePeerKey } from '../network/peer-key.ts'
import { startPeering, type IpfsNetwork, type Peering } from '../network/start-peering.ts'
import type { Helia } from 'helia'
import type { Libp2p } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export type { IpfsNetwork }

/** Peering with other hospital nodes over libp2p (TCP, Noise, Yamux) and bitswap. */
export interface IpfsNetworkOptions {
  /** Multiaddrs to listen on, e.g. '/ip4/0.0.0.0/tcp/4001' ('/ip4/127.0.0.1/tcp/0' in tests). */
  listen: readonly string[]
  /** Peers the operator configured, as multiaddrs ending in /p2p/<peerId>: always allowed and kept connected. */
  peers: readonly string[]
  /** A block no connected peer sends within this fails with RECORD_UNAVAILABLE (default 30 s). */
  fetchTimeoutMs?: number
  /** Redial back-off: first wait (default 500 ms), doubling up to the cap (default 10 s). */
  minBackoffMs?: number
  maxBackoffMs?: number
  /** How long a peer that sent a block not matching its CID is refused (default 60 s). */
  quarantineMs?: number
}

export interface OpenIpfsParams {
  /** The node's IPFS folder: blocks go to `<dir>/blocks`, pins and other state to `<dir>/datastore`. */
  dir: string
  signal?: AbortSignal
  /** Without it the node is offline: nothing is fetched from or announced to anyone. */
  network?: IpfsNetworkOptions
  /**
   * Write large blocks to pack files (default true). Packs need one process per store: their
   * index lives in the process. Give false where several processes share the store (a
   * PostgreSQL node and its `--api-only` processes): every block then gets a file of its own,
   * and packs already there are read, never changed but by deletes.
   */
  packs?: boolean
}

export interface PrefetchOptions {
  raws?: readonly CID[]
  signal?: AbortSignal
  /** Ask peers directly (default true); false goes to bitswap at once (a large record). */
  direct?: boolean
}

/** How a prefetch went: `held` (nothing asked), `direct` (one peer, one round) or `bitswap`. */
export type PrefetchResult = 'held' | 'direct' | 'bitswap'

export interface PrefetchStats { direct: number; bitswap: number; refused: number }

/** One node's IPFS: Helia owns the blocks; `blockstore` is Helia's view of them. */
export interface Ipfs {
  readonly helia: Helia
  /**
   * Helia's block store. With `network`, a block not held here is fetched from connected peers
   * (checked against its CID, written durably, then served), or fails with RECORD_UNAVAILABLE
   * after `fetchTimeoutMs`.
   */
  readonly blockstore: Helia['blockstore']
  /** Present when opened with `network`. */
  readonly network?: IpfsNetwork
  /** Absolute path of the folder given to `openIpfs`. */
  readonly dir: string
  /** Hashes large blocks on a second thread, so that adding a file overlaps reading its source. */
  readonly hasher: Omit<HashWorker, 'close'>
  /**
   * Deletes an unpinned block from this node's store (a superseded or erased record's). Helia's
   * own delete first withdraws the block from content routing, which a networked node without
   * content routers (ours: no DHT, no delegated routing) refuses, so this deletes from the store
   * Helia writes to. A block not held is ignored.
   * @throws AppError INTERNAL when the block is still pinned.
   */
  deleteBlock(cid: CID, options?: { signal?: AbortSignal }): Promise<void>
  /**
   * Brings a record this node lacks into its store ahead of its read or its replication, in one
   * round of fetches: asks every connected peer at once for the whole DAG under `root` together
   * with the `raws` blocks (its envelopes) over `/medledger/record-blocks/1.0.0`
   * (`record-blocks.ts`); the first complete, verified answer wins and the other requests are
   * aborted. When none serves them all (a peer without the protocol or the record, or silent; a
   * record over 32 MiB; `direct: false`), it falls back to bitswap:
   * `prefetchDag` and the raws beside it. A peer that sent a block not matching its CID is
   * quarantined as for bitswap. Resolves once done, never rejects: the read that follows meets
   * whatever is still missing. Nothing is asked when `root` is held, or offline.
   */
  prefetch(root: CID, options?: PrefetchOptions): Promise<PrefetchResult>
  /** Records `prefetch` fetched since start, `direct`ly or over `bitswap`; peers `refused` for a bad block on the direct path. */
  prefetchStats(): PrefetchStats
  /** Stops Helia and closes the stores; safe to call twice. */
  stop(): Promise<void>
}

/**
 * Opens (creating if needed) the IPFS store in `dir` and starts a Helia node on it. Without
 * `network` it is offline: no libp2p, no block brokers, no routers, so nothing is fetched from or
 * announced to anyone. With `network` it listens on libp2p, accepts and dials only the configured
 * peers and the members set by `network.setMembers` (deny by default), keeps them connected, and
 * exchanges blocks with them over bitswap, its only block broker. Every block and datastore
 * write is durable (fsynced) before it resolves, fetched blocks included.
 *
 * @throws AppError STORAGE_UNAVAILABLE when the folder cannot be opened, a configured peer is not
 *   a multiaddr ending in /p2p/<peerId>, or Helia or libp2p cannot start (e.g. the port is taken).
 */
export async function openIpfs({ dir, signal, network, packs = true }: OpenIpfsParams): Promise<Ipfs> {
  signal?.throwIfAborted()
  const root = path.resolve(dir)
  const blockstore = new DurableFsBlockstore(blocksDir(root), { sharding: blockSharding, packMinBytes: packs ? undefined : Infinity })
  const datastore = new DurableFsDatastore(path.join(root, 'datastore'))
  // Started now, so it is up by the first upload, whose first leaves would otherwise be hashed
  // on this thread while it boots.
  const hasher = createHashWorker()
  hasher.start()
  let helia: Helia | undefined
  let peering: Peering | undefined
  try {
    // Helia starts its stores but does not open them; FsBlockstore/FsDatastore need open().
    await blockstore.open()
    await datastore.open()
    if (network === undefined) {
      helia = createHeliaLight({ blockstore, datastore })
      await helia.start()
    } else {
      const privateKey = await loadOrCreatePeerKey(root, { signal })
      const allowList = new AllowList(peerIdFromPrivateKey(privateKey).toString(), parsePeers(network.peers))
      const networked = withBitswap(withLibp2pLight(createHeliaLight({ blockstore, datastore }),
        consortiumLibp2pOptions({ privateKey, listen: network.listen, connectionGater: allowList.gater })))
      helia = networked
      await networked.start()
      peering = startPeering(networked.libp2p, allowList, network)
      await serveRecordBlocks(networked.libp2p, blockstore)
    }
    signal?.throwIfAborted()
  } catch (err) {
    peering?.stop()
    await helia?.stop().catch(() => {})
    await Promise.allSettled([blockstore.close(), datastore.close(), hasher.close()])
    if (signal?.aborted === true) throw signal.reason
    throw new AppError('STORAGE_UNAVAILABLE', { details: `opening IPFS store at ${root}`, cause: err })
  }

  const node = helia
  const net = peering
  let stopping: Promise<void> | undefined
  const stats: PrefetchStats = { direct: 0, bitswap: 0, refused: 0 }
  const fetching = net === undefined
    ? node.blockstore
    : fetchingBlockstore(node.blockstore, { fetchTimeoutMs: network?.fetchTimeoutMs, peers: net.network.peers, onBadBlock: net.onBadBlock })
  return {
    helia: node,
    blockstore: fetching,
    network: net?.network,
    prefetch: net === undefined
      ? async () => 'held'
      : prefetcher({ libp2p: (node as Helia & { libp2p: Libp2p }).libp2p, helia: node, fetching, peering: net, stats }),
    prefetchStats: () => ({ ...stats }),
    dir: root,
    hasher,
    deleteBlock: async (cid, options) => {
      if (await node.pins.isPinned(cid, options)) throw new AppError('INTERNAL', { details: `block ${cid} is pinned: unpin it before deleting it` })
      if (await blockstore.has(cid, options)) await blockstore.delete(cid, options)
    },
    stop: async () => {
      stopping ??= (async () => {
        net?.stop()
        await node.stop()
        await Promise.all([blockstore.close(), datastore.close(), hasher.close()])
      })()
      await stopping
    },
  }
}

/** `Ipfs.prefetch` of a networked node: the connected peers asked directly, all at once, then bitswap. */
function prefetcher({ libp2p, helia, fetching, peering, stats }: { libp2p: Libp2p; helia: Helia; fetching: Helia['blockstore']; peering: Peering; stats: PrefetchStats }): Ipfs['prefetch'] {
  return async (root, { raws = [], signal, direct = true } = {}) => {
    if (await Promise.resolve(helia.blockstore.has(root, { signal })).catch(() => false)) return 'held'
    if (direct && await fetchFromFirstPeer({ libp2p, helia, peering, stats }, { root, raws, signal })) {
      stats.direct++
      return 'direct'
    }
    if (signal?.aborted === true) return 'bitswap'
    await Promise.all([
      prefetchDag(fetching, root, { signal }),
      ...raws.map(async (cid) => readBlockVerified(fetching, cid, { signal, keep: false }).catch(() => undefined)),
    ])
    stats.bitswap++
    return 'bitswap'
  }
}

/**
 * Asks every connected peer at once for a record's blocks in one round (`fetchRecordBlocks`): the
 * first complete, verified answer wins and the other requests are aborted then, so a silent peer
 * costs nothing while another serves. A peer that sent a bad block is quarantined; a record too
 * large for one round stops them all. Whether one peer served it whole.
 */
async function fetchFromFirstPeer(
  { libp2p, helia, peering, stats }: { libp2p: Libp2p; helia: Helia; peering: Peering; stats: PrefetchStats },
  { root, raws, signal }: { root: CID; raws: readonly CID[]; signal?: AbortSignal },
): Promise<boolean> {
  const peers = peering.network.peers()
  if (peers.length === 0) return false
  const race = new AbortController()
  const each = signal === undefined ? race.signal : AbortSignal.any([signal, race.signal])
  const ask = async (peer: string): Promise<void> => {
    try {
      await fetchRecordBlocks(libp2p, helia.blockstore, { peer, root, raws, signal: each })
    } catch (err) {
      if (isAppError(err, 'RECORD_INTEGRITY')) {
        stats.refused++
        peering.onBadBlock(peer)
      }
      if (isTooLargeForOneRound(err)) race.abort()
      throw err
    }
  }
  try {
    await Promise.any(peers.map(ask))
    return true
  } catch {
    return false
  } finally {
    race.abort()
  }
}

function parsePeers(peers: readonly string[]): PeerAddr[] {
  return peers.map((addr, i) => {
    const parsed = parsePeerAddr(addr)
    if (parsed === undefined) throw new AppError('STORAGE_UNAVAILABLE', { details: `network.peers[${i}] (${addr}) is not a multiaddr ending in /p2p/<peerId>` })
    return parsed
  })
}
