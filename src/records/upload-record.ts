import { publicKeyOf } from '../accounts/directory.ts'
import { bytesToHex, toHex, type Address, type Hex } from 'viem'
import { encryptStream, generateDataKey, type CipherSuite } from '../crypto/stream.ts'
import { generateRecordId } from '../crypto/tokens.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { addCiphertext } from '../storage/add-ciphertext.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import type { AnchorRecordParams } from '../ledger/anchor-record.ts'
import { signLeaf } from '../ledger/anchor-batch.ts'
import { anchorQueued } from './anchor-queue.ts'
import type { CID } from 'multiformats/cid'
import { readKeyDigests } from '../ledger/read-key-digests.ts'
import { AppError } from '../errors.ts'
import { checkFileName } from '../text/check-file-name.ts'
import { findAccount, requireKeys, type Actor } from '../accounts/account.ts'
import { requireConfirmedDoctor } from '../accounts/require-confirmed-doctor.ts'
import type { HospitalRow } from '../accounts/hospital.ts'
import { sealEnvelopes, type EnvelopeRecipient, type Manifest } from './envelopes.ts'
import { shareHolders, splitDataKey } from './emergency-shares.ts'
import { recordParties, toRecordView, type RecordRow, type RecordView } from './record.ts'
import { insertRecord } from './insert-record.ts'
import { onCallingThread } from './search/term-worker.ts'
import { indexRecordTerms, prepareRecordIndex, writePreparedIndex } from './search/index-record-terms.ts'
import { deleteRecordIndex } from './search/search-key.ts'
import type { KeyScheme } from '../crypto/key-wrap.ts'
import type { ContentTermStream, Services } from '../services.ts'
import type { StreamHash } from '../storage/hash-worker.ts'

export interface UploadRecordParams {
  actor: Actor | undefined
  /** The patient's e-mail, account id or ledger address. */
  patient: string
  fileName: string
  mediaType?: string
  suite?: CipherSuite
  /** The plaintext, streamed: memory does not grow with its size. */
  source: AsyncIterable<Uint8Array>
  /** Announced size, when known: refused at once when over the limit. */
  declaredSize?: number
  onProgress?: (p: { bytesRead: number }) => void
  /** The uploader's search tags (`--tag`), indexed beside the terms of the content and file name. */
  tags?: readonly string[]
  /**
   * The doctors besides the author this record's key is also wrapped for: those holding a live
   * grant to all of the patient's records (consent's `listAllRecordsGrantees`). Decided by the
   * caller, since who holds a grant is consent's business, not records'.
   */
  grantees: (patientId: string, signal?: AbortSignal) => Promise<readonly GranteeAccount[]>
  /**
   * A research copy of the new data key for the patient's home hospital, made while the key is in
   * hand when the patient has a research consent given (consent's `wrapResearchKey`; decided by
   * the caller, since consents are consent's business, not records'): resolves a function that
   * keeps it once the record is anchored, or undefined when none is to be kept. The record stays
   * anchored should keeping it fail (logged; the patient's next consent makes it).
   */
  researchCopy?: (p: { patientId: string; recordId: Hex; hospitalId: string; dataKey: Uint8Array }) => Promise<(() => Promise<void>) | undefined>
  signal?: AbortSignal
}

/** A doctor a new record's data key is also wrapped for, as the accounts table holds them. */
export interface GranteeAccount {
  id: string
  address: Address
  key_scheme: KeyScheme
  /** Empty for a doctor of another member hospital: fetched from its node (`publicKeyOf`). */
  public_key: Buffer
  /** A care team's key (consent's `listTeamGrantees`), already checked against CareTeams: not in the Registry. */
  teamKey?: Uint8Array
}

export interface UploadRecordResult extends RecordView {
  recordId: Hex
}

