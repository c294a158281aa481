import { hexToBytes, zeroHash, type Address, type Hex } from 'viem'
import { nodeHospital } from '../accounts/node-hospital.ts'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { hashToken, parseRecordId } from '../crypto/tokens.ts'
import { isEmergencyLive } from '../ledger/consent/is-emergency-live.ts'
import { isGrantLive } from '../ledger/consent/is-grant-live.ts'
import { isShareLive } from '../ledger/consent/is-share-live.ts'
import { sendAccessLog } from '../ledger/consent/send-access-log.ts'
import { sendShareTokenUse } from '../ledger/consent/send-share-token-use.ts'
import { purposes } from '../ledger/purposes.ts'
import { chainTime } from '../ledger/chain-time.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { requireKeys, type Actor } from '../accounts/account.ts'
import { AppError, isAppError } from '../errors.ts'
import { openEnvelopes, openManifest, parseEnvelopes, type EnvelopesObject } from '../records/envelopes.ts'
import { assertAnchored } from '../records/assert-anchored.ts'
import { erasedRecord } from '../records/forget-erased-record.ts'
import type { RecordRow } from '../records/record.ts'
import type { RecordAccess } from '../records/read-record.ts'
import { openGrantEnvelope, type GrantReader } from './grant-envelopes.ts'
import { markShareUsed } from './mark-share-used.ts'
import { emergencySharesKey } from './emergency-shares.ts'
import { movedShares } from '../records/emergency-shares.ts'
import { logReadBatched, signReadEntry } from './audit-log.ts'
import { readByTeam } from './read-by-team.ts'
import { supersededAnswer } from './apply-record-superseded.ts'
import { openRecoveredKey, recoveredRecord } from '../records/recovery-envelopes.ts'
import type { Services } from '../services.ts'

export interface AccessDecision extends RecordAccess {
  /** Purpose code logged on chain for this read. */
  purpose: number
  /** The grant, share or emergency that allows it (zero for the patient and the author). */
  ref: Hex
  /** Writes the read to the ledger, from the reader's own key (or the serving hospital's for a token). */
  log(signal?: AbortSignal): Promise<void>
}

export interface ResolveAccessParams {
  actor?: Actor
  token?: string
  recordId: string
  signal?: AbortSignal
  /** The record is about to be read (not listed): fetch its DAG from peers along with its envelopes. */
  reading?: boolean
}

/**
 * Decides whether the reader may open the record now and unwraps its data key: the patient,
 * the author, a live grant, a live share (named or by token) or a live emergency access —
 * each "live" as the chain says, by its clock. Also checks the record against its anchor.
 * @throws AppError RECORD_NOT_FOUND (absent or not readable by this reader, the same answer),
 *   RECORD_ERASED, SHARE_TOKEN_INVALID, RECORD_INTEGRITY, UNAUTHENTICATED
 */
