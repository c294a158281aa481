import { multiaddr } from '@multiformats/multiaddr'
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A multiaddr split into the peer it names and the address itself (with its /p2p/ part). */
export interface PeerAddr {
  peerId: string
  addr: Multiaddr
}

/**
 * Parses `/…/p2p/<peerId>`; undefined when the string is not a multiaddr or names no peer.
 * Only the last /p2p/ counts (a relayed address names the relay first).
 */
export function parsePeerAddr(addr: string): PeerAddr | undefined {
  let ma: Multiaddr
  try {
    ma = multiaddr(addr)
  } catch {
    return undefined
  }
  const peerId = ma.getComponents().findLast(c => c.name === 'p2p')?.value
  return peerId === undefined ? undefined : { peerId, addr: ma }
}

/**
 * The peers this node talks to: the operator's configured peers plus the consortium members set
 * at runtime, each with the addresses to dial it at. Its `gater` denies every other peer, inbound
 * and outbound, once its identity is known (after the Noise handshake) or named in an address.
 * A peer can be quarantined for a while (it sent a block that did not hash to its CID).
 */
export class AllowList {
  readonly #self: string
  readonly #configured: Map<string, Multiaddr[]>
  #members = new Map<string, Multiaddr[]>()
  readonly #quarantined = new Map<string, number>()

  constructor(self: string, configured: readonly PeerAddr[]) {
    this.#self = self
    this.#configured = group(configured.filter(p => p.peerId !== self))
  }

  /** Whether `peerId` may connect to us or be dialled. */
  allows(peerId: string): boolean {
    const until = this.#quarantined.get(peerId)
    if (until !== undefined) {
      if (Date.now() < until) return false
      this.#quarantined.delete(peerId)
    }
    return this.#configured.has(peerId) || this.#members.has(peerId)
  }

  /** Replaces the members; returns the peers no longer allowed (to hang up on). */
  setMembers(members: readonly PeerAddr[]): string[] {
    const before = this.peers()
    this.#members = group(members.filter(p => p.peerId !== this.#self))
    return [...before.keys()].filter(id => !this.allows(id))
  }

  /** Denies `peerId` for `ms` (it stays a member: it is allowed and redialled afterwards). */
  quarantine(peerId: string, ms: number): void {
    this.#quarantined.set(peerId, Date.now() + ms)
  }

  /** Every allowed peer (quarantined ones included) with the addresses to dial it at. */
  peers(): Map<string, Multiaddr[]> {
    const all = new Map(this.#configured)
    for (const [id, addrs] of this.#members) all.set(id, [...(all.get(id) ?? []), ...addrs])
    return all
  }

  readonly gater: ConnectionGater = {
    denyDialPeer: (peerId: PeerId) => !this.allows(peerId.toString()),
    denyDialMultiaddr: (ma: Multiaddr) => {
      const peerId = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      return peerId !== undefined && !this.allows(peerId)
    },
    denyInboundEncryptedConnection: (peerId: PeerId) => !this.allows(peerId.toString()),
    denyOutboundEncryptedConnection: (peerId: PeerId) => !this.allows(peerId.toString()),
    denyInboundUpgradedConnection: (peerId: PeerId) => !this.allows(peerId.toString()),
    denyOutboundUpgradedConnection: (peerId: PeerId) => !this.allows(peerId.toString()),
    // No relays in a consortium.
    denyInboundRelayReservation: () => true,
    denyOutboundRelayedConnection: () => true,
    denyInboundRelayedConnection: () => true,
  }
}

function group(peers: readonly PeerAddr[]): Map<string, Multiaddr[]> {
  const byPeer = new Map<string, Multiaddr[]>()
  for (const { peerId, addr } of peers) {
    const addrs = byPeer.get(peerId) ?? []
    if (!addrs.some(a => a.equals(addr))) addrs.push(addr)
    byPeer.set(peerId, addrs)
  }
  return byPeer
}
