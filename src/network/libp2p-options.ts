import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { MemoryDatastore } from 'datastore-core'
import type { CreateLibp2pOptions } from '@helia/libp2p'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'

export interface ConsortiumLibp2pOptionsParams {
  privateKey: PrivateKey
  /** Multiaddrs to listen on, e.g. '/ip4/0.0.0.0/tcp/4001'. */
  listen: readonly string[]
  connectionGater: ConnectionGater
}

/**
 * libp2p for a closed consortium, built from its pieces: TCP, Noise, Yamux, identify (bitswap
 * learns a peer's protocols from it) and ping (the connection monitor uses it to find dead
 * connections). No peer discovery, DHT, bootstrap list, relay, hole punching, AutoNAT or UPnP:
 * the only peers are the ones the gater allows and we dial.
 */
export function consortiumLibp2pOptions({ privateKey, listen, connectionGater }: ConsortiumLibp2pOptionsParams): CreateLibp2pOptions {
  return {
    privateKey,
    addresses: { listen: [...listen] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [],
    connectionGater,
    // The peer store need not outlive the process (peers and addresses come from the operator
    // and the chain), and kept in Helia's datastore every write would cost fsyncs.
    datastore: new MemoryDatastore(),
    services: {
      identify: identify(),
      ping: ping(),
    },
  }
}
