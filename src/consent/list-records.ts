import { AppError, isAppError } from '../errors.ts'
import { findParty } from '../accounts/directory.ts'
import { hexToBytes, type Address, type Hex } from 'viem'
import { findAccount, requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { resolveAccess } from './resolve-access.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { openEnvelopes, openManifest, parseEnvelopes, type EnvelopesObject } from '../records/envelopes.ts'
import { anchorFacts, assertAnchored, type AnchorFacts } from '../records/assert-anchored.ts'
import { matchRecords } from '../records/search/match-records.ts'
import { listMeta, type ListMeta } from '../records/list-meta.ts'
import { openRecoveredKey, recoveredRecord } from '../records/recovery-envelopes.ts'
import { recordParties, toRecordView, type RecordRow, type RecordView } from '../records/record.ts'
import { isGrantLive } from '../ledger/consent/is-grant-live.ts'
import { isShareLive } from '../ledger/consent/is-share-live.ts'
import { toLedgerError } from '../ledger/send-transaction.ts'
import { findGrantEnvelope, parseGrantEnvelopes, unwrapGrantEnvelope, type GrantEnvelopes } from './grant-envelopes.ts'
import type { Services } from '../services.ts'

export interface ListRecordsParams {
  actor: Actor | undefined
  /** A patient's e-mail, id or address: that patient's records the actor may read. */
  patient?: string
  limit?: number
  offset?: number
  /** Keyword search: only the records whose indexed terms match every word (README "Search"). */
  q?: string
  signal?: AbortSignal
}

export interface ListRecordsResult {
  records: RecordView[]
  total: number
  limit: number
  offset: number
}

/**
 * Lists anchored records the actor may read, newest first, with their decrypted manifests:
 * a patient's own records, or a doctor's uploads (optionally for one patient).
 * @throws AppError FORBIDDEN (admin, staff), UNKNOWN_PATIENT, VALIDATION_FAILED
 */
export async function listRecords(s: Services, { limit = 100, offset = 0, ...params }: ListRecordsParams): Promise<ListRecordsResult> {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000 || !Number.isSafeInteger(offset) || offset < 0) {
    throw new AppError('VALIDATION_FAILED', { message: 'limit is 1 to 1000 and offset 0 or more.' })
  }
  const readable = await decideRecords(s, params)
  const opened = await mapConcurrently(readable.slice(offset, offset + limit), (r) => r.open())
  return { records: opened.filter((v): v is RecordView => v !== undefined), total: readable.length, limit, offset }
}

/** A record the reader may read, decided but not opened: `open()` unwraps its key and decrypts its manifest (undefined if it turns out unreadable). */
export interface DecidedRecord {
  row: RecordRow
  /** Its problem when deciding found it damaged (RECORD_INTEGRITY, RECORD_UNAVAILABLE…): listed, not readable. */
  problem?: string
  open(): Promise<RecordView | undefined>
}

/**
 * The records `listRecords` would list, in its order, each decided readable (or damaged: listed
 * with its problem) but not opened, so that a caller opens only the page it shows. The patient's
 * and the author's own records are decided without the chain's grants; a doctor's others under a
 * grant or named share whose key the grant's envelopes hold are decided with one chain question
 * per grant or share per chain block (`decisionCache`) and that envelopes block read once; any
 * other way to read (care team, break-glass, a key only in the record's own envelopes under a
 * listed grant) is decided and opened as a read decides it (`resolveAccess`).
 * @throws AppError FORBIDDEN (admin, staff), UNKNOWN_PATIENT
 */
export async function decideRecords(s: Services, { actor, patient, q, signal }: Omit<ListRecordsParams, 'limit' | 'offset'>): Promise<DecidedRecord[]> {
  const reader = requireRole(actor, 'doctor', 'patient')
  let candidates = await candidateRows(s, reader, patient)
  // A search narrows the candidates first; each match's access is still decided below.
  if (q !== undefined) candidates = await matchRecords(s, candidates, q)
  const parties = partiesOnce(s)
  const facts = anchorFactsOnce(s, candidates)
  const meta = metaOnce(s, reader)
  meta().prefetch(candidates)
  const listing = new Listing(s, reader, parties, facts, meta, signal)
  // Several at once, so that a patient's hundred records do not wait on one round trip after the other.
  const decided = await mapConcurrently(candidates, async (row): Promise<DecidedRecord | undefined> => {
    const d = ownRecord(reader, row) ? await decideOwn(s, reader, row, facts, meta(), signal) : await listing.decide(row)
    if (d === undefined) return undefined
    if (d instanceof Own) return { row, open: () => openOwn(s, reader, row, d, { parties, facts, meta: meta(), signal }) }
    if (d instanceof Opener) return { row, open: () => d.open().catch((err: unknown) => problemView(s, row, err)) }
    return { row, ...(d.problem === undefined ? {} : { problem: d.problem }), open: async () => d }
  })
  return decided.filter((d): d is DecidedRecord => d !== undefined)
}