export async function resolveAccess(s: Services, { actor, token, recordId, signal, reading = false }: ResolveAccessParams): Promise<AccessDecision> {
  const id = parseRecordId(recordId)
  if (!actor && token === undefined) throw new AppError('UNAUTHENTICATED')
  // A researcher sees de-identified study exports only, never an identified record: whatever
  // grant, share or token names them, the answer is the one for a record that does not exist.
  if (actor?.account.role === 'researcher') throw new AppError('RECORD_NOT_FOUND')
  // Asked together (one turn of the connection, not three). An erased record answers so to
  // everyone: its tombstone is public on chain anyway.
  const [erased, row, recovered] = await Promise.all([
    erasedRecord(s, id),
    s.db.get<RecordRow>(`SELECT * FROM records WHERE record_id = ? AND state = 'anchored'`, id),
    recoveredRecord(s, id),
  ])
  if (erased) throw new AppError('RECORD_ERASED')
  if (!row) {
    // A re-keyed record's old id: 410 with the new id, to a reader who may read the new version.
    const gone = await supersededAnswer(s, id)
    if (gone && await resolveAccess(s, { actor, token, recordId: gone.body!.supersededBy!, signal }).then(() => true, (err: unknown) => {
      if (isAppError(err, 'RECORD_NOT_FOUND', 'SHARE_TOKEN_INVALID')) return false
      throw err
    })) throw gone
    throw new AppError(token !== undefined && !actor ? 'SHARE_TOKEN_INVALID' : 'RECORD_NOT_FOUND')
  }
  const patient = await s.db.get('SELECT address, hospital_id FROM accounts WHERE id = ?', row.patient_id) as { address: Address; hospital_id: string }
  // `recovered`: a record of a patient recovered since. Its own reads are logged for the retired
  // address it was anchored for (the chain takes them from the successor); other reads for the patient as now.

  // Called once a way to read is found (see `checkedEnvelopes`).
  const envelopes = async (): Promise<EnvelopesObject> => checkedEnvelopes(s, row, { reading, signal })
  const grantKey = async (digest: string, grantId: Hex, reader: GrantReader) =>
    openGrantEnvelope(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(digest as Hex), 'raw'), { signal }), { grantId, recordId: row.record_id, reader })
  const read: ReadContext = { s, row, patient, envelopes, grantKey }

  if (token !== undefined && !actor) return byToken(read, token)

  const reader = actor!
  const keys = requireKeys(reader)
  // The chain's clock as the decision begins dates the read's audit entry (`readAt`): a grant
  // revoked while a large record is being decrypted still covers the read it allowed.
  const decidedAt = reading ? chainTime(s.ledger, { signal }) : undefined
  decidedAt?.catch(() => undefined)
  const me = { kind: 'account' as const, address: reader.account.address, scheme: reader.account.keyScheme, privateKey: keys.encryptionPrivateKey }
  const logAs = readLogger(s, { keys, row, patient, recovered, decidedAt })

  if (reader.account.id === row.patient_id || reader.account.id === row.author_id) {
    const env = await envelopes()
    const dataKey = recovered && reader.account.id === row.patient_id
      ? await openRecoveredKey(s, recovered, row.record_id, me)
      : (await openEnvelopes(env, me)).dataKey
    const manifest = openManifest(env, dataKey)
    const purpose = reader.account.id === row.patient_id ? purposes.own : purposes.author
    return { row, dataKey, manifest, purpose, ref: zeroHash, log: logAs(purpose, zeroHash) }
  }
  const as: AsReader = { reader, me, logAs }
  return await byGrant(read, as) ?? await byShare(read, as) ?? await byTeam(read, as) ?? await byEmergency(read, as) ?? notFound()
}

/**
 * How a decided read is logged, by purpose and ref: in the node's next audit batch (durable here
 * first, then mined); a read by emergency access, or on a node with no member hospital to send
 * batches, waits for its own transaction. For a read (`decidedAt`, the chain's clock when it was
 * decided), the batch entry is signed as soon as the decision is made, on the signing thread while
 * this one checks and decrypts the blocks; it is written, durably, only when `log` is called.
 */
function readLogger(s: Services, { keys, row, patient, recovered, decidedAt }: {
  keys: ReturnType<typeof requireKeys>
  row: RecordRow
  patient: { address: Address }
  recovered: { address: Address } | undefined
  decidedAt: Promise<number> | undefined
}): AsReader['logAs'] {
  return (purpose, ref) => {
    const entry = { reader: keys.ledger, recordId: row.record_id, patient: recovered && purpose === purposes.own ? recovered.address : patient.address, purpose, ref }
    const batches = s.auditBatches
    // A recovered patient's record read by someone else waits for its own transaction too: a grant
    // or share the retired key made is refused by the chain, and the read must then not be served.
    const lone = purpose === purposes.emergency || (recovered !== undefined && purpose !== purposes.own)
    const batched = async () => !lone && batches !== undefined && await batches.sender() !== undefined
    const early = decidedAt && batched()
    const signed = early && early.then(async (yes) => yes ? signReadEntry({ ...s, auditBatches: batches! }, { ...entry, readAt: BigInt(await decidedAt!) }) : undefined)
    if (early && signed) { early.catch(() => undefined); signed.catch(() => undefined) } // awaited by `log`
    return async (sig?: AbortSignal) => {
      if (await (early || batched())) {
        return logReadBatched({ ...s, auditBatches: batches! }, { ...entry, signal: sig, readAt: decidedAt && BigInt(await decidedAt), signed: signed ? signed.then((e) => e!) : undefined })
      }
      await sendAccessLog(s.ledger, { ...entry, signal: sig }).catch((err: unknown) => {
        if (recovered !== undefined && isAppError(err, 'LEDGER_REVERTED')) throw new AppError('RECORD_NOT_FOUND')
        throw err
      })
    }
  }
}

/**
 * The record's envelopes, once the record is checked against its anchor. For a read, a record this
 * node does not hold comes from a peer in one round trip, its envelopes block and its whole DAG
 * asked together (`Ipfs.prefetch`; over bitswap when no peer serves it so, or for a record over
 * 32 MiB), while the anchor is checked on chain. A record whose root is in the block cache was
 * read here before (its blocks held): nothing to fetch, not even a look in the store. Its
 * envelopes block comes from the cache as its DAG does.
 */
