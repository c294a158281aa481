import type { Config } from './config.ts'
import type { Db } from './db/open-database.ts'
import type { Ipfs } from './storage/open-ipfs.ts'
import type { Ledger } from './ledger/connect-ledger.ts'
import type { NotifyParams } from './notify/notify.ts'
import type { Mailer } from './notify/create-mailer.ts'
import type { Consortium } from './consortium/start-consortium.ts'

/** The parts of a running node that domain operations are given (never imported as singletons). */
export interface Services {
  readonly config: Readonly<Config>
  readonly db: Db
  readonly ipfs: Ipfs
  readonly ledger: Ledger
  /** The node's own secret for keys it must use without a user (hospital keys). */
  readonly nodeKey: Uint8Array
  readonly log: (level: 'info' | 'warn' | 'error', msg: string) => void
  /** The SMTP transport, when `smtpUrl` is set; otherwise notifications stay in the outbox. */
  readonly mailer?: Mailer
  /** Tells an account about something that concerns it (mail or outbox); absent in bare setups. */
  notify?: (n: NotifyParams) => Promise<void>
  /** The node's part in the consortium (ledger follower, replication, admission); set once started. */
  consortium?: Consortium
}