/** The anchored rows the reader may be shown, newest first, before access is decided. */
async function candidateRows(s: Services, reader: Actor, patient: string | undefined): Promise<RecordRow[]> {
  const anchored = `SELECT * FROM records WHERE state = 'anchored'`
  if (reader.account.role === 'patient') {
    if (patient !== undefined && (await findAccount(s.db, patient))?.id !== reader.account.id) throw new AppError('UNKNOWN_PATIENT')
    return await s.db.all(`${anchored} AND patient_id = ? ORDER BY created_at DESC, record_id`, reader.account.id) as RecordRow[]
  }
  if (patient === undefined) return await s.db.all(`${anchored} AND author_id = ? ORDER BY created_at DESC, record_id`, reader.account.id) as RecordRow[]
  // A doctor not (or no longer) confirmed may look nobody up: one answer, known or not.
  const p = reader.account.status === 'active' ? await findParty(s, patient) : undefined
  if (!p || p.role !== 'patient') throw new AppError('UNKNOWN_PATIENT')
  // Beyond their own uploads, a doctor sees what a grant, share, break-glass or a care team's
  // grant opened to them; whether each is still live is the chain's answer, asked when deciding.
  const opened = await s.db.get(`SELECT 1 FROM access_requests WHERE requester_id = ? AND patient_id = ? AND status = 'approved'
    UNION ALL SELECT 1 FROM shares WHERE grantee_id = ? AND patient_id = ? AND revoked_at IS NULL
    UNION ALL SELECT 1 FROM emergencies WHERE doctor_id = ? AND patient_id = ? AND envelopes IS NOT NULL
    UNION ALL SELECT 1 FROM team_grants g JOIN team_members m ON m.team_id = g.team_id
      WHERE m.account_id = ? AND m.removed_at IS NULL AND g.patient_id = ? AND g.revoked_at IS NULL LIMIT 1`,
  reader.account.id, p.id, reader.account.id, p.id, reader.account.id, p.id, reader.account.id, p.id)
  if (!opened && p.hospital_id !== reader.account.hospitalId) throw new AppError('UNKNOWN_PATIENT')
  return opened
    ? await s.db.all(`${anchored} AND patient_id = ? ORDER BY created_at DESC, record_id`, p.id) as RecordRow[]
    : await s.db.all(`${anchored} AND patient_id = ? AND author_id = ? ORDER BY created_at DESC, record_id`, p.id, reader.account.id) as RecordRow[]
}

/**
 * A record of the reader's own (as its patient or its author), found readable but not yet opened:
 * its envelopes, and for a patient recovered since, where the new key's copy of its key is.
 */
class Own {
  /** `env` undefined: the reader holds a sealed copy of its manifest (`listMeta`); its envelopes are read only if that copy does not open. */
  constructor(readonly env: EnvelopesObject | undefined, readonly recovered?: NonNullable<Awaited<ReturnType<typeof recoveredRecord>>>) {}
}

const ownRecord = (reader: Actor, row: RecordRow) => reader.account.id === row.patient_id || reader.account.id === row.author_id

/** `fn` over `items` in order, LIST_CONCURRENCY at a time. */
async function mapConcurrently<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!)
  }
  await Promise.all(Array.from({ length: Math.min(LIST_CONCURRENCY, items.length) }, worker))
  return out
}

/**
 * Whether the patient or author may open their own record, as `resolveAccess` would decide it
 * (its anchor checked, its envelopes block read and parsed, an envelope addressed to the reader
 * in it), without unwrapping the key: its envelopes when readable, undefined when not, its problem when damaged.
 */
async function decideOwn(s: Services, reader: Actor, row: RecordRow, facts: Facts, meta: ListMeta, signal?: AbortSignal): Promise<RecordView | Own | undefined> {
  requireKeys(reader)
  try {
    // A sealed copy of the manifest was made from this very envelopes block (it is bound to its
    // anchored digest) once the reader's key opened it: only the anchor is checked again.
    if (await meta.has(row)) {
      await checkAnchored(s, row, facts)
      return new Own(undefined)
    }
    return await decideOwnEnvelopes(s, reader, row, await checkedEnvelopes(s, row, facts, signal))
  } catch (err) {
    return problemView(s, row, err)
  }
}