/**
 * Stores a record for a patient: encrypts the stream under a fresh data key, stores the
 * ciphertext and the envelopes (data key wrapped for patient, author and the hospital's
 * emergency key, plus the encrypted manifest) in IPFS, then anchors it on chain, group-committed
 * (`anchorQueued`): alone from the doctor's own key when no anchor of the hospital is in flight,
 * else in the next batch root with the doctor's EIP-712 signature over the record. Resolves only
 * when blocks, envelopes and the mined anchor (and its journal row) are durable.
 * @throws AppError FORBIDDEN (not a doctor), UNKNOWN_PATIENT, FILE_TOO_LARGE, VALIDATION_FAILED,
 *   UNKNOWN_CIPHER_SUITE, STORAGE_*, LEDGER_*
 */
export async function uploadRecord(s: Services, p: UploadRecordParams): Promise<UploadRecordResult> {
  const doctor = requireConfirmedDoctor(p.actor)
  const doctorKeys = requireKeys(doctor)
  const limit = s.config.maxUploadBytes
  if (p.declaredSize !== undefined && p.declaredSize > limit) throw new AppError('FILE_TOO_LARGE')
  const fileName = checkFileName(p.fileName)
  const mediaType = checkMediaType(p.mediaType ?? 'application/octet-stream')
  const suite = p.suite ?? s.config.cipherSuite
  const patient = await findAccount(s.db, p.patient)
  if (!patient || patient.role !== 'patient' || patient.hospital_id !== doctor.account.hospitalId) throw new AppError('UNKNOWN_PATIENT')
  const hospital = await s.db.get(`SELECT * FROM hospitals WHERE id = ?`, patient.hospital_id) as HospitalRow

  const recipients = await checkedRecipients(s, { doctor, patient, hospital, grantees: p.grantees, signal: p.signal })

  const recordId = generateRecordId()
  // Threshold break-glass: in a consortium the data key is split among member hospitals'
  // emergency keys (k of n) instead of wrapped for the home hospital's alone.
  const split = await shareHolders(s, { recordId, home: hospital, signal: p.signal })
  const dataKey = generateDataKey(suite)
  // On the hash worker: hashing the plaintext overlaps encrypting it (two cores on one upload).
  const plainHash = s.ipfs.hasher.sha256Stream({ expectedBytes: p.declaredSize })
  // Terms are extracted from the same plaintext chunks as they stream through the encryptor, on
  // the term worker's thread: it parses while this one seals, stores and pins.
  const plain = tapPlaintext(p, { limit, plainHash, terms: s.config.searchIndex ? (s.termWorker?.begin({ recordId }) ?? onCallingThread()) : undefined })
  // The DAG's pin is written while the envelopes are sealed and stored; both are durable before the row.
  const stored = await addCiphertext(s.ipfs, encryptStream(plain.chunks, { key: dataKey, suite, signal: p.signal }), { signal: p.signal, pin: 'later', sizeHint: p.declaredSize === undefined ? undefined : p.declaredSize + 4096 })
  // The record's index entry (search key opened, tokens made) is prepared as soon as the term
  // worker answers, while this upload waits for its envelopes and pins to be durable.
  const indexing = plain.content && prepareRecordIndex(s, { recordId, patientId: patient.id, fileName, tags: p.tags, content: plain.content })
  const manifest: Manifest = { fileName, mediaType, size: plain.bytesRead, sha256: Buffer.from(await plainHash.digest()).toString('hex'), created: new Date().toISOString() }
  const shares = split && await splitDataKey(dataKey, { recordId, k: split.k, holders: split.holders })
  const sealed = await sealEnvelopes({ recordId, suite, dataKey, manifest, recipients: split ? recipients.filter((r) => r.for !== 'emergency') : recipients, shares })
  const envelopesCid = await putRawBlock(s.ipfs, sealed, { signal: p.signal })
  const keepResearchCopy = await p.researchCopy?.({ patientId: patient.id, recordId, hospitalId: hospital.id, dataKey })
  dataKey.fill(0)
  await stored.pinned

  const row: RecordRow = {
    record_id: recordId,
    patient_id: patient.id,
    author_id: doctor.account.id,
    hospital_id: hospital.id,
    digest: toHex(stored.digest),
    envelopes: toHex(digestFromCid(envelopesCid)),
    suite,
    stored_bytes: stored.size,
    state: 'pending',
    tx_hash: null,
    block_number: null,
    anchored_at: null,
    created_at: Date.now(),
  }
  // The record's index entry goes in the same transaction as its row (one commit): the pending
  // row is never listed, so neither are its tokens matched, until it is anchored.
  const index = await indexing
  // Pending rows are never listed or served; recovery at start settles them from the journal.
  // The same writer the ledger follower uses; a fresh random id is never taken.
  const indexed = await s.db.transaction(async (tx) => {
    if (!(await insertRecord(tx, row))) throw new AppError('INTERNAL', { details: 'record id already in use' })
    return writePreparedIndex(tx, index)
  })
  await anchorAndSettle(s, row, {
    author: doctorKeys.ledger,
    patient: patient.address as Address,
    hospital: hospital.address as Address,
    blocks: [stored.cid, envelopesCid],
  })
  // The patient's search key was rotated between the entry's making and its writing: indexed anew.
  if (index?.entry && !indexed) await indexRecordTerms(s, { recordId, patientId: patient.id, terms: index.terms })
  await keepResearchCopy?.().catch((err: unknown) => s.log('warn', `record ${recordId}: research key copy not kept: ${(err as Error).message}`))
  await s.notify?.({ accountId: patient.id, kind: 'record-added', by: { accountId: doctor.account.id } })
  return toRecordView(row, await recordParties(s.db, row), manifest)
}

