import { peerIdFromString } from '@libp2p/peer-id'
import { parsePeerAddr, type AllowList, type PeerAddr } from './allow-list.ts'
import { keepConnected, type KeepConnectedInit } from './keep-connected.ts'
import type { Libp2p } from '@libp2p/interface'

/** The networked side of a node's IPFS (see openIpfs's `network` option). */
export interface IpfsNetwork {
  /** This node's libp2p PeerId (kept in `<dir>/peer-key`). */
  readonly peerId: string
  /** Addresses other nodes can dial this one at, each ending in /p2p/<peerId>; no wildcards. */
  addrs(): string[]
  /** PeerIds this node has a connection open to now. */
  peers(): string[]
  /**
   * Sets the consortium members (multiaddrs with /p2p/<peerId>, as hospitals publish them): they
   * are allowed and kept connected, in addition to the configured peers. A member left out is
   * disconnected. Addresses that do not parse or name no peer are skipped: they come from the
   * chain, and one bad entry must not cut the node off from the others.
   */
  setMembers(addrs: readonly string[]): void
}

export interface StartPeeringInit extends KeepConnectedInit {
  /** How long a peer that sent a block not matching its CID is refused (default 60 s). */
  quarantineMs?: number
}

export interface Peering {
  readonly network: IpfsNetwork
  /** Quarantines and disconnects a peer that sent a bad block. */
  onBadBlock(peerId: string): void
  stop(): void
}

/** Starts keeping `libp2p` connected to the peers `allowList` allows, and exposes it. */
export function startPeering(libp2p: Libp2p, allowList: AllowList, init: StartPeeringInit = {}): Peering {
  const quarantineMs = init.quarantineMs ?? 60_000
  const keeper = keepConnected(libp2p, allowList, init)
  const peerId = libp2p.peerId.toString()
  const hangUp = (id: string): void => {
    libp2p.hangUp(peerIdFromString(id)).catch(() => {})
  }

  const network: IpfsNetwork = {
    peerId,
    addrs: () => {
      const out = new Set<string>()
      for (const ma of libp2p.getMultiaddrs()) {
        const host = ma.getComponents()[0]?.value
        if (host === '0.0.0.0' || host === '::') continue
        const s = ma.toString()
        out.add(s.includes('/p2p/') ? s : `${s}/p2p/${peerId}`)
      }
      return [...out]
    },
    peers: () => [...new Set(libp2p.getConnections().filter(c => c.status === 'open').map(c => c.remotePeer.toString()))],
    setMembers: (addrs) => {
      const members = addrs.map(parsePeerAddr).filter((p): p is PeerAddr => p !== undefined)
      for (const id of allowList.setMembers(members)) hangUp(id)
      keeper.refresh()
    },
  }

  return {
    network,
    onBadBlock: (id) => {
      allowList.quarantine(id, quarantineMs)
      hangUp(id)
    },
    stop: () => keeper.stop(),
  }
}
