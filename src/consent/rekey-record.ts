import { bytesToHex, hexToBytes, toHex, type Address, type Hex, type TransactionReceipt } from 'viem'
import { publicKeyOf } from '../accounts/directory.ts'
import { requireKeys, type Actor, type AccountRow } from '../accounts/account.ts'
import type { HospitalRow } from '../accounts/hospital.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import type { KeyScheme } from '../crypto/key-wrap.ts'
import { decryptStream, encryptStream, generateDataKey } from '../crypto/stream.ts'
import { generateRecordId, parseRecordId } from '../crypto/tokens.ts'
import { AppError, isAppError } from '../errors.ts'
import { readKeyDigests } from '../ledger/read-key-digests.ts'
import { isGrantLive } from '../ledger/consent/is-grant-live.ts'
import { isShareLive } from '../ledger/consent/is-share-live.ts'
import { readRekeyState } from '../ledger/rekey/read-rekey-state.ts'
import { sendSupersede } from '../ledger/rekey/send-supersede.ts'
import { addCiphertext } from '../storage/add-ciphertext.ts'
import { getRawBlockVerified, putRawBlock } from '../storage/raw-block.ts'
import { cidFromDigest, digestFromCid, readLeaves, verifyDag } from '../storage/read-verified.ts'
import { assertAnchored } from '../records/assert-anchored.ts'
import { dropRecordBlocks } from '../records/drop-record-blocks.ts'
import { openEnvelopes, parseEnvelopes, sealEnvelopes, type EnvelopeRecipient } from '../records/envelopes.ts'
import { insertRecord } from '../records/insert-record.ts'
import { shareHolders, splitDataKey } from '../records/emergency-shares.ts'
import { deleteRecordIndex, openSearchKey, openTerms } from '../records/search/search-key.ts'
import { indexRecordTerms } from '../records/search/index-record-terms.ts'
import type { RecordRow } from '../records/record.ts'
import { applyRecordSuperseded, supersededAnswer } from './apply-record-superseded.ts'
import { listAllRecordsGrantees } from './list-all-records-grantees.ts'
import { wrapResearchKey } from './research-keys.ts'
import type { Services } from '../services.ts'

export interface RekeyRecordParams {
  actor: Actor | undefined
  recordId: string
  signal?: AbortSignal
}

export interface RekeyRecordResult {
  /** The new version's id: reads, lists and grants name it from now on. */
  recordId: Hex
  /** The id it supersedes, which now answers 410 RECORD_SUPERSEDED. */
  supersedes: Hex
  txHash: Hex
  /**
   * Whom the new data key is wrapped for: always the patient and the emergency path, the home
   * hospital's emergency key or, in a consortium, `emergencyShares` member hospitals' shares.
   */
  wrappedFor: { patient: true; author: boolean; grantees: number; emergency: true; emergencyShares: number }
}

type Recipient = { to: Address; for: EnvelopeRecipient; scheme: KeyScheme; publicKey: Uint8Array }
type Party = Pick<AccountRow, 'id' | 'address' | 'key_scheme' | 'public_key' | 'state' | 'role'>

/**
 * Re-keys a record: decrypts it on its home node, encrypts it again under a new data key, wraps
 * that key only for whoever may read it now (the patient, the author while an active doctor, the
 * doctors holding a live grant or named share that covers it, the emergency path as an upload
 * makes it now: the hospital's emergency key, or k-of-n shares among member hospitals),
 * anchors the new version as superseding the old one (`RecordLedger.supersede`, from the actor's
 * own key) and drops the old version here; every other node drops it on the `RecordSuperseded`
 * event. The patient may always re-key; the author only once the patient allowed it on chain
 * (`allowRekey`). Share tokens covering the record end with it (only their hash is kept).
 * @throws AppError UNAUTHENTICATED, RECORD_NOT_FOUND, RECORD_SUPERSEDED, REKEY_NOT_ALLOWED,
 *   KEYS_LOCKED, RECORD_INTEGRITY, RECORD_UNAVAILABLE, PUBLIC_KEY_MISMATCH, LEDGER_*, STORAGE_*
 */