type Recipient = { to: Address; for: EnvelopeRecipient; scheme: KeyScheme; publicKey: Uint8Array }

/**
 * The upload's plaintext as it streams to the encryptor: counted against `limit` (FILE_TOO_LARGE
 * past it), hashed, and fed to the term extraction `terms`, whose content terms are asked for
 * once the stream is complete (`content`; dropped when it fails).
 */
function tapPlaintext(
  p: UploadRecordParams,
  { limit, plainHash, terms }: { limit: number; plainHash: StreamHash; terms: ContentTermStream | undefined },
): { chunks: AsyncGenerator<Uint8Array>; readonly bytesRead: number; readonly content: Promise<ReadonlySet<string>> | undefined } {
  let bytesRead = 0
  let content: Promise<ReadonlySet<string>> | undefined
  const chunks = async function * (): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of p.source) {
        bytesRead += chunk.byteLength
        if (bytesRead > limit) throw new AppError('FILE_TOO_LARGE')
        await plainHash.update(chunk)
        terms?.push(chunk)
        p.onProgress?.({ bytesRead })
        yield chunk
      }
      content = terms?.end()
    } finally {
      if (content === undefined) terms?.discard()
    }
  }
  return { chunks: chunks(), get bytesRead() { return bytesRead }, get content() { return content } }
}

/**
 * Whom a new record's data key is wrapped for: patient, author, the hospital's emergency key and
 * the doctors holding a live grant to all of the patient's records, each key checked against the
 * digest the ledger names for that account (a data key is never wrapped for any other).
 * @throws AppError PUBLIC_KEY_MISMATCH, LEDGER_*
 */
