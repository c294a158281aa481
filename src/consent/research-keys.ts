import { hexToBytes, type Address } from 'viem'
import { unwrapKey, wrapKey, type KeyScheme } from '../crypto/key-wrap.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { assertAnchored } from '../records/assert-anchored.ts'
import { openManifest, parseEnvelopes, type Manifest } from '../records/envelopes.ts'
import { openRecordKeys } from '../records/open-record-keys.ts'
import type { RecordRow } from '../records/record.ts'
import type { HospitalRow } from '../accounts/hospital.ts'
import { isAppError } from '../errors.ts'
import { oneAtATime } from '../db/one-at-a-time.ts'
import type { Actor } from '../accounts/account.ts'
import type { Services } from '../services.ts'

/** Binds a research copy of a data key to its record. */
function contextOf(recordId: string): Uint8Array {
  return new TextEncoder().encode(`medledger research key|${recordId.toLowerCase()}`)
}

/**
 * When a patient consents to research (signed in, their key unlocked), the data key of each of
 * their records is wrapped for their home hospital's key and kept here (`research_record_keys`),
 * so that their home node can de-identify them for an export: in a consortium a record's key is
 * split among member hospitals (threshold break-glass) and no single hospital's key opens it.
 * Only records the patient's own key opens; records already kept are left. At most `limit`
 * records (oldest first) when set; with `skipUnavailable` a record whose envelopes block is not
 * served is passed over (a later call takes it) instead of ending the call. Resolves how many
 * were added.
 * @throws AppError RECORD_UNAVAILABLE, RECORD_INTEGRITY, INVALID_KEY
 */