export async function rekeyRecord(s: Services, { actor, recordId, signal }: RekeyRecordParams): Promise<RekeyRecordResult> {
  if (!actor) throw new AppError('UNAUTHENTICATED')
  const id = parseRecordId(recordId)
  const row = await s.db.get(`SELECT * FROM records WHERE record_id = ? AND state = 'anchored'`, id) as RecordRow | undefined
  if (!row) throw await supersededAnswer(s, id) ?? new AppError('RECORD_NOT_FOUND')
  const byPatient = actor.account.id === row.patient_id
  if (!byPatient && actor.account.id !== row.author_id) throw new AppError('RECORD_NOT_FOUND')
  const keys = requireKeys(actor)
  const q = 'SELECT id, address, key_scheme, public_key, state, role FROM accounts WHERE id = ?'
  const patient = await s.db.get(q, row.patient_id) as Party
  const author = await s.db.get(q, row.author_id) as Party
  const hospital = await s.db.get('SELECT * FROM hospitals WHERE id = ?', row.hospital_id) as HospitalRow
  const { root } = await assertAnchored(s, row, { fresh: true })
  if (!byPatient && !(await readRekeyState(s.ledger, { recordId: id, patient: patient.address as Address })).authorAllowed) throw new AppError('REKEY_NOT_ALLOWED')

  const env = parseEnvelopes(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.envelopes), 'raw'), { signal }), id)
  const opened = await openEnvelopes(env, { address: actor.account.address, scheme: actor.account.keyScheme, privateKey: keys.encryptionPrivateKey })
  const recipients = await currentRecipients(s, { row, patient, author, hospital, signal })

  const newId = generateRecordId()
  // The emergency path as it is now: in a consortium the new key is split among member
  // hospitals' emergency keys (k of n, as an upload does) instead of wrapped for the home one alone.
  const split = await shareHolders(s, { recordId: newId, home: hospital, signal })
  const dataKey = generateDataKey(row.suite)
  const { leaves } = await verifyDag(s.ipfs.blockstore, cidFromDigest(hexToBytes(row.digest), 'dag'), { signal })
  const plaintext = decryptStream(readLeaves(s.ipfs.blockstore, leaves, { signal }), { key: opened.dataKey, signal })
  const stored = await addCiphertext(s.ipfs, encryptStream(plaintext, { key: dataKey, suite: row.suite, signal }), { signal })
  const shares = split && await splitDataKey(dataKey, { recordId: newId, k: split.k, holders: split.holders })
  const sealed = await sealEnvelopes({ recordId: newId, suite: row.suite, dataKey, manifest: opened.manifest, recipients: split ? recipients.filter((r) => r.for !== 'emergency') : recipients, shares })
  const envelopesCid = await putRawBlock(s.ipfs, sealed, { signal })
  const keepResearchCopy = await wrapResearchKey(s, { patientId: row.patient_id, recordId: newId, hospitalId: row.hospital_id, dataKey })
  dataKey.fill(0)
  opened.dataKey.fill(0)
  const digest = toHex(stored.digest)
  const envelopes = toHex(digestFromCid(envelopesCid))

  const batch = root ? await s.db.get<{ root: Hex; proof: string; signature: Hex }>('SELECT root, proof, signature FROM record_proofs WHERE record_id = ?', id) : undefined
  // The new row is written pending before its supersede is journaled, as an upload's: never listed
  // or served until anchored, and settled from the journal at start (settleAnchors) or from the
  // node's own RecordAnchored by its follower when this flow never handles the receipt.
  const fresh: RecordRow = { ...row, record_id: newId, digest, envelopes, stored_bytes: stored.size, state: 'pending', tx_hash: null, block_number: null, anchored_at: null, created_at: Date.now() }
  await insertRecord(s.db, fresh)
  // Moved while pending (a pending record's tokens match nothing): a failure here only costs search hits.
  await moveSearchIndex(s, { patientId: row.patient_id, from: id, to: newId })
    .catch((err: unknown) => s.log('warn', `re-key ${newId}: search terms not moved: ${(err as Error).message}`))
  const receipt = await supersedeOrForget(s, fresh, {
    by: keys.ledger,
    old: { recordId: id, patient: patient.address as Address, author: author.address as Address, hospital: hospital.address as Address, digest: row.digest, envelopes: row.envelopes },
    batch: batch && { root: batch.root, proof: JSON.parse(batch.proof) as Hex[], signature: batch.signature },
    newId, digest, envelopes, signal,
  })
  const block = await s.ledger.client.getBlock({ blockNumber: receipt.blockNumber })
  await s.db.run(`UPDATE records SET state = 'anchored', tx_hash = ?, block_number = ?, anchored_at = ? WHERE record_id = ?`,
    receipt.transactionHash, Number(receipt.blockNumber), Number(block.timestamp), newId)
  // The re-key is on chain: should dropping the old version fail here, the follower applies the
  // same RecordSuperseded event again (and retries it) rather than the caller re-keying again.
  await applyRecordSuperseded(s, { oldId: id, newId, txHash: receipt.transactionHash })
    .catch((err: unknown) => s.log('warn', `re-key ${newId}: the old version is not dropped yet, the follower will retry: ${(err as Error).message}`))
  // The old version's research copy went with it (dropGrantKeys); a live research consent keeps one of the new.
  await keepResearchCopy?.().catch((err: unknown) => s.log('warn', `re-key ${newId}: research key copy not kept: ${(err as Error).message}`))
  return {
    recordId: newId, supersedes: id, txHash: receipt.transactionHash,
    wrappedFor: {
      patient: true, author: recipients.some((r) => r.for === 'author'), grantees: recipients.filter((r) => r.for === 'grantee').length,
      emergency: true, emergencyShares: shares?.n ?? 0,
    },
  }
}

