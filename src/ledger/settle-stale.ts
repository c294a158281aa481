import type { Hex } from 'viem'
import type { Ledger } from './connect-ledger.ts'

/**
 * Journal rows still `sent` after `olderThanMs`: whose waiter is gone (a process that stopped
 * after journaling) or whose transaction the chain dropped. Each is settled from its receipt when
 * the chain has one, else broadcast again, so a later nonce of the same account is never held
 * behind a gap. Returns how many were settled and re-sent.
 */
export async function settleStaleJournal(ledger: Ledger, { olderThanMs }: { olderThanMs: number }): Promise<{ settled: number; resent: number }> {
  const rows = await ledger.db.all<{ id: number; tx_hash: Hex; raw: Hex }>(`SELECT id, tx_hash, raw FROM journal WHERE chain_id = ? AND state = 'sent' AND created_at < ? ORDER BY id`,
    ledger.chainId, Date.now() - olderThanMs)
  let settled = 0
  let resent = 0
  for (const row of rows) {
    const receipt = await ledger.client.getTransactionReceipt({ hash: row.tx_hash }).catch(() => undefined)
    if (receipt) {
      await ledger.db.run(`UPDATE journal SET state = ?, block_number = ? WHERE id = ? AND state = 'sent'`, receipt.status === 'success' ? 'mined' : 'reverted', Number(receipt.blockNumber), row.id)
      settled++
      continue
    }
    try {
      await ledger.client.sendRawTransaction({ serializedTransaction: row.raw })
      resent++
    } catch (err) {
      if (!/nonce too low|already known|already imported|known transaction/i.test(String((err as Error).message))) throw err
    }
  }
  return { settled, resent }
}