/** Whether the reader's key opens this envelopes block of their own record (`decideOwn`). */
async function decideOwnEnvelopes(s: Services, reader: Actor, row: RecordRow, env: EnvelopesObject): Promise<Own | undefined> {
  const { address, keyScheme } = reader.account
  if (env.keys.some((k) => k.to.toLowerCase() === address.toLowerCase() && k.scheme === keyScheme)) return new Own(env)
  // A record of a patient recovered since: the new key opens it from the recovery's block, as a read does (openRecordKeys).
  const recovered = reader.account.id === row.patient_id ? await recoveredRecord(s, row.record_id) : undefined
  return recovered && recovered.to.toLowerCase() === address.toLowerCase() ? new Own(env, recovered) : undefined
}

/**
 * Opens an own record on the page: the reader's sealed copy of its manifest when they have one,
 * else its key unwrapped and its manifest decrypted, as `resolveAccess` does (and a copy kept).
 */
async function openOwn(s: Services, reader: Actor, row: RecordRow, own: Own, { parties, facts, meta, signal }: { parties: Parties; facts: Facts; meta: ListMeta; signal?: AbortSignal }): Promise<RecordView | undefined> {
  const me = { address: reader.account.address, scheme: reader.account.keyScheme, privateKey: requireKeys(reader).encryptionPrivateKey }
  try {
    let manifest = await meta.get(row)
    if (manifest === undefined) {
      // No copy, or one that does not open: decided and opened through the envelopes as before.
      const decided = own.env ? own : await decideOwnEnvelopes(s, reader, row, await checkedEnvelopes(s, row, facts, signal))
      if (decided?.env === undefined) return undefined
      const { env, recovered } = decided
      manifest = recovered
        ? openManifest(env, await openRecoveredKey(s, recovered, row.record_id, { ...me, address: me.address as Address }))
        : (await openEnvelopes(env, me)).manifest
      await meta.put(row, manifest)
    }
    return toRecordView(row, await parties(row), manifest)
  } catch (err) {
    return problemView(s, row, err)
  }
}

/** A record decided readable whose key is at hand: `open` unwraps it and decrypts the manifest. */
class Opener {
  constructor(readonly open: () => Promise<RecordView>) {}
}

/** A live grant covers the record but the listing cannot tell how the reader gets its key: a read's decision is asked. */
const undecided = Symbol('undecided')

type GrantRow = { request_id: Hex; granted_record_ids: string | null; envelopes: string | null }
type ShareRow = { share_id: Hex; record_ids: string; envelopes: string }

/**
 * What deciding a doctor's records under grants and shares shares within one listing: the chain
 * block it is decided at (read once, fresh), the reader's grants and shares of each patient and
 * each grant's envelopes block (read and parsed once). Nothing of it outlives the listing but the
 * chain's live-or-not answers in `decisionCache`, for that block.
 */
class Listing {
  readonly #grants = new Map<string, Promise<GrantRow[]>>()
  readonly #shares = new Map<string, Promise<ShareRow[]>>()
  readonly #blocks = new Map<string, Promise<GrantEnvelopes>>()

  constructor(readonly s: Services, readonly reader: Actor, readonly parties: Parties, readonly facts: Facts, readonly meta: () => ListMeta, readonly signal?: AbortSignal) {}

  /** A record not the reader's own: readable under a grant or share with its key in that grant's envelopes, else as a read decides it. */
  async decide(row: RecordRow): Promise<Opener | RecordView | undefined> {
    const me = { kind: 'account' as const, address: this.reader.account.address, scheme: this.reader.account.keyScheme, privateKey: requireKeys(this.reader).encryptionPrivateKey }
    let found: Opener | typeof undecided | undefined
    try {
      found = await this.#underGrant(row, me)
      if (found === undefined) found = await this.#underShare(row, me)
    } catch (err) {
      return problemView(this.s, row, err)
    }
    return found instanceof Opener ? found : viewIfReadable(this.s, this.reader, row, this.signal)
  }