/**
 * Sends the supersede of the pending row `fresh` and waits for it. Refused by the chain: the new
 * version never existed, and its row, search entry and blocks go. Unanswered (or the node stops):
 * it may still be mined from the journal, so the row stays pending and is settled from the
 * journal at start or by the follower.
 * @throws AppError LEDGER_REVERTED, LEDGER_UNAVAILABLE
 */
async function supersedeOrForget(s: Services, fresh: RecordRow, p: Parameters<typeof sendSupersede>[1]): Promise<TransactionReceipt> {
  try {
    return await sendSupersede(s.ledger, p)
  } catch (err) {
    if (isAppError(err, 'LEDGER_REVERTED')) {
      await s.db.run(`DELETE FROM records WHERE record_id = ? AND state = 'pending'`, fresh.record_id)
      await deleteRecordIndex(s.db, fresh.patient_id, fresh.record_id)
      await dropRecordBlocks(s, { digest: fresh.digest, envelopes: fresh.envelopes })
    }
    throw err
  }
}

/**
 * Whom the new data key is wrapped for, each key checked against the digest the Registry holds:
 * the patient, the author while an active doctor, the hospital's emergency key, the doctors
 * holding a live grant (to all records, or naming this one) or a live named share of it, and the
 * care teams holding a live grant (their team key, checked against CareTeams instead).
 * @throws AppError PUBLIC_KEY_MISMATCH, LEDGER_*, RECORD_UNAVAILABLE (a remote grantee's key)
 */
