import { toLedgerError } from './send-transaction.ts'
import type { Ledger } from './connect-ledger.ts'

/**
 * The chain's clock, in seconds: the timestamp of the latest block, read afresh every time (no
 * cache). Every time rule about consent — grant, share and emergency expiry, which grantees get a
 * new record's key, proposals — is decided on this clock, the one the contracts use, never on the
 * node's own clock: a node whose clock runs ahead must not expire a grant early, nor one that runs
 * behind keep honouring it. (Sessions, sign-in nonces and lock-outs are the node's own business
 * and stay on its clock.)
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function chainTime(ledger: Pick<Ledger, 'client'>, { signal }: { signal?: AbortSignal } = {}): Promise<number> {
  signal?.throwIfAborted()
  try {
    const block = await ledger.client.getBlock({ blockTag: 'latest' })
    return Number(block.timestamp)
  } catch (err) {
    throw toLedgerError(err)
  }
}