async function checkedEnvelopes(s: Services, row: RecordRow, { reading, signal }: { reading: boolean; signal?: AbortSignal }): Promise<EnvelopesObject> {
  const root = cidFromDigest(hexToBytes(row.digest), 'dag')
  const envelopesCid = cidFromDigest(hexToBytes(row.envelopes), 'raw')
  const fetched = reading && !s.blockCache.has(root)
    ? s.ipfs.prefetch(root, { raws: [envelopesCid], signal })
    : undefined
  // Read once the prefetch has brought it with the DAG: asked beside it, it would be asked twice.
  const block = (fetched ?? Promise.resolve()).then(() => getRawBlockVerified(s.ipfs.blockstore, envelopesCid, { signal, cache: s.blockCache }))
  block.catch(() => undefined) // awaited below, once the anchor is checked
  await assertAnchored(s, row)
  return parseEnvelopes(await block, row.record_id)
}

/** A read as a member of a care team the patient granted (`readByTeam`), logged with purpose team. */
async function byTeam({ s, row, patient, envelopes, grantKey }: ReadContext, { reader, me, logAs }: AsReader): Promise<AccessDecision | undefined> {
  const team = await readByTeam(s, { row, patient: patient.address, reader: { id: reader.account.id, ...me }, envelopes, grantKey })
  if (!team) return undefined
  return { row, dataKey: team.dataKey, manifest: openManifest(team.env, team.dataKey), purpose: purposes.team, ref: team.teamId, log: logAs(purposes.team, team.teamId) }
}

/** What every way of reading one record needs: the record, its patient, its envelopes and a grant envelope's key. */
interface ReadContext {
  s: Services
  row: RecordRow
  patient: { address: Address; hospital_id: string }
  /** The record's envelopes, once the record is checked against its anchor. */
  envelopes: () => Promise<EnvelopesObject>
  /** The data key in the grant envelope stored under `digest`. */
  grantKey: (digest: string, grantId: Hex, reader: GrantReader) => Promise<Uint8Array>
}

/** A signed-in reader: its account, its key to open envelopes, and the access log it writes. */
interface AsReader {
  reader: Actor
  me: GrantReader & { kind: 'account' }
  logAs: (purpose: number, ref: Hex) => (sig?: AbortSignal) => Promise<void>
}

const notFound = (): never => { throw new AppError('RECORD_NOT_FOUND') }

/**
 * A read by share token: the token's share must name the record and be live on chain.
 * @throws AppError SHARE_TOKEN_INVALID
 */
async function byToken({ s, row, patient, envelopes, grantKey }: ReadContext, token: string): Promise<AccessDecision> {
  const share = await s.db.get('SELECT * FROM shares WHERE token_hash = ?', hashToken(token)) as ShareRow | undefined
  if (!share || share.revoked_at !== null || !(JSON.parse(share.record_ids) as string[]).includes(row.record_id)) throw new AppError('SHARE_TOKEN_INVALID')
  if (!(await isShareLive(s.ledger, { shareId: share.share_id }))) throw new AppError('SHARE_TOKEN_INVALID')
  const env = await envelopes()
  const dataKey = await grantKey(share.envelopes, share.share_id, { kind: 'token', token })
  return {
    row, dataKey, manifest: openManifest(env, dataKey), purpose: purposes.shareToken, ref: share.share_id,
    async log(sig) {
      // The node serving the token records the use from its hospital's key; for a
      // single-use token the chain refuses a second use.
      // The patient's hospital when this node serves it, else the hospital this node serves.
      const home = await nodeHospital(s)
      const hospital = await unlockHospital(s, patient.hospital_id).catch(async (err: unknown) => {
        if (!isAppError(err, 'UNKNOWN_HOSPITAL') || !home) throw err
        return unlockHospital(s, home.id)
      })
      try {
        await sendShareTokenUse(s.ledger, { hospital: hospital.keys.ledger, shareId: share.share_id, recordId: row.record_id, signal: sig })
      } catch (err) {
        if (isAppError(err, 'LEDGER_REVERTED')) throw new AppError('SHARE_TOKEN_INVALID', { cause: err })
        throw err
      }
      await markShareUsed(s.db, share.share_id)
    },
  }
}

