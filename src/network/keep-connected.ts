import { peerIdFromString } from '@libp2p/peer-id'
import type { AllowList } from './allow-list.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

export interface KeepConnectedInit {
  /** First wait before redialling a peer that could not be reached or dropped (default 500 ms). */
  minBackoffMs?: number
  /** The wait doubles after each failed dial up to this (default 10 s). */
  maxBackoffMs?: number
  /** One dial attempt gives up after this (default 5 s). */
  dialTimeoutMs?: number
}

export interface KeepConnected {
  /** Dials allowed peers not yet tracked, forgets peers no longer allowed. */
  refresh(): void
  stop(): void
}

interface PeerState {
  delay: number
  timer?: ReturnType<typeof setTimeout>
  dialing: boolean
}

/**
 * Keeps a connection open to every peer of `allowList`: dials each at once, and whenever a dial
 * fails or the last connection to a peer closes, dials it again after a back-off that doubles
 * from `minBackoffMs` to `maxBackoffMs` (reset by a successful dial). A hospital node that
 * restarts is thus reconnected without operator action.
 */
export function keepConnected(libp2p: Libp2p, allowList: AllowList, init: KeepConnectedInit = {}): KeepConnected {
  const minBackoff = init.minBackoffMs ?? 500
  const maxBackoff = init.maxBackoffMs ?? 10_000
  const dialTimeout = init.dialTimeoutMs ?? 5_000
  const states = new Map<string, PeerState>()
  const stopping = new AbortController()

  const schedule = (id: string, state: PeerState): void => {
    if (stopping.signal.aborted || state.timer !== undefined) return
    state.timer = setTimeout(() => {
      state.timer = undefined
      void dial(id)
    }, state.delay)
    // The timer must not keep the process alive on its own.
    state.timer.unref()
    state.delay = Math.min(state.delay * 2, maxBackoff)
  }

  const dial = async (id: string): Promise<void> => {
    const state = states.get(id)
    if (state === undefined || state.dialing || stopping.signal.aborted) return
    const addrs = allowList.peers().get(id)
    if (addrs === undefined) {
      forget(id)
      return
    }
    const peerId = peerIdFromString(id)
    if (libp2p.getConnections(peerId).length > 0) {
      state.delay = minBackoff
      return
    }
    if (!allowList.allows(id)) {
      // Quarantined: try again later.
      schedule(id, state)
      return
    }
    state.dialing = true
    try {
      await libp2p.dial(addrs, { signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(dialTimeout)]) })
      state.delay = minBackoff
    } catch {
      schedule(id, state)
    } finally {
      state.dialing = false
    }
  }

  const forget = (id: string): void => {
    clearTimeout(states.get(id)?.timer)
    states.delete(id)
  }

  const onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    const state = states.get(id)
    if (state !== undefined) schedule(id, state)
  }
  libp2p.addEventListener('peer:disconnect', onDisconnect)

  const refresh = (): void => {
    const wanted = allowList.peers()
    for (const id of [...states.keys()]) if (!wanted.has(id)) forget(id)
    for (const id of wanted.keys()) {
      if (states.has(id)) continue
      states.set(id, { delay: minBackoff, dialing: false })
      void dial(id)
    }
  }

  refresh()
  return {
    refresh,
    stop: () => {
      stopping.abort()
      libp2p.removeEventListener('peer:disconnect', onDisconnect)
      for (const id of [...states.keys()]) forget(id)
    },
  }
}
