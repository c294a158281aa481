import { peerIdFromCID } from '@libp2p/peer-id'
import { AppError } from '../errors.ts'
import type { Blocks } from 'helia'
import type { CID } from 'multiformats/cid'

type GetOptions = NonNullable<Parameters<Blocks['get']>[1]>

export interface FetchingBlockstoreInit {
  /** A fetch of a block this node lacks fails after this long (default 30 s). */
  fetchTimeoutMs?: number
  /** Connected peers, for the error message. */
  peers?: () => string[]
  /** Called with the peer that sent bytes which do not hash to the CID asked for. */
  onBadBlock?: (peerId: string) => void
}

/**
 * Helia's block store, with `get` of a block this node lacks bounded in time and retried when
 * a peer answered with a block that does not hash to its CID.
 *
 * Helia alone: bitswap names each received block by hashing its bytes, so a tampered block never
 * answers the want for the real CID and the want stays open for other peers; but a peer can
 * forge an answer that bitswap matches (an identity-hash CID whose digest is the wanted digest),
 * and then Helia's own hash check fails the whole `get` instead of asking someone else; and a
 * block no peer has is waited for forever. Here the sender of a bad block is reported
 * (`onBadBlock`: quarantined and disconnected) and the fetch goes on until `fetchTimeoutMs`.
 * Helia writes a fetched block to the store only after its hash check, so no bad bytes are kept.
 */
export function fetchingBlockstore(inner: Blocks, init: FetchingBlockstoreInit = {}): Blocks {
  const timeoutMs = init.fetchTimeoutMs ?? 30_000

  async function * get(cid: CID, options: GetOptions = {}): AsyncGenerator<Uint8Array> {
    if (options.offline === true || await inner.has(cid, { signal: options.signal })) {
      yield * inner.get(cid, options)
      return
    }
    const deadline = AbortSignal.timeout(timeoutMs)
    const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline])
    for (;;) {
      let sender: string | undefined
      let bytes: Uint8Array[]
      try {
        bytes = []
        for await (const chunk of inner.get(cid, {
          ...options,
          signal,
          onProgress: (evt) => {
            if (evt.type === 'helia:block-broker:receive-block') sender = peerIdFromCID(evt.detail.provider).toString()
            options.onProgress?.(evt)
          },
        })) bytes.push(chunk)
      } catch (err) {
        if (options.signal?.aborted === true) throw options.signal.reason
        if (deadline.aborted) {
          const peers = init.peers?.() ?? []
          throw new AppError('RECORD_UNAVAILABLE', {
            details: `no peer sent block ${cid} within ${timeoutMs} ms (${peers.length} connected${peers.length > 0 ? `: ${peers.join(', ')}` : ''})`,
            cause: err,
          })
        }
        if (isHashMismatch(err) && sender !== undefined) {
          init.onBadBlock?.(sender)
          continue
        }
        throw err
      }
      yield * bytes
      return
    }
  }

  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'get') return get
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

function isHashMismatch(err: unknown): boolean {
  const errors = err instanceof AggregateError ? err.errors : [err]
  return errors.some(e => (e as Error | undefined)?.name === 'InvalidMultihashError')
}
