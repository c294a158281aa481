import type { Config } from './config.ts'
import type { Db } from './db/open-database.ts'
import type { Ipfs } from './storage/open-ipfs.ts'
import type { Ledger } from './ledger/connect-ledger.ts'
import type { Hex, LocalAccount, TransactionReceipt } from 'viem'
import type { Keystore } from './crypto/keystore.ts'
import type { BlockCache } from './storage/block-cache.ts'
import type { AnchorCache } from './ledger/anchor-cache.ts'
import type { DecisionCache } from './ledger/decision-cache.ts'
import type { SignedAccessEntry } from './ledger/consent/sign-access-entry.ts'
import type { SignedLeaf } from './ledger/anchor-batch.ts'

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
  /** Positive anchor checks (`assertAnchored`): a lone anchor's for good, a batched record's for one block. */
  readonly anchorCache: AnchorCache
  /** The chain's answers on grants, shares and emergency accesses, each for the block it was asked at (listings). */
  readonly decisionCache: DecisionCache
  /** Sessions' unlocked keys, queued sign-in attempts, decoy keystores: this node's own. */
  readonly signIn: SignInState
  /** Tells an account about something that concerns it (mail or outbox); absent in bare setups. */
  readonly notify?: (n: NotifyParams) => Promise<void>
  /**
   * The node's part in the consortium (ledger follower, replication, admission): present in the
   * Services the API is given, absent in those the consortium itself was started with.
   */
  readonly consortium?: ConsortiumPart
  /**
   * The node's group committer of read entries (consent/audit-log): reads logged in batches
   * from its member hospital's account; absent in bare setups (reads then log one by one).
   */
  readonly auditBatches?: AuditBatches
  /**
   * The node's group committers of record anchors (records/anchor-queue), one per hospital:
   * absent in bare setups (each upload is then anchored alone).
   */
  readonly anchorBatches?: AnchorBatches
  /**
   * The node's term worker (records/search/term-worker): the thread an upload's plaintext goes to
   * for its content terms while it is encrypted; absent in bare setups (terms are then extracted
   * on the calling thread).
   */
  readonly termWorker?: TermWorkerPart
}

// The upper parts of Services are typed by the small interfaces below, defined here at the
// bottom, so that no module low in the house imports a type from a folder above it:
// notify/, accounts/ and consortium/ implement them (and re-export them where they are used).

/** The other party of a notification: an account, or a hospital acting as itself. */
export type Party = { accountId: string } | { hospitalId: string }

/**
 * What each kind of notification may say besides the names: counts, a duration, an expiry.
 * There is no field for free text, so a purpose, a reason, a file name, a diagnosis, a key or
 * a token cannot be handed to a template.
 */
export type NotificationFacts =
  | { kind: 'record-added' | 'access-denied' | 'access-revoked' | 'doctor-confirmed' | 'doctor-rejected' }
  | { kind: 'mfa-reset' | 'mfa-disabled' }
  | { kind: 'erasure-requested' | 'erasure-confirmed' | 'erasure-rejected' }
  | { kind: 'researcher-confirmed' | 'researcher-rejected' | 'study-approved' | 'study-rejected' }
  | { kind: 'sign-up-attempted' }
  | { kind: 'access-requested'; recordCount: number | 'all'; durationSeconds: number }
  | { kind: 'access-approved'; recordCount: number | 'all'; expiresAt: Date }
  | { kind: 'emergency-access'; expiresAt: Date }
  | { kind: 'team-access-granted' | 'team-grant-confirmed'; recordCount: number | 'all'; expiresAt: Date }
  | { kind: 'team-access-revoked' }

/**
 * One notification: the recipient's account id, the other party and the kind's counts or
 * dates. Only ids, numbers and dates: names, roles and the address are read from the database,
 * so no text a flow holds (purpose, reason, file name) can reach a message.
 */
export type NotifyParams = NotificationFacts & {
  /** The recipient. */
  accountId: string
  /** Who acted: the author, the requester, the patient, the confirming admin or hospital. */
  by: Party
}

/** One message as the node sends it: plain text only. */
export interface MailMessage {
  to: string
  subject: string
  text: string
}

/** The node's SMTP transport, created once per node (notify/create-mailer) and passed in through `Services.mailer`. */
export interface Mailer {
  readonly from: string
  /** Where mail goes, without credentials (`smtp://host:port`): safe to log. */
  readonly target: string
  /**
   * Sends one message; resolves once the server accepted it.
   * @throws Error whose message names the failure and never holds the SMTP credentials.
   */
  send(message: MailMessage, opts?: { signal?: AbortSignal }): Promise<void>
  /** Closes the transport's connections. */
  close(): void
}