/** A read under a grant from an access request: newest first; the chain decides whether each is still live. */
async function byGrant({ s, row, envelopes, grantKey }: ReadContext, { reader, me, logAs }: AsReader): Promise<AccessDecision | undefined> {
  const grants = await s.db.all(`SELECT request_id, granted_record_ids, envelopes FROM access_requests
    WHERE requester_id = ? AND patient_id = ? AND status = 'approved' ORDER BY decided_at DESC`, reader.account.id, row.patient_id) as
    { request_id: Hex; granted_record_ids: string | null; envelopes: string | null }[]
  for (const g of grants) {
    const scope = g.granted_record_ids === null ? null : (JSON.parse(g.granted_record_ids) as string[])
    if (scope !== null && !scope.includes(row.record_id)) continue
    if (!(await isGrantLive(s.ledger, { requestId: g.request_id, grantee: reader.account.address }))) continue
    const env = await envelopes()
    let dataKey: Uint8Array
    try {
      if (!g.envelopes) throw new AppError('RECORD_NOT_FOUND')
      dataKey = await grantKey(g.envelopes, g.request_id, me)
    } catch (err) {
      // A record added after an all-records grant, or re-keyed since the grant, carries the
      // grantee's key in its own envelopes.
      if (!isAppError(err, 'RECORD_NOT_FOUND')) throw err
      dataKey = (await openEnvelopes(env, me)).dataKey
    }
    return { row, dataKey, manifest: openManifest(env, dataKey), purpose: purposes.grant, ref: g.request_id, log: logAs(purposes.grant, g.request_id) }
  }
  return undefined
}

/** A read under a named share, newest first, live on chain. */
async function byShare({ s, row, envelopes, grantKey }: ReadContext, { reader, me, logAs }: AsReader): Promise<AccessDecision | undefined> {
  const shares = await s.db.all(`SELECT * FROM shares WHERE grantee_id = ? AND patient_id = ? AND revoked_at IS NULL ORDER BY created_at DESC`, reader.account.id, row.patient_id) as ShareRow[]
  for (const sh of shares) {
    if (!(JSON.parse(sh.record_ids) as string[]).includes(row.record_id)) continue
    if (!(await isShareLive(s.ledger, { shareId: sh.share_id }))) continue
    const env = await envelopes()
    // A record re-keyed since it was shared carries the grantee's key in its own envelopes.
    const dataKey = await grantKey(sh.envelopes, sh.share_id, me).catch(async (err: unknown) => {
      if (!isAppError(err, 'RECORD_NOT_FOUND')) throw err
      return (await openEnvelopes(env, me)).dataKey
    })
    return { row, dataKey, manifest: openManifest(env, dataKey), purpose: purposes.share, ref: sh.share_id, log: logAs(purposes.share, sh.share_id) }
  }
  return undefined
}

/** A read under a live emergency access (break-glass) that covers the record. */
async function byEmergency({ s, row, envelopes, grantKey }: ReadContext, { reader, me, logAs }: AsReader): Promise<AccessDecision | undefined> {
  const emergencies = await s.db.all(`SELECT emergency_id, envelopes FROM emergencies WHERE doctor_id = ? AND patient_id = ? ORDER BY created_at DESC`, reader.account.id, row.patient_id) as { emergency_id: Hex; envelopes: string | null }[]
  for (const e of emergencies) {
    if (!(await isEmergencyLive(s.ledger, { emergencyId: e.emergency_id, doctor: reader.account.address }))) continue
    const env = await envelopes()
    let dataKey: Uint8Array
    const split = await movedShares(s, row.record_id) ?? env.shares
    if (split) {
      // Threshold break-glass: k hospitals' released shares, or 409 EMERGENCY_SHARES_PENDING.
      dataKey = await emergencySharesKey(s, { emergencyId: e.emergency_id, recordId: row.record_id, split, doctor: me })
      return { row, dataKey, manifest: openManifest(env, dataKey), purpose: purposes.emergency, ref: e.emergency_id, log: logAs(purposes.emergency, e.emergency_id) }
    }
    if (e.envelopes === null) continue
    try {
      dataKey = await grantKey(e.envelopes, e.emergency_id, me)
    } catch (err) {
      if (isAppError(err, 'RECORD_NOT_FOUND')) continue // a record anchored after the break-glass
      throw err
    }
    return { row, dataKey, manifest: openManifest(env, dataKey), purpose: purposes.emergency, ref: e.emergency_id, log: logAs(purposes.emergency, e.emergency_id) }
  }
  return undefined
}

export interface ShareRow {
  share_id: Hex
  patient_id: string
  grantee_id: string | null
  token_hash: string | null
  record_ids: string
  expires_at: number
  once: number
  used_at: number | null
  revoked_at: number | null
  envelopes: string
  tx_hash: string | null
  created_at: number
}
