import type { Db } from '../db/open-database.ts'

/** What a node's status counts: nothing personal, only numbers. */
export interface NodeItemCounts {
  /** Anchored records. */
  records: number
  /** Member hospitals. */
  hospitals: number
  /** Active accounts. */
  accounts: number
  /** Ledger events the follower set aside. */
  quarantinedEvents: number
}

/** Counts this node's anchored records, member hospitals, active accounts and quarantined ledger events. */
export async function countNodeItems(s: { db: Db }): Promise<NodeItemCounts> {
  const count = async (sql: string) => (await s.db.get(sql) as { n: number }).n
  return {
    records: await count(`SELECT COUNT(*) AS n FROM records WHERE state = 'anchored'`),
    hospitals: await count(`SELECT COUNT(*) AS n FROM hospitals WHERE state = 'active'`),
    accounts: await count(`SELECT COUNT(*) AS n FROM accounts WHERE state = 'active'`),
    quarantinedEvents: await count('SELECT COUNT(*) AS n FROM quarantined_events'),
  }
}
