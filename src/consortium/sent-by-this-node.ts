import type { Db } from '../db/open-database.ts'

/** Whether this node sent the transaction itself (it is in the node's journal of sent transactions). */
export async function sentByThisNode(db: Db, txHash: string): Promise<boolean> {
  return (await db.get('SELECT 1 AS x FROM journal WHERE tx_hash = ?', txHash)) !== undefined
}