/** An account's private keys, unlocked for the length of a session. */
export interface UnlockedKeys {
  ledger: LocalAccount
  encryptionPrivateKey: Uint8Array
}

/**
 * What one node keeps in memory between sign-in requests (accounts/sign-in-state creates it).
 * Created once per node, never at module level, so two nodes in one process share none of it.
 */
export interface SignInState {
  /**
   * Keys unlocked per session, by token hash: unlocking costs an AEAD open and key
   * derivations, so it is done once per session and dropped at sign-out or expiry.
   */
  readonly unlocked: Map<string, { keys: UnlockedKeys | undefined; expiresAt: number }>
  /** The last queued attempt per lock-out key (`serializeSignIn`). */
  readonly queues: Map<string, Promise<unknown>>
  /**
   * Keystores sealed under this node's KDF settings, opened for an unknown e-mail so that
   * timing does not tell which e-mails have accounts: one for sign-in, one for recovery.
   */
  readonly decoys: { login?: Promise<Keystore>; recovery?: Promise<Keystore> }
}

/** An upload's content terms, extracted while its plaintext streams (records/search/term-worker implements it). */
export interface ContentTermStream {
  /** Takes one plaintext chunk (copied: the caller may reuse it). */
  push(chunk: Uint8Array): void
  /**
   * The plaintext is complete: its content terms, once extracted. Never rejects: a failure gives
   * none (logged with the record's id and the reason, never a term).
   */
  end(): Promise<ReadonlySet<string>>
  /** The upload failed: what was collected is dropped. */
  discard(): void
}

/** What records ask of the node's term worker. */
export interface TermWorkerPart {
  /** A new upload's extraction, on the worker's thread when it is up, else on the calling thread. */
  begin(p: { recordId: string; cap?: number }): ContentTermStream
  /**
   * A record's index entry, its tokens and sealed term list under the patient's search key `key`
   * (copied to the thread and zeroed there once used), made on the worker's thread. Resolves
   * undefined when the thread is not up or failed: the caller then makes them itself.
   */
  indexEntry?(p: { key: Uint8Array; recordId: string; terms: readonly string[] }): Promise<{ tokens: Buffer[]; sealed: string } | undefined>
}

/**
 * What the layers above ask of the node's part in the consortium; consortium/start-consortium's
 * `Consortium` is one (with exact types for its status and quarantined events).
 */
export interface ConsortiumPart {
  /** The consortium's fields of `GET /status`. */
  status(): Promise<object>
  /** Re-reads the member list now (after an admission or a vote, instead of waiting for the event). */
  refresh(): Promise<void>
  readonly follower: {
    /** The ledger events the follower could not apply, oldest first. */
    quarantined(limit?: number): Promise<object[]>
  }
}

/** What uploads ask of the node's anchor committers; records/anchor-queue's `createAnchorBatches` makes one. */
export interface AnchorBatches {
  /**
   * Queues a record signed by its author; settles when the transaction carrying it is mined, with
   * its block's time and, when it went in a batch, the root and the record's inclusion proof.
   */
  submit(hospitalId: string, item: { author: LocalAccount; leaf: SignedLeaf }): Promise<{ receipt: TransactionReceipt; anchoredAt: number; proof?: { root: Hex; proof: Hex[] } }>
  /** Settles once nothing is queued or in flight. */
  idle(): Promise<void>
}

/** What reads ask of the node's audit batches; consent/audit-log's `createAuditBatches` makes one. */
export interface AuditBatches {
  /** The member hospital account batches are sent from; undefined when the node has none yet. */
  sender(): Promise<LocalAccount | undefined>
  /**
   * A fresh entry id: the sending hospital's address, then a number this node gives once (taken
   * 256 at a time from `audit_id_blocks`).
   * @throws Error when the node has no member hospital to send batches from.
   */
  entryId(): Promise<Hex>
  /**
   * Queues an entry already durable in `audit_entries`; settles once its batch is mined or it is
   * refused. With the reader's key (held in memory until sent, never stored), an entry that goes
   * out alone is the reader's own `logAccess`.
   */
  submit(entry: SignedAccessEntry, reader?: LocalAccount): Promise<void>
  /** Settles once nothing is queued or in flight. */
  idle(): Promise<void>
  /**
   * Issues, synchronously, the statements of mined batches held to share the next entry's commit
   * (`Ride` in consent/audit-log): a read's entry row written right after joins their commit.
   * Settles once they are written (never rejects: each write's own waiter hears of a failure).
   */
  board(): Promise<void>
  /** Cancels the retries waiting for the chain; the held statements are written. */
  stop(): void
}