async function checkedRecipients(
  s: Services,
  { doctor, patient, hospital, grantees, signal }: {
    doctor: ReturnType<typeof requireConfirmedDoctor>
    patient: NonNullable<Awaited<ReturnType<typeof findAccount>>>
    hospital: HospitalRow
    grantees: UploadRecordParams['grantees']
    signal?: AbortSignal
  },
): Promise<Recipient[]> {
  const recipients: Recipient[] = [
    { to: patient.address as Address, for: 'patient' as const, scheme: patient.key_scheme, publicKey: new Uint8Array(patient.public_key) },
    { to: doctor.account.address, for: 'author' as const, scheme: doctor.account.keyScheme, publicKey: new Uint8Array(await accountPublicKey(s, doctor.account.id)) },
    { to: hospital.address as Address, for: 'emergency' as const, scheme: hospital.key_scheme as KeyScheme, publicKey: new Uint8Array(hospital.emergency_public_key) },
  ]
  const teams: Recipient[] = []
  for (const g of await grantees(patient.id, signal)) {
    if (g.address.toLowerCase() === doctor.account.address.toLowerCase()) continue
    if (g.teamKey) { teams.push({ to: g.address, for: 'grantee', scheme: g.key_scheme, publicKey: g.teamKey }); continue }
    // A doctor of another member hospital: its key comes from its node, checked against the ledger.
    recipients.push({ to: g.address, for: 'grantee', scheme: g.key_scheme, publicKey: await publicKeyOf(s, g, signal) })
  }
  const onChain = await readKeyDigests(s.ledger, { accounts: [recipients[0].to, recipients[1].to, ...recipients.slice(3).map((r) => r.to)], hospitals: [recipients[2].to] })
  const expected = [onChain.accounts[0], onChain.accounts[1], onChain.hospitals[0], ...onChain.accounts.slice(2)]
  recipients.forEach((r, i) => {
    if (bytesToHex(hashSha256(r.publicKey)) !== expected[i]) {
      throw new AppError('PUBLIC_KEY_MISMATCH', { details: `key of ${r.for} ${r.to} differs from the Registry` })
    }
  })
  return [...recipients, ...teams]
}

/**
 * Anchors the pending `row` through the hospital's group committer (signed by the author's key),
 * which marks it anchored once its transaction is mined; `row` is updated to match. When the chain refuses it, the row is deleted and its
 * `blocks` unpinned. Not abortable once signed: other uploads may share its transaction.
 * @throws AppError LEDGER_*
 */
async function anchorAndSettle(
  s: Services,
  row: RecordRow,
  { author, patient, hospital, blocks }: {
    author: AnchorRecordParams['author']
    patient: Address
    hospital: Address
    blocks: CID[]
  },
): Promise<void> {
  const recordId = row.record_id
  try {
    const leaf = await signLeaf(s.ledger, author, { recordId, patient, hospital, digest: row.digest, envelopes: row.envelopes })
    const { receipt, anchoredAt } = await anchorQueued(s, row.hospital_id, { author, leaf })
    row.state = 'anchored'
    row.tx_hash = receipt.transactionHash
    row.block_number = Number(receipt.blockNumber)
    row.anchored_at = anchoredAt
  } catch (err) {
    // Refused by the chain (not merely unanswered): the record never existed, and its blocks
    // are released for garbage collection. When the chain merely did not answer, the anchor
    // may still be mined from the journal, so the blocks stay pinned.
    if ((err as AppError).code === 'LEDGER_REVERTED') {
      await s.db.run('DELETE FROM record_proofs WHERE record_id = ?', recordId)
      await s.db.run('DELETE FROM records WHERE record_id = ?', recordId)
      await deleteRecordIndex(s.db, row.patient_id, recordId)
      for (const cid of blocks) {
        try {
          for await (const _ of s.ipfs.helia.pins.rm(cid)) { /* drains the unpinning */ }
        } catch (e) {
          s.log('warn', `could not unpin ${cid}: ${(e as Error).message}`)
        }
      }
    }
    throw err
  }
}

async function accountPublicKey(s: Services, id: string): Promise<Buffer> {
  return (await s.db.get('SELECT public_key FROM accounts WHERE id = ?', id) as { public_key: Buffer }).public_key
}

function checkMediaType(t: string): string {
  const v = t.split(';')[0].trim().toLowerCase()
  if (!/^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/.test(v)) {
    throw new AppError('VALIDATION_FAILED', { message: 'The media type is not of the form type/subtype.' })
  }
  return v
}

