import { concat, pad, toHex, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { nodeHospital } from '../accounts/node-hospital.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { chainTime } from '../ledger/chain-time.ts'
import { GroupCommitter } from '../ledger/group-commit.ts'
import { isAccessLogged } from '../ledger/consent/is-access-logged.ts'
import { sendAccessLogBatch } from '../ledger/consent/send-access-log-batch.ts'
import { sendAccessLog } from '../ledger/consent/send-access-log.ts'
import { waitForJournaled, type Statement } from '../ledger/send-transaction.ts'
import { signAccessEntry, type SignedAccessEntry } from '../ledger/consent/sign-access-entry.ts'
import { readIsMember } from '../ledger/registry/read-is-member.ts'
import { isAppError, type AppError } from '../errors.ts'
import type { Db } from '../db/db.ts'
import type { AuditBatches, Services } from '../services.ts'

type Parts = Pick<Services, 'db' | 'ledger' | 'nodeKey' | 'log'>

/**
 * An entry on its way: with its reader's key while the read's request holds it unlocked, so that
 * an entry that goes out alone is the reader's own `logAccess`. The key stays in memory only until
 * the entry is sent, and is never written anywhere.
 */
interface Item { entry: SignedAccessEntry; reader?: LocalAccount }

/** How long a batch that could not reach the chain waits before it is tried again. */
const RETRY_MS = 5_000
/** How long the row of a mined entry is kept. */
const KEEP_MINED_MS = 24 * 3600_000
/** How long a mined transaction's marks wait for the next read's entry to share its commit. */
const RIDE_MS = 50

/**
 * Statements that record what the chain already holds — a mined transaction's journal state and
 * its entries marked `mined` — held until the next read's entry row is written, so that both go in
 * one commit (on SQLite, statements issued together share one group commit: one fsync, not two),
 * or written alone after `ms` when no read comes. Until written, the rows say `sent` and
 * `pending`, which a restart settles from the chain (the journal's replay, `replayAuditEntries`).
 */
export interface Ride {
  /** Holds `statements` for the next entry; settles once they are committed. */
  write(statements: Statement[]): Promise<void>
  /**
   * Issues every held statement now (synchronously): a statement issued right after joins their
   * commit. Settles once they are written; never rejects (their `write` does).
   */
  board(): Promise<void>
}

/** A ride on `db` that waits at most `ms` for company. */
export function createRide(db: Pick<Db, 'run'>, ms: number): Ride {
  let held: { statements: Statement[]; resolve: () => void; reject: (err: unknown) => void }[] = []
  let timer: NodeJS.Timeout | undefined
  const board = () => {
    clearTimeout(timer)
    timer = undefined
    const now = held
    held = []
    return Promise.all(now.map((h) => writeTogether(db, h.statements).then(h.resolve, h.reject))).then(() => undefined)
  }
  return {
    board,
    write: (statements) => new Promise<void>((resolve, reject) => {
      held.push({ statements, resolve, reject })
      timer ??= setTimeout(() => void board(), ms)
    }),
  }
}

/** Issues `statements` at once (on SQLite they share one group commit) and settles when all are written. */
async function writeTogether(db: Pick<Db, 'run'>, statements: Statement[]): Promise<void> {
  await Promise.all(statements.map((st) => db.run(st.sql, ...st.params)))
}

/**
 * The node's group committer of read entries (`Consent.logAccessBatch`), sent from its member
 * hospital's own account: one transaction in flight, the entries that arrive meanwhile in the
 * next one (at most `maxBatch`). Each entry is already durable in `audit_entries`; its row turns
 * `mined` with its batch, or `refused` when the chain names it as the reason a batch failed (the
 * rest of that batch is sent again without it). A batch that cannot reach the chain is tried
 * again after a pause; the rows stay `pending` meanwhile, and a restart replays them.
 */
export function createAuditBatches(p: Parts, { maxBatch = 100 }: { maxBatch?: number } = {}): AuditBatches {
  let hospital: LocalAccount | undefined
  const sender = async (): Promise<LocalAccount | undefined> => {
    if (hospital) return hospital
    const row = await nodeHospital(p)
    if (!row || row.state !== 'active') return undefined
    const { keys } = await unlockHospital(p, row.id)
    // Once a member, kept: a removed hospital's batches are refused by the chain, never lost.
    if (await readIsMember(p.ledger, { hospital: keys.ledger.address })) hospital = keys.ledger
    return hospital
  }
  // Entries whose lone `logAccess` was tried here: a later batch first looks for it in the journal.
  const tried = new Set<string>()
  const ride = createRide(p.db, RIDE_MS)
  const committer = new GroupCommitter<Item, void>({
    maxBatch,
    send: (items) => sendItems(p, { items, tried, sender, ride }),
  })
  const timers = new Set<NodeJS.Timeout>()
  // Entries queued, in flight or waiting to be tried again here: a sweep for old pending entries
  // (`replayAuditEntries`) does not hand them over twice.
  const held = new Set<string>()
  const attempt = (item: Item): Promise<void> => committer.submit(item).then(() => { held.delete(item.entry.entryId); tried.delete(item.entry.entryId) }, (err: unknown) => {
    p.log('warn', `audit: batch with entry ${item.entry.entryId} not sent (${isAppError(err) ? err.code : (err as Error).message}); trying again in ${RETRY_MS / 1000} s`)
    const timer = setTimeout(() => { timers.delete(timer); void attempt(item) }, RETRY_MS)
    timer.unref()
    timers.add(timer)
  })
  const submit = async (entry: SignedAccessEntry, reader?: LocalAccount): Promise<void> => {
    if (held.has(entry.entryId)) return
    held.add(entry.entryId)
    await attempt({ entry, reader })
  }
  // Ids 256 at a time (one word of the contract's bitmap), handed out in turn.
  let block: { next: number; end: number } | undefined
  let refill: Promise<void> | undefined
  const entryId = async (): Promise<Hex> => {
    const account = await sender()
    if (!account) throw new Error('this node has no member hospital to send audit batches from')
    while (!block || block.next >= block.end) {
      refill ??= p.db.get<{ id: number }>('INSERT INTO audit_id_blocks (created_at) VALUES (?) RETURNING id', Date.now())
        .then((row) => { block = { next: Number(row!.id) * 256, end: Number(row!.id) * 256 + 256 } })
        .finally(() => { refill = undefined })
      await refill
    }
    return concat([account.address.toLowerCase() as Hex, pad(toHex(block.next++), { size: 12 })])
  }
  return {
    sender,
    entryId,
    submit,
    idle: () => committer.idle(),
    board: () => ride.board(),
    stop: () => { for (const t of timers) clearTimeout(t); timers.clear(); void ride.board() },
  }
}

/**
 * Sends one transaction's worth of entries. An entry alone whose reader's key is at hand goes out
 * as the reader's own `logAccess` (journaled as `audit-entry`, the entry id its ref); when the
 * chain refuses that at estimation (a grant revoked since the read was decided), it goes as a
 * batch of one, which checks the access at `readAt`. Otherwise one `logAccessBatch` from the
 * member hospital's account. An entry whose `logAccess` was journaled before is settled from its
 * journal row instead of being sent twice.
 */
async function sendItems(p: Parts, { items, tried, sender, ride }: { items: readonly Item[]; tried: Set<string>; sender: () => Promise<LocalAccount | undefined>; ride: Ride }): Promise<void> {
  const left: SignedAccessEntry[] = []
  for (const { entry } of items) if (!(tried.has(entry.entryId) && await settleLone(p, entry.entryId, ride))) left.push(entry)
  if (left.length === 0) return
  const lone = items.length === 1 ? items[0]!.reader : undefined
  if (lone && !tried.has(left[0]!.entryId)) {
    const e = left[0]!
    tried.add(e.entryId)
    try {
      // Its journal row's state and the entry's mark ride with the next read's entry.
      await sendAccessLog(p.ledger, { reader: lone, entryId: e.entryId, recordId: e.recordId, patient: e.patient, purpose: e.purpose, ref: e.ref, settle: (journal, receipt) => ride.write([journal, minedMark([e.entryId], receipt)]) })
      return
    } catch (err) {
      if (!isAppError(err, 'LEDGER_REVERTED')) throw err // tried again later: from its journal row if it was sent
      if (await settleLone(p, e.entryId, ride)) return
    }
  }
  const account = await sender()
  if (!account) throw new Error('this node has no member hospital to send audit batches from')
  await sendBatch(p, account, left, ride)
}

/**
 * An entry sent alone through `logAccess`, from its journal row: `true` once that transaction is
 * mined (the row turns `mined` with its hash and block), `false` when it never was journaled or
 * reverted (the entry must go in a batch).
 * @throws AppError LEDGER_UNAVAILABLE while it waits for the receipt
 */
async function settleLone(p: Parts, entryId: Hex, ride?: Ride): Promise<boolean> {
  const row = await p.db.get<{ id: number; tx_hash: Hex; state: string; block_number: number | null }>(
    `SELECT id, tx_hash, state, block_number FROM journal WHERE chain_id = ? AND purpose = 'audit-entry' AND ref = ? ORDER BY id DESC`, p.ledger.chainId, entryId)
  if (!row || row.state === 'reverted') return false
  if (row.state === 'mined') {
    await markMined(p, [entryId], { transactionHash: row.tx_hash, blockNumber: BigInt(row.block_number ?? 0) })
    return true
  }
  try {
    const settle = (journal: Statement, receipt: TransactionReceipt) => {
      const statements = [journal, minedMark([entryId], receipt)]
      return ride ? ride.write(statements) : writeTogether(p.db, statements)
    }
    await waitForJournaled(p.ledger, { hash: row.tx_hash, id: row.id, settle })
    return true
  } catch (err) {
    if (isAppError(err, 'LEDGER_REVERTED')) return false
    throw err
  }
}

/**
 * Sends `entries` in one `logAccessBatch`; when the chain refuses it at estimation naming one
 * entry, that entry is settled (`refused`, or `mined` when it was logged already) and the others
 * go again without it.
 * @throws AppError LEDGER_UNAVAILABLE, or LEDGER_REVERTED naming no entry
 */
async function sendBatch(p: Parts, hospital: LocalAccount, entries: readonly SignedAccessEntry[], ride: Ride): Promise<void> {
  let left = [...entries]
  while (left.length > 0) {
    try {
      const ids = left.map((e) => e.entryId)
      await sendAccessLogBatch(p.ledger, { hospital, entries: left, settle: (journal, receipt) => ride.write([journal, minedMark(ids, receipt)]) })
      return
    } catch (err) {
      const offender = isAppError(err, 'LEDGER_REVERTED') ? offenderOf(err, left) : undefined
      if (!offender) throw err
      const name = (err as AppError & { revert: { errorName: string } }).revert.errorName
      if (name === 'ConsentEntryLogged') {
        await markMined(p, [offender.entryId])
      } else {
        await p.db.run(`UPDATE audit_entries SET state = 'refused', reason = ? WHERE entry_id = ?`, name, offender.entryId)
        p.log('warn', `audit: entry ${offender.entryId} refused by the chain (${name})`)
      }
      left = left.filter((e) => e !== offender)
    }
  }
}

async function markMined(p: Parts, entryIds: Hex[], receipt?: Pick<TransactionReceipt, 'transactionHash' | 'blockNumber'>): Promise<void> {
  await writeTogether(p.db, [minedMark(entryIds, receipt)])
}

/** The statement that marks `entryIds` mined (by `receipt`'s transaction when known). */
function minedMark(entryIds: Hex[], receipt?: Pick<TransactionReceipt, 'transactionHash' | 'blockNumber'>): Statement {
  const marks = entryIds.map(() => '?').join(', ')
  return {
    sql: `UPDATE audit_entries SET state = 'mined', tx_hash = ?, block_number = ? WHERE entry_id IN (${marks})`,
    params: [receipt?.transactionHash ?? null, receipt ? Number(receipt.blockNumber) : null, ...entryIds],
  }
}

/** The entry a decoded `logAccessBatch` revert names, if any. */
function offenderOf(err: AppError, entries: readonly SignedAccessEntry[]): SignedAccessEntry | undefined {
  const revert = (err as AppError & { revert?: { errorName: string; args: readonly unknown[] } }).revert
  if (!revert) return undefined
  const [a0, a1, a2, a3] = revert.args
  const same = (x: unknown, y: unknown) => String(x).toLowerCase() === String(y).toLowerCase()
  switch (revert.errorName) {
    case 'ConsentBadSignature':
    case 'ConsentEntryLogged':
    case 'ConsentStaleEntry':
      return entries.find((e) => same(e.entryId, a0))
    case 'ConsentNoAccessPath':
      return entries.find((e) => same(e.reader, a0) && same(e.patient, a1) && e.purpose === Number(a2) && same(e.ref, a3))
    case 'ConsentInvalidPurpose':
      return entries.find((e) => e.purpose === Number(a0))
    case 'ConsentZeroId':
      return entries.find((e) => /^0x0+$/.test(e.entryId) || /^0x0+$/.test(e.recordId))
    default:
      return undefined
  }
}

export interface LogReadBatchedParams {
  /** The reader, who signs the entry with its own key. */
  reader: LocalAccount
  recordId: Hex
  patient: Address
  purpose: number
  ref: Hex
  /** When the read was decided, on the chain's clock (seconds); the chain's clock now by default. */
  readAt?: bigint
  signal?: AbortSignal
}

/**
 * One read's entry, signed by its reader (`readAt` the chain's clock when the read was decided)
 * under an id of the node's batches, not yet written anywhere: a read signs it while its blocks
 * are checked and decrypted, and writes it (`logReadBatched`) only once they were.
 * @throws AppError LEDGER_UNAVAILABLE (the chain's clock)
 */
export async function signReadEntry(s: Pick<Services, 'ledger'> & { auditBatches: AuditBatches }, p: LogReadBatchedParams): Promise<SignedAccessEntry> {
  const readAt = p.readAt ?? BigInt(await chainTime(s.ledger, { signal: p.signal }))
  return signAccessEntry(s.ledger, {
    reader: p.reader,
    entry: { entryId: await s.auditBatches.entryId(), recordId: p.recordId.toLowerCase() as Hex, patient: p.patient.toLowerCase() as Address, purpose: p.purpose, ref: p.ref.toLowerCase() as Hex, readAt },
  })
}

/**
 * Logs one read for the next batch: its entry (`signed`, or signed now: `signReadEntry`) is
 * written to `audit_entries` as `pending` — committed, so durable, before this returns and the
 * read is served — and handed to the node's batches.
 * @throws AppError LEDGER_UNAVAILABLE (the chain's clock)
 */
export async function logReadBatched(s: Pick<Services, 'db' | 'ledger'> & { auditBatches: AuditBatches }, p: LogReadBatchedParams & { signed?: Promise<SignedAccessEntry> }): Promise<void> {
  const entry = await (p.signed ?? signReadEntry(s, p))
  // The marks of a batch mined meanwhile go in the same commit as this row (see `Ride`).
  void s.auditBatches.board()
  await s.db.run(`INSERT INTO audit_entries (entry_id, record_id, patient, reader, purpose, ref, read_at, signature, state, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
  entry.entryId, entry.recordId, entry.patient, entry.reader.toLowerCase(), entry.purpose, entry.ref, Number(entry.readAt), entry.signature, Date.now())
  void s.auditBatches.submit(entry, p.reader)
}

interface EntryRow { entry_id: Hex; record_id: Hex; patient: Address; reader: Address; purpose: number; ref: Hex; read_at: number; signature: Hex }

/**
 * At start, after the transaction journal's replay: every entry still `pending` is either on
 * chain already (its batch was mined, or re-sent from the journal, before the node learnt it) and
 * marked `mined`, or handed to the batches again, oldest first. The node also runs it every 15 s
 * for entries pending longer than `olderThanMs`: those an API process on its home left behind.
 * Rows of entries mined over a day ago are deleted.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function replayAuditEntries(s: Parts & { auditBatches: AuditBatches }, { olderThanMs = 0 }: { olderThanMs?: number } = {}): Promise<{ mined: number; resent: number }> {
  const rows = await s.db.all<EntryRow>(`SELECT entry_id, record_id, patient, reader, purpose, ref, read_at, signature FROM audit_entries
    WHERE state = 'pending' AND created_at <= ? ORDER BY created_at, entry_id`, Date.now() - olderThanMs)
  // A mined entry's row is kept a day (the trail reads mined reads from the chain), then let go.
  await s.db.run(`DELETE FROM audit_entries WHERE state = 'mined' AND created_at < ?`, Date.now() - KEEP_MINED_MS)
  let mined = 0
  const resend: SignedAccessEntry[] = []
  for (const r of rows) {
    // Sent alone (`logAccess`, journaled as `audit-entry`): mined when its transaction is; else in the contract's bitmap when a batch logged it.
    if (await settleLone(s, r.entry_id)) {
      mined++
    } else if (await isAccessLogged(s.ledger, { entryId: r.entry_id })) {
      await markMined(s, [r.entry_id])
      mined++
    } else {
      resend.push({ entryId: r.entry_id, recordId: r.record_id, patient: r.patient, purpose: Number(r.purpose), ref: r.ref, readAt: BigInt(r.read_at), reader: r.reader, signature: r.signature })
    }
  }
  // No reader key here: these go in batches from the hospital's account.
  for (const e of resend) void s.auditBatches.submit(e)
  return { mined, resent: resend.length }
}