  /** As `resolveAccess` tries grants: newest first, the first covering and live one decides. */
  async #underGrant(row: RecordRow, me: GrantReaderOf): Promise<Opener | typeof undecided | undefined> {
    const grants = await memo(this.#grants, row.patient_id, () => this.s.db.all(`SELECT request_id, granted_record_ids, envelopes FROM access_requests
      WHERE requester_id = ? AND patient_id = ? AND status = 'approved' ORDER BY decided_at DESC`, this.reader.account.id, row.patient_id) as Promise<GrantRow[]>)
    for (const g of grants) {
      const scope = g.granted_record_ids === null ? null : (JSON.parse(g.granted_record_ids) as string[])
      if (scope !== null && !scope.includes(row.record_id)) continue
      if (!(await this.#live(`grant:${g.request_id}:${me.address}`, () => isGrantLive(this.s.ledger, { requestId: g.request_id, grantee: me.address })))) continue
      return g.envelopes ? this.#keyIn(row, me, g.envelopes, g.request_id) : undecided
    }
    return undefined
  }

  /** As `resolveAccess` tries named shares, once no grant decided. */
  async #underShare(row: RecordRow, me: GrantReaderOf): Promise<Opener | typeof undecided | undefined> {
    const shares = await memo(this.#shares, row.patient_id, () => this.s.db.all(`SELECT share_id, record_ids, envelopes FROM shares
      WHERE grantee_id = ? AND patient_id = ? AND revoked_at IS NULL ORDER BY created_at DESC`, this.reader.account.id, row.patient_id) as Promise<ShareRow[]>)
    for (const sh of shares) {
      if (!(JSON.parse(sh.record_ids) as string[]).includes(row.record_id)) continue
      if (!(await this.#live(`share:${sh.share_id}`, () => isShareLive(this.s.ledger, { shareId: sh.share_id })))) continue
      return this.#keyIn(row, me, sh.envelopes, sh.share_id)
    }
    return undefined
  }

  /** The record checked against its anchor and its key found in the grant's envelopes block: an Opener; undecided when the block has none for it. */
  async #keyIn(row: RecordRow, me: GrantReaderOf, digest: string, grantId: Hex): Promise<Opener | typeof undecided> {
    // With a sealed copy of the manifest (bound to the anchored envelopes block), only the anchor is checked.
    const kept = await this.meta().has(row)
    const env = kept ? checkAnchored(this.s, row, this.facts).then(() => undefined) : checkedEnvelopes(this.s, row, this.facts, this.signal)
    env.catch(() => undefined) // awaited below
    const block = memo(this.#blocks, digest, async () => parseGrantEnvelopes(await getRawBlockVerified(this.s.ipfs.blockstore, cidFromDigest(hexToBytes(digest as Hex), 'raw'), { signal: this.signal, cache: this.s.blockCache }), grantId))
    block.catch(() => undefined) // awaited below, once the record's own checks passed
    const checked = await env
    let wrapped: Uint8Array
    try {
      wrapped = findGrantEnvelope(await block, { recordId: row.record_id, reader: me })
    } catch (err) {
      if (isAppError(err, 'RECORD_NOT_FOUND')) return undecided
      throw err
    }
    return new Opener(async () => {
      // The reader's sealed copy of the manifest when they have one; else the key unwrapped, and a copy kept.
      let manifest = await this.meta().get(row)
      if (manifest === undefined) {
        const envelopes = checked ?? await checkedEnvelopes(this.s, row, this.facts, this.signal)
        manifest = openManifest(envelopes, await unwrapGrantEnvelope(wrapped, { grantId, recordId: row.record_id, reader: me }))
        await this.meta().put(row, manifest)
      }
      return toRecordView(row, await this.parties(row), manifest)
    })
  }

  /** The chain's answer at this listing's block, asked once per block across listings. */
  async #live(key: string, ask: () => Promise<boolean>): Promise<boolean> {
    return this.s.decisionCache.live(key, await this.facts.head(), ask)
  }
}

type GrantReaderOf = { kind: 'account'; address: Hex; scheme: Actor['account']['keyScheme']; privateKey: Uint8Array }

/** A record's parties for display (`recordParties`). */
type Parties = (row: RecordRow) => ReturnType<typeof recordParties>

/** `recordParties`, read once per patient and author within one listing (a patient's records share them). */
function partiesOnce(s: Services): Parties {
  const read = new Map<string, ReturnType<typeof recordParties>>()
  return (row) => memo(read, `${row.patient_id}\n${row.author_id}`, () => recordParties(s.db, row))
}

/** The reader's sealed manifest copies for one listing (`listMeta`), made when first needed. */
function metaOnce(s: Services, reader: Actor): () => ListMeta {
  let meta: ListMeta | undefined
  return () => meta ??= listMeta(s, { accountId: reader.account.id, privateKey: requireKeys(reader).encryptionPrivateKey })
}

/** A record's anchor facts (`assertAnchored`). */
type Facts = ((row: RecordRow) => Promise<AnchorFacts>) & {
  /** The chain's current block, read afresh once per listing: every record's batch anchor and every grant is decided at it. */
  head: () => Promise<bigint>
}

/**
 * Anchor facts for a listing's rows: the batch proofs of all of them read at once (in chunks),
 * the parties' addresses once per patient, author and hospital.
 */
function anchorFactsOnce(s: Services, rows: readonly RecordRow[]): Facts {
  let proofs: Promise<Map<string, NonNullable<AnchorFacts['batched']>>> | undefined
  let head: Promise<bigint> | undefined
  const parties = new Map<string, Promise<AnchorFacts['parties']>>()
  const facts = async (row: RecordRow) => {
    proofs ??= readProofs(s, rows.map((r) => r.record_id))
    const who = await memo(parties, `${row.patient_id}\n${row.author_id}\n${row.hospital_id}`, async () => (await anchorFacts(s, row)).parties)
    return { parties: who, batched: (await proofs).get(row.record_id) }
  }
  return Object.assign(facts, { head: () => head ??= s.ledger.client.getBlockNumber({ cacheTime: 0 }).catch((err: unknown) => { throw toLedgerError(err) }) })
}

/** The record checked against its anchor (`assertAnchored`) with the listing's facts, at the listing's block. */
async function checkAnchored(s: Services, row: RecordRow, facts: Facts): Promise<void> {
  await assertAnchored(s, row, { known: await facts(row), head: facts.head })
}

async function readProofs(s: Services, ids: readonly string[]): Promise<Map<string, NonNullable<AnchorFacts['batched']>>> {
  const out = new Map<string, NonNullable<AnchorFacts['batched']>>()
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500)
    const rows = await s.db.all(`SELECT record_id, root, proof, signature FROM record_proofs WHERE record_id IN (${chunk.map(() => '?').join(', ')})`, ...chunk) as
      { record_id: string; root: Hex; proof: string; signature: Hex }[]
    for (const { record_id, ...proof } of rows) out.set(record_id, proof)
  }
  return out
}

function memo<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key)
  if (p === undefined) map.set(key, p = make())
  return p
}

/** A record's envelopes block, read by its digest and parsed, once the record is checked against its anchor. */
async function checkedEnvelopes(s: Services, row: RecordRow, facts: Facts, signal?: AbortSignal): Promise<EnvelopesObject> {
  // From the node's cache of verified blocks when there: a listing reads every record's envelopes.
  const block = getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.envelopes as Hex), 'raw'), { signal, cache: s.blockCache })
  block.catch(() => undefined) // awaited below, once the anchor is checked
  await checkAnchored(s, row, facts)
  return parseEnvelopes(await block, row.record_id)
}

/** Records whose access is decided at once while listing. */
const LIST_CONCURRENCY = 16

/** The record as its reader sees it in a list; undefined when not readable; with its problem when damaged. */
async function viewIfReadable(s: Services, reader: Actor, row: RecordRow, signal?: AbortSignal): Promise<RecordView | undefined> {
  try {
    const { manifest } = await resolveAccess(s, { actor: reader, recordId: row.record_id, signal })
    return toRecordView(row, await recordParties(s.db, row), manifest)
  } catch (err) {
    return problemView(s, row, err)
  }
}

/** Undefined for a record not readable; one damaged must not hide the others: it is listed with its problem. */
async function problemView(s: Services, row: RecordRow, err: unknown): Promise<RecordView | undefined> {
  if (isAppError(err, 'RECORD_NOT_FOUND')) return undefined
  // A break-glass read waiting for k hospitals' shares is listed too, with that as its problem; so
  // is a recovered patient's split record waiting for k hospitals' releases.
  if (!isAppError(err, 'RECORD_INTEGRITY', 'RECORD_UNAVAILABLE', 'EMERGENCY_SHARES_PENDING', 'RECOVERY_SHARES_PENDING')) throw err
  const unknown = { fileName: '', mediaType: '', size: 0, sha256: '', created: '' }
  return { ...toRecordView(row, await recordParties(s.db, row), unknown), problem: err.code }
}
