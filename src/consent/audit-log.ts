import { concat, pad, toHex, type Address, type Hex, type LocalAccount, type TransactionReceipt } from 'viem'
import { nodeHospital } from '../accounts/node-hospital.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { chainTime } from '../ledger/chain-time.ts'
import { GroupCommitter } from '../ledger/group-commit.ts'
import { isAccessLogged } from '../ledger/consent/is-access-logged.ts'
import { sendAccessLogBatch } from '../ledger/consent/send-access-log-batch.ts'
import { signAccessEntry, type SignedAccessEntry } from '../ledger/consent/sign-access-entry.ts'
import { readIsMember } from '../ledger/registry/read-is-member.ts'
import { isAppError, type AppError } from '../errors.ts'
import type { AuditBatches, Services } from '../services.ts'

type Parts = Pick<Services, 'db' | 'ledger' | 'nodeKey' | 'log'>

/** How long a batch that could not reach the chain waits before it is tried again. */
const RETRY_MS = 5_000
/** How long the row of a mined entry is kept. */
const KEEP_MINED_MS = 24 * 3600_000

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
  const committer = new GroupCommitter<SignedAccessEntry, void>({
    maxBatch,
    send: async (entries) => {
      const account = await sender()
      if (!account) throw new Error('this node has no member hospital to send audit batches from')
      await sendBatch(p, account, entries)
    },
  })
  const timers = new Set<NodeJS.Timeout>()
  // Entries queued, in flight or waiting to be tried again here: a sweep for old pending entries
  // (`replayAuditEntries`) does not hand them over twice.
  const held = new Set<string>()
  const attempt = (entry: SignedAccessEntry): Promise<void> => committer.submit(entry).then(() => { held.delete(entry.entryId) }, (err: unknown) => {
    p.log('warn', `audit: batch with entry ${entry.entryId} not sent (${isAppError(err) ? err.code : (err as Error).message}); trying again in ${RETRY_MS / 1000} s`)
    const timer = setTimeout(() => { timers.delete(timer); void attempt(entry) }, RETRY_MS)
    timer.unref()
    timers.add(timer)
  })
  const submit = async (entry: SignedAccessEntry): Promise<void> => {
    if (held.has(entry.entryId)) return
    held.add(entry.entryId)
    await attempt(entry)
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
    stop: () => { for (const t of timers) clearTimeout(t); timers.clear() },
  }
}

/**
 * Sends `entries` in one `logAccessBatch`; when the chain refuses it at estimation naming one
 * entry, that entry is settled (`refused`, or `mined` when it was logged already) and the others
 * go again without it.
 * @throws AppError LEDGER_UNAVAILABLE, or LEDGER_REVERTED naming no entry
 */
async function sendBatch(p: Parts, hospital: LocalAccount, entries: readonly SignedAccessEntry[]): Promise<void> {
  let left = [...entries]
  while (left.length > 0) {
    try {
      const receipt = await sendAccessLogBatch(p.ledger, { hospital, entries: left })
      await markMined(p, left.map((e) => e.entryId), receipt)
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

async function markMined(p: Parts, entryIds: Hex[], receipt?: TransactionReceipt): Promise<void> {
  const marks = entryIds.map(() => '?').join(', ')
  await p.db.run(`UPDATE audit_entries SET state = 'mined', tx_hash = ?, block_number = ? WHERE entry_id IN (${marks})`,
    receipt?.transactionHash ?? null, receipt ? Number(receipt.blockNumber) : null, ...entryIds)
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
 * Logs one read for the next batch: the reader signs the entry (`readAt` the chain's clock when
 * the read was decided), the entry is written to `audit_entries` as `pending` — committed, so durable, before
 * this returns and the read is served — and handed to the node's batches.
 * @throws AppError LEDGER_UNAVAILABLE (the chain's clock)
 */
export async function logReadBatched(s: Pick<Services, 'db' | 'ledger'> & { auditBatches: AuditBatches }, p: LogReadBatchedParams): Promise<void> {
  const readAt = p.readAt ?? BigInt(await chainTime(s.ledger, { signal: p.signal }))
  const entry = await signAccessEntry(s.ledger, {
    reader: p.reader,
    entry: { entryId: await s.auditBatches.entryId(), recordId: p.recordId.toLowerCase() as Hex, patient: p.patient.toLowerCase() as Address, purpose: p.purpose, ref: p.ref.toLowerCase() as Hex, readAt },
  })
  await s.db.run(`INSERT INTO audit_entries (entry_id, record_id, patient, reader, purpose, ref, read_at, signature, state, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
  entry.entryId, entry.recordId, entry.patient, entry.reader.toLowerCase(), entry.purpose, entry.ref, Number(readAt), entry.signature, Date.now())
  void s.auditBatches.submit(entry)
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
    if (await isAccessLogged(s.ledger, { entryId: r.entry_id })) {
      await markMined(s, [r.entry_id])
      mined++
    } else {
      resend.push({ entryId: r.entry_id, recordId: r.record_id, patient: r.patient, purpose: Number(r.purpose), ref: r.ref, readAt: BigInt(r.read_at), reader: r.reader, signature: r.signature })
    }
  }
  for (const e of resend) void s.auditBatches.submit(e)
  return { mined, resent: resend.length }
}
