import type { Config } from './config.ts'
import type { Db } from './db/open-database.ts'
import type { Ipfs } from './storage/open-ipfs.ts'
import type { Ledger } from './ledger/connect-ledger.ts'

/** The parts of a running node that domain operations are given (never imported as singletons). */
export interface Services {
  readonly config: Readonly<Config>
  readonly db: Db
  readonly ipfs: Ipfs
  readonly ledger: Ledger
  /** The node's own secret for keys it must use without a user (hospital keys). */
  readonly nodeKey: Uint8Array
  readonly log: (level: 'info' | 'warn' | 'error', msg: string) => void
}
