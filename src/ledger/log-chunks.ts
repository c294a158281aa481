import type { Address, Log, PublicClient } from 'viem'

/** Blocks per `eth_getLogs` call: under the usual RPC caps (Besu: 5,000 by default), enough to move fast. */
export const LOG_CHUNK_BLOCKS = 2_000

/**
 * The logs of `address` from block `from` to `to` (inclusive), one `eth_getLogs` call per window
 * of at most `chunk` blocks (default `LOG_CHUNK_BLOCKS`), yielded window by window in chain order.
 */
export async function * logChunks(client: Pick<PublicClient, 'getLogs'>, { address, from, to, chunk = LOG_CHUNK_BLOCKS }: { address: Address[]; from: number; to: number; chunk?: number }): AsyncGenerator<{ to: number; logs: Log[] }> {
  for (let start = Math.max(0, from); start <= to; start += chunk) {
    const end = Math.min(to, start + chunk - 1)
    yield { to: end, logs: await client.getLogs({ address, fromBlock: BigInt(start), toBlock: BigInt(end) }) }
  }
}
