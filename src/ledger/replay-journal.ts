import type { Hex } from 'viem'
import type { Ledger } from './connect-ledger.ts'

export interface ReplayJournalResult {
  /** Journaled transactions the chain no longer (or never) had, sent again. */
  rebroadcast: number
  /** Rows whose outcome was learnt now (mined or reverted). */
  settled: number
  /**
   * The lowest block a re-broadcast transaction was mined in (undefined when none was): the chain
   * may have packed them into fewer blocks than before, so their events can sit at or below the
   * block the node's follower had reached on the chain it lost.
   */
  firstBlock?: number
}

interface JournalRow { id: number; sender: string; nonce: number; tx_hash: Hex; raw: Hex; state: string }

/**
 * Makes the chain hold every transaction the journal holds: for each sender, every journaled
 * transaction at or above the chain's nonce for it is re-broadcast, in journal order (which is
 * nonce order per sender and the order in which the node relied on them across senders), then
 * every unsettled row gets its receipt.
 * Covers an embedded chain that lost its tail (state written periodically) and transactions a
 * real chain dropped.
 */
export async function replayJournal(ledger: Ledger, { log }: { log?: (msg: string) => void } = {}): Promise<ReplayJournalResult> {
  const { db, client, chainId } = ledger
  const senders = await db.all('SELECT DISTINCT sender FROM journal WHERE chain_id = ?', chainId) as { sender: Hex }[]
  const chainNonce = new Map<string, number>()
  for (const { sender } of senders) {
    chainNonce.set(sender, await client.getTransactionCount({ address: sender, blockTag: 'latest' }))
  }
  const rows = await db.all('SELECT id, sender, nonce, tx_hash, raw, state FROM journal WHERE chain_id = ? ORDER BY id', chainId) as JournalRow[]
  const missing = rows.filter((r) => r.nonce >= (chainNonce.get(r.sender) ?? 0))
  for (const row of missing) {
    try {
      await client.sendRawTransaction({ serializedTransaction: row.raw })
    } catch (err) {
      // "nonce too low" / "already known": it is on chain or in the pool after all.
      if (!/nonce too low|already known|already imported/i.test(String((err as Error).message))) throw err
    }
  }
  if (missing.length > 0) log?.(`journal: re-broadcast ${missing.length} transaction(s) the chain did not have`)

  let settled = 0
  let firstBlock: number | undefined
  const resent = new Set(missing.map((r) => r.id))
  const unsettled = new Set([...missing.map((r) => r.id), ...rows.filter((r) => r.state === 'sent').map((r) => r.id)])
  for (const row of rows.filter((r) => unsettled.has(r.id))) {
    const receipt = await client.waitForTransactionReceipt({ hash: row.tx_hash, timeout: 60_000, pollingInterval: 50 })
    const state = receipt.status === 'success' ? 'mined' : 'reverted'
    await db.run('UPDATE journal SET state = ?, block_number = ? WHERE id = ?', state, Number(receipt.blockNumber), row.id)
    if (resent.has(row.id)) firstBlock = Math.min(firstBlock ?? Infinity, Number(receipt.blockNumber))
    settled++
  }
  return { rebroadcast: missing.length, settled, firstBlock }
}

/** Number of journaled transactions still waiting for a receipt. */
export async function journalBacklog(ledger: Pick<Ledger, 'db' | 'chainId'>): Promise<number> {
  const row = await ledger.db.get("SELECT COUNT(*) AS n FROM journal WHERE chain_id = ? AND state = 'sent'", ledger.chainId) as { n: number }
  return row.n
}
