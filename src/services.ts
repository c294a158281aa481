import type { Config } from './config.ts'
import type { Db } from './db/open-database.ts'
import type { Ipfs } from './storage/open-ipfs.ts'
import type { Ledger } from './ledger/connect-ledger.ts'
import type { NotifyParams } from './notify/notify.ts'
import type { Mailer } from './notify/create-mailer.ts'
import type { Consortium } from './consortium/start-consortium.ts'
import type { SignInState } from './accounts/sign-in-state.ts'
import type { BlockCache } from './storage/block-cache.ts'

/**
 * The parts of a running node that domain operations are given (never imported as singletons).
 * Built once by startNode and never changed afterwards; everything a node keeps in memory is
 * reached from here, so two nodes in one process share nothing.
 */
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
  /** Verified ciphertext blocks recently read or replicated (`cacheMb`): this node's own. */
  readonly blockCache: BlockCache
  /** Sessions' unlocked keys, queued sign-in attempts, decoy keystores: this node's own. */
  readonly signIn: SignInState
  /** Tells an account about something that concerns it (mail or outbox); absent in bare setups. */
  readonly notify?: (n: NotifyParams) => Promise<void>
  /**
   * The node's part in the consortium (ledger follower, replication, admission): present in the
   * Services the API is given, absent in those the consortium itself was started with.
   */
  readonly consortium?: Consortium
}