async function currentRecipients(s: Services, { row, patient, author, hospital, signal }: { row: RecordRow; patient: Party; author: Party; hospital: HospitalRow; signal?: AbortSignal }): Promise<Recipient[]> {
  const accounts: Recipient[] = [{ to: patient.address as Address, for: 'patient', scheme: patient.key_scheme, publicKey: new Uint8Array(patient.public_key) }]
  if (author.role === 'doctor' && author.state === 'active') {
    accounts.push({ to: author.address as Address, for: 'author', scheme: author.key_scheme, publicKey: new Uint8Array(await publicKeyOf(s, author, signal)) })
  }
  const seen = new Set([patient.id, author.id])
  // A care team with a live grant gets the key wrapped for its current team key, as an upload
  // wraps it (checked against CareTeams by listTeamGrantees; a team is not in the Registry).
  const teams: Recipient[] = []
  for (const g of await liveGrantees(s, { row, signal })) {
    if (seen.has(g.id)) continue
    seen.add(g.id)
    if (g.teamKey) teams.push({ to: g.address as Address, for: 'grantee', scheme: g.key_scheme, publicKey: g.teamKey })
    else accounts.push({ to: g.address as Address, for: 'grantee', scheme: g.key_scheme, publicKey: await publicKeyOf(s, g, signal) })
  }
  const emergency: Recipient = { to: hospital.address as Address, for: 'emergency', scheme: hospital.key_scheme, publicKey: new Uint8Array(hospital.emergency_public_key) }
  const onChain = await readKeyDigests(s.ledger, { accounts: accounts.map((r) => r.to), hospitals: [emergency.to] })
  const expected = [...onChain.accounts, onChain.hospitals[0]]
  const all = [...accounts, emergency]
  all.forEach((r, i) => {
    if (bytesToHex(hashSha256(r.publicKey)) !== expected[i]) throw new AppError('PUBLIC_KEY_MISMATCH', { details: `key of ${r.for} ${r.to} differs from the Registry` })
  })
  return [...all, ...teams]
}

type Grantee = Pick<AccountRow, 'id' | 'address' | 'key_scheme' | 'public_key'> & { teamKey?: Uint8Array }

/** The doctors who may read the record now by a grant or a named share, as the chain says. */
async function liveGrantees(s: Services, { row, signal }: { row: RecordRow; signal?: AbortSignal }): Promise<Grantee[]> {
  const out: Grantee[] = [...await listAllRecordsGrantees(s, { patientId: row.patient_id, signal })]
  const listed = await s.db.all(`SELECT a.id, a.address, a.key_scheme, a.public_key, r.request_id AS ref, r.granted_record_ids AS ids FROM access_requests r
    JOIN accounts a ON a.id = r.requester_id WHERE r.patient_id = ? AND r.status = 'approved' AND r.granted_record_ids IS NOT NULL`, row.patient_id) as (Grantee & { ref: Hex; ids: string })[]
  for (const g of listed) {
    if ((JSON.parse(g.ids) as string[]).includes(row.record_id) && await isGrantLive(s.ledger, { requestId: g.ref, grantee: g.address as Address })) out.push(g)
  }
  const shares = await s.db.all(`SELECT a.id, a.address, a.key_scheme, a.public_key, sh.share_id AS ref, sh.record_ids AS ids FROM shares sh
    JOIN accounts a ON a.id = sh.grantee_id WHERE sh.patient_id = ? AND sh.revoked_at IS NULL`, row.patient_id) as (Grantee & { ref: Hex; ids: string })[]
  for (const g of shares) {
    if ((JSON.parse(g.ids) as string[]).includes(row.record_id) && await isShareLive(s.ledger, { shareId: g.ref })) out.push(g)
  }
  return out
}

/** The old version's search terms indexed under the new id (the terms are sealed with their record id). */
async function moveSearchIndex(s: Services, { patientId, from, to }: { patientId: string; from: Hex; to: Hex }): Promise<void> {
  const held = await s.db.get('SELECT sealed FROM record_terms WHERE record_id = ?', from) as { sealed: string } | undefined
  if (!held) return
  const key = await openSearchKey(s, patientId)
  if (!key) return
  let terms: string[]
  try {
    terms = openTerms(key.key, from, held.sealed)
  } finally {
    key.key.fill(0)
  }
  await indexRecordTerms(s, { recordId: to, patientId, terms })
}