export async function keepResearchKeys(s: Services, p: { patientId: string; address: Address; scheme: KeyScheme; privateKey: Uint8Array; hospitalId: string | null; limit?: number; skipUnavailable?: boolean; signal?: AbortSignal }): Promise<number> {
  const hospital = p.hospitalId ? await s.db.get<HospitalRow>(`SELECT * FROM hospitals WHERE id = ? AND state = 'active'`, p.hospitalId) : undefined
  if (!hospital) return 0
  const rows = await s.db.all<RecordRow>(`SELECT * FROM records WHERE patient_id = ? AND state = 'anchored'
    AND record_id NOT IN (SELECT record_id FROM research_record_keys WHERE patient_id = ?) ORDER BY created_at, record_id${p.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(p.limit))}`}`, p.patientId, p.patientId)
  let kept = 0
  for (const row of rows) {
    const opened = await openRecordKeys(s, row, { address: p.address, scheme: p.scheme, privateKey: p.privateKey }, p.signal).catch((err: unknown) => {
      if (isAppError(err, 'RECORD_NOT_FOUND') || (p.skipUnavailable === true && isAppError(err, 'RECORD_UNAVAILABLE') && p.signal?.aborted !== true)) return undefined
      throw err
    })
    if (!opened) continue
    const wrapped = await wrapKey({ scheme: hospital.key_scheme, publicKey: new Uint8Array(hospital.emergency_public_key), key: opened.dataKey, context: contextOf(row.record_id) })
    opened.dataKey.fill(0)
    await s.db.run(`INSERT INTO research_record_keys (patient_id, record_id, hospital_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (patient_id, record_id) DO NOTHING`, p.patientId, row.record_id, hospital.id, Buffer.from(wrapped), Date.now())
    kept++
  }
  return kept
}

/**
 * A record stored after the patient's research consent (an upload, a re-key's new version), on
 * their home node while its new data key is in hand: when this node's copy of their consents has
 * one given (a study or a hospital's studies: what `dropResearchKeys` reads), the key is wrapped
 * for their home hospital's key now, and resolves a function that keeps the copy once the record
 * is anchored (then checks again that a consent is still given, so a withdrawal in between leaves
 * nothing). Undefined when there is no consent, or the hospital is not held here.
 */
export async function wrapResearchKey(s: Pick<Services, 'db'>, p: { patientId: string; recordId: string; hospitalId: string; dataKey: Uint8Array }): Promise<(() => Promise<void>) | undefined> {
  if (!(await consentGiven(s, p.patientId))) return undefined
  const hospital = await s.db.get<HospitalRow>(`SELECT * FROM hospitals WHERE id = ? AND state = 'active'`, p.hospitalId)
  if (!hospital) return undefined
  const recordId = p.recordId.toLowerCase()
  const wrapped = await wrapKey({ scheme: hospital.key_scheme, publicKey: new Uint8Array(hospital.emergency_public_key), key: p.dataKey, context: contextOf(recordId) })
  return async () => {
    await s.db.run(`INSERT INTO research_record_keys (patient_id, record_id, hospital_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (patient_id, record_id) DO NOTHING`, p.patientId, recordId, hospital.id, Buffer.from(wrapped), Date.now())
    await dropResearchKeys(s, p.patientId)
  }
}

/** Records a top-up covers at most in one run (oldest first); the patient's next one takes the rest. */
export const TOP_UP_LIMIT = 200
/** A top-up's bound in time: past it, the rest waits for the next. */
const TOP_UP_MS = 120_000
/** A patient's requests start a top-up at most once in this time (a sign-in always does). */
const TOP_UP_EVERY_MS = 60_000

/** Per node (by its database handle): the patients queued for a top-up, and when each was last looked at. */
const topUps = new WeakMap<object, { queued: Set<string>; lookedAt: Map<string, number> }>()

/**
 * While a patient's own key is unlocked on their home node (a password sign-in, `force`, or any
 * request of such a session, at most once a minute), the records of theirs that have no research
 * copy yet — one that reached this node by its anchor event, or whose anchor was mined later from
 * the journal, or whose copy could not be kept — get one, when a research consent of theirs is
 * given here (`keepResearchKeys`: only the patient's key opens them). Off the caller's path: queued
 * on the node (one top-up at a time, a patient queued once), at most `TOP_UP_LIMIT` records and
 * `TOP_UP_MS` per run, blocks not served passed over for the next; never fails the caller, and
 * logs counts and error codes only. A withdrawal meanwhile leaves nothing (the consents are read
 * again after). Resolves when the run is over (callers need not wait), with the records covered.
 */
export function topUpResearchKeys(s: Services, actor: Actor, { force = false }: { force?: boolean } = {}): Promise<number> {
  const keys = actor.keys
  const patientId = actor.account.id
  if (actor.account.role !== 'patient' || !keys) return Promise.resolve(0)
  let state = topUps.get(s.db)
  if (!state) topUps.set(s.db, state = { queued: new Set(), lookedAt: new Map() })
  const now = Date.now()
  if (state.queued.has(patientId) || (!force && now - (state.lookedAt.get(patientId) ?? -Infinity) < TOP_UP_EVERY_MS)) return Promise.resolve(0)
  if (state.lookedAt.size > 10_000) state.lookedAt.clear()
  state.lookedAt.set(patientId, now)
  state.queued.add(patientId)
  const { queued } = state
  return oneAtATime(s.db, 'research-keys:top-up', async () => {
    if (!(await consentGiven(s, patientId))) return 0
    const kept = await keepResearchKeys(s, {
      patientId, address: actor.account.address, scheme: actor.account.keyScheme, privateKey: keys.encryptionPrivateKey,
      hospitalId: actor.account.hospitalId, limit: TOP_UP_LIMIT, skipUnavailable: true, signal: AbortSignal.timeout(TOP_UP_MS),
    })
    await dropResearchKeys(s, patientId)
    if (kept > 0) s.log('info', `research keys: ${kept} record key copies topped up for a consenting patient`)
    return kept
  }).catch((err: unknown) => {
    s.log('warn', `research keys: top-up not done: ${isAppError(err) ? err.code : (err as Error).name}`)
    return 0
  }).finally(() => queued.delete(patientId))
}

/**
 * A hospital's emergency key replaced (`rekeyAllEmergency`): the research copies kept here for it
 * are wrapped again for its new key, each opened with the old one while the node still holds it,
 * so the exports of a live consent go on; what they open does not change (the consenting
 * patients' records, through the hospital's key, as before). A copy the old key does not open
 * (re-wrapped by an interrupted earlier run) is left. Resolves how many were re-wrapped.
 * @throws AppError INVALID_KEY
 */
export async function rewrapResearchKeys(s: Pick<Services, 'db'>, p: { hospitalId: string; scheme: KeyScheme; oldKey: Uint8Array; publicKey: Uint8Array }): Promise<number> {
  const rows = await s.db.all<{ patient_id: string; record_id: string; wrapped: Buffer }>('SELECT patient_id, record_id, wrapped FROM research_record_keys WHERE hospital_id = ?', p.hospitalId)
  let rewrapped = 0
  for (const r of rows) {
    const dataKey = await unwrapKey({ scheme: p.scheme, privateKey: p.oldKey, wrapped: new Uint8Array(r.wrapped), context: contextOf(r.record_id) }).catch((err: unknown) => {
      if (isAppError(err, 'RECORD_INTEGRITY')) return undefined
      throw err
    })
    if (!dataKey) continue
    const wrapped = await wrapKey({ scheme: p.scheme, publicKey: p.publicKey, key: dataKey, context: contextOf(r.record_id) })
    dataKey.fill(0)
    await s.db.run('UPDATE research_record_keys SET wrapped = ? WHERE patient_id = ? AND record_id = ? AND hospital_id = ?', Buffer.from(wrapped), r.patient_id, r.record_id, p.hospitalId)
    rewrapped++
  }
  return rewrapped
}

/** Whether this node's copy of a patient's research consents has one given (to a study or to a hospital's studies). */
async function consentGiven(s: Pick<Services, 'db'>, patientId: string): Promise<boolean> {
  return Boolean(await s.db.get(`SELECT 1 AS x FROM research_consents WHERE patient_id = ? AND state = 'given'
    UNION SELECT 1 AS x FROM research_hospital_consents WHERE patient_id = ? AND state = 'given'`, patientId, patientId))
}

/**
 * Drops a patient's research copies of their data keys once no research consent of theirs is
 * given any more (this node's copy of them): a withdrawal leaves nothing that opens their records.
 */
export async function dropResearchKeys(s: Pick<Services, 'db'>, patientId: string): Promise<void> {
  if (!(await consentGiven(s, patientId))) await s.db.run('DELETE FROM research_record_keys WHERE patient_id = ?', patientId)
}

/**
 * A record's data key and manifest through the research copy its patient's consent left for
 * their hospital, or undefined when there is none (or it no longer opens: a rotated key).
 * @throws AppError RECORD_INTEGRITY, RECORD_UNAVAILABLE
 */
export async function openResearchKey(s: Services, row: RecordRow, hospital: { id: string; scheme: KeyScheme; privateKey: Uint8Array }, signal?: AbortSignal): Promise<{ manifest: Manifest; dataKey: Uint8Array } | undefined> {
  const kept = await s.db.get<{ wrapped: Buffer }>('SELECT wrapped FROM research_record_keys WHERE patient_id = ? AND record_id = ? AND hospital_id = ?', row.patient_id, row.record_id, hospital.id)
  if (!kept) return undefined
  const dataKey = await unwrapKey({ scheme: hospital.scheme, privateKey: hospital.privateKey, wrapped: new Uint8Array(kept.wrapped), context: contextOf(row.record_id) }).catch((err: unknown) => {
    if (isAppError(err, 'RECORD_INTEGRITY')) return undefined
    throw err
  })
  if (!dataKey) return undefined
  await assertAnchored(s, row)
  const env = parseEnvelopes(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.envelopes), 'raw'), { signal }), row.record_id)
  return { manifest: openManifest(env, dataKey), dataKey }
}
