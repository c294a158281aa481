import { getAbiItem, type Address, type Hex } from 'viem'
import { generateRecordId } from '../crypto/tokens.ts'
import { requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { readContract } from '../ledger/read-contract.ts'
import { registryAbi, researchAbi } from '../ledger/abis.ts'
import { researchAddress } from '../ledger/research/research-address.ts'
import { hasResearchConsent } from '../ledger/research/has-research-consent.ts'
import { sendExportRequest } from '../ledger/research/send-export-request.ts'
import { sendStudyExport } from '../ledger/research/send-study-export.ts'
import { getChunkedBlob } from '../storage/chunked-blob.ts'
import { LOG_CHUNK_BLOCKS } from '../ledger/log-chunks.ts'
import { AppError } from '../errors.ts'
import { addResource, buildExport, hashManifest, kOf, nextExportNumber, recordExport, type DeidentifiedSet, type ExportHospital, type ExportStudyResult } from './export-study.ts'
import { openExportPart } from './export-part-box.ts'
import type { ExportPartPayload } from './export-part.ts'
import { findStudy, type StudyRow } from './studies.ts'
import type { Services } from '../services.ts'
import { oneAtATime } from '../db/one-at-a-time.ts'

/** An export across nodes as it stands: the hospitals asked and which have answered. */
export interface ExportProgress {
  exportId: Hex
  studyId: Hex
  txHash: Hex
  hospitals: ExportHospital[]
  /** Hospitals that submitted their part. */
  answered: number
}

interface RequestRow { export_id: Hex; study_id: Hex; researcher_id: string; hospitals: string; tx_hash: Hex; block_number: number; export_number?: number | null }
interface PartEvent { hospital: Address; digest: Hex; patients: number; resources: number }

/** Exports being collected by this process now: a second collect of one is refused meanwhile. */

/** Time one part may take to arrive from its home node's IPFS. */
const PART_FETCH_MS = 60_000

/** The researcher's own approved study, or the error that says why not. */
async function ownApprovedStudy(s: Services, who: Actor, id: string): Promise<StudyRow> {
  const study = await findStudy(s, id)
  if (!study || study.researcher_id !== who.account.id) throw new AppError('UNKNOWN_STUDY')
  if (study.state !== 'approved') throw new AppError('STUDY_NOT_APPROVED')
  return study
}

/**
 * One Research event's logs matching `args` (indexed), from block `from` to the head, read in
 * windows of LOG_CHUNK_BLOCKS (under the RPC caps of consortium chains).
 */
async function researchLogs(s: Services, name: 'ResearchConsentGiven' | 'HospitalResearchConsentGiven' | 'ExportPartSubmitted', args: Record<string, unknown>, from: number): Promise<{ args: Record<string, unknown> }[]> {
  const head = Number(await s.ledger.client.getBlockNumber({ cacheTime: 0 }))
  const address = researchAddress(s.ledger)
  const event = getAbiItem({ abi: researchAbi, name })
  const logs: { args: Record<string, unknown> }[] = []
  for (let start = Math.max(0, from); start <= head; start += LOG_CHUNK_BLOCKS) {
    const window = { fromBlock: BigInt(start), toBlock: BigInt(Math.min(head, start + LOG_CHUNK_BLOCKS - 1)) }
    logs.push(...await s.ledger.client.getLogs({ address, event, args, ...window } as never) as unknown as { args: Record<string, unknown> }[])
  }
  return logs
}

/**
 * The hospitals home to the patients whose consent to `study` is live on chain now (a consent to
 * the study, or to all of its researcher's hospital's studies): those asked to answer an export.
 * Read from the chain (Research events and the Registry), which names patients by address only.
 */
async function expectedHospitals(s: Services, study: StudyRow): Promise<Address[]> {
  const research = researchAddress(s.ledger)
  const { hospital } = await readContract(s.ledger, { address: research, abi: researchAbi, functionName: 'studyOf', args: [study.id] })
  // A study's own consents come after its proposal; a consent to all of a hospital's studies may come before.
  const proposed = study.tx_hash ? await s.ledger.client.getTransactionReceipt({ hash: study.tx_hash as Hex }).then((r) => Number(r.blockNumber), () => 0) : 0
  const given = await researchLogs(s, 'ResearchConsentGiven', { studyId: study.id }, proposed)
  const all = await researchLogs(s, 'HospitalResearchConsentGiven', { hospital }, 0)
  const patients = new Set([...given, ...all].map((l) => (l.args.patient as Address).toLowerCase() as Address))
  const homes = new Set<Address>()
  for (const patient of patients) {
    if (!(await hasResearchConsent(s.ledger, { studyId: study.id, patient }))) continue
    const account = await readContract(s.ledger, { address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'accountOf', args: [patient] })
    homes.add(account.hospital.toLowerCase() as Address)
  }
  return [...homes].sort()
}

/**
 * The study's researcher asks for an export across nodes: on chain (`Research.requestExport`
 * from the researcher's key), so that every node home to consenting patients de-identifies
 * them and submits its part; the hospitals expected to answer are kept here.
 * @throws AppError FORBIDDEN, UNKNOWN_STUDY, STUDY_NOT_APPROVED, KEYS_LOCKED, RESEARCH_UNAVAILABLE, LEDGER_*
 */
export async function requestStudyExport(s: Services, { actor, id, signal }: { actor: Actor | undefined; id: string; signal?: AbortSignal }): Promise<ExportProgress> {
  const who = requireRole(actor, 'researcher')
  const study = await ownApprovedStudy(s, who, id)
  const keys = requireKeys(who)
  const hospitals = await expectedHospitals(s, study)
  const exportId = generateRecordId()
  const receipt = await sendExportRequest(s.ledger, { researcher: keys.ledger, studyId: study.id, exportId, signal })
  await s.db.run(`INSERT INTO study_export_requests (export_id, study_id, researcher_id, hospitals, tx_hash, block_number, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    exportId, study.id, who.account.id, JSON.stringify(hospitals), receipt.transactionHash, Number(receipt.blockNumber), Date.now())
  return progressOf(s, { export_id: exportId, study_id: study.id, researcher_id: who.account.id, hospitals: JSON.stringify(hospitals), tx_hash: receipt.transactionHash, block_number: Number(receipt.blockNumber) })
}

/**
 * Where an export across nodes stands: the hospitals asked, and which answered (from the chain).
 * @throws AppError FORBIDDEN, UNKNOWN_STUDY, UNKNOWN_EXPORT, LEDGER_UNAVAILABLE
 */
export async function studyExportProgress(s: Services, { actor, id, exportId }: { actor: Actor | undefined; id: string; exportId: string }): Promise<ExportProgress> {
  const who = requireRole(actor, 'researcher')
  return progressOf(s, await requestOf(s, who, id, exportId))
}

async function requestOf(s: Services, who: Actor, id: string, exportId: string): Promise<RequestRow> {
  const study = await findStudy(s, id)
  if (!study || study.researcher_id !== who.account.id) throw new AppError('UNKNOWN_STUDY')
  const hex = exportId.trim().toLowerCase()
  const row = /^0x[0-9a-f]{64}$/.test(hex) ? await s.db.get<RequestRow>('SELECT * FROM study_export_requests WHERE export_id = ? AND study_id = ? AND researcher_id = ?', hex, study.id, who.account.id) : undefined
  if (!row) throw new AppError('UNKNOWN_EXPORT')
  return row
}

/** The parts submitted on chain for an export (`ExportPartSubmitted`), one per hospital. */
async function partsOf(s: Services, row: RequestRow): Promise<PartEvent[]> {
  const logs = await researchLogs(s, 'ExportPartSubmitted', { exportId: row.export_id }, Number(row.block_number))
  const parts = new Map<string, PartEvent>()
  for (const l of logs) {
    const a = l.args as { hospital: Address; digest: Hex; patients: number; resources: number }
    parts.set(a.hospital.toLowerCase(), { hospital: a.hospital.toLowerCase() as Address, digest: a.digest, patients: Number(a.patients), resources: Number(a.resources) })
  }
  return [...parts.values()]
}

async function progressOf(s: Services, row: RequestRow): Promise<ExportProgress> {
  const parts = await partsOf(s, row)
  const asked = new Set([...(JSON.parse(row.hospitals) as Address[]), ...parts.map((p) => p.hospital)])
  const hospitals: ExportHospital[] = []
  for (const hospital of [...asked].sort()) {
    const part = parts.find((p) => p.hospital === hospital)
    const name = (await s.db.get<{ name: string }>('SELECT name FROM hospitals WHERE address = ?', hospital))?.name ?? null
    hospitals.push({ hospital, name, answered: Boolean(part), parts: part ? 1 : 0, patients: part?.patients ?? 0, resources: part?.resources ?? 0 })
  }
  return { exportId: row.export_id, studyId: row.study_id, txHash: row.tx_hash, hospitals, answered: parts.length }
}

/**
 * The researcher collects an export across nodes: each part submitted on chain is fetched from
 * IPFS (checked against its digest), decrypted with the researcher's key, and merged — NDJSON
 * per type, the DICOM, C-CDA and HL7 v2 files, and k over every part's quasi-identifiers. Refused
 * under the study's min-k; the manifest lists each hospital asked (`hospitals`, with those that
 * did not answer) and the export is recorded on chain as a single-node one is. Collected once: a
 * second collect (or one while the first runs) is refused and records nothing.
 * @throws AppError FORBIDDEN, UNKNOWN_STUDY, STUDY_NOT_APPROVED, UNKNOWN_EXPORT, EXPORT_ALREADY_COLLECTED, NO_EXPORT_PARTS, K_TOO_SMALL, KEYS_LOCKED, RECORD_UNAVAILABLE, RECORD_INTEGRITY, LEDGER_*
 */
export async function collectStudyExport(s: Services, { actor, id, exportId, signal }: { actor: Actor | undefined; id: string; exportId: string; signal?: AbortSignal }): Promise<ExportStudyResult> {
  const who = requireRole(actor, 'researcher')
  const study = await ownApprovedStudy(s, who, id)
  const row = await requestOf(s, who, id, exportId)
  const keys = requireKeys(who)
  // Collects of one export run one after another on this node: a second finds the first's mark.
  return oneAtATime(s.db, `study-export:${row.export_id}`, async () => {
    const now = await requestOf(s, who, id, exportId)
    if (now.export_number !== null && now.export_number !== undefined) throw new AppError('EXPORT_ALREADY_COLLECTED', { details: `export ${now.export_id} recorded as number ${now.export_number}` })
    // Sent before and not refused, though not marked (the node stopped before the receipt): on chain, or on its way there.
    if (await s.db.get(`SELECT 1 FROM journal WHERE purpose = 'study-export' AND ref = ? AND state <> 'reverted'`, now.export_id)) {
      throw new AppError('EXPORT_ALREADY_COLLECTED', { details: `export ${now.export_id} was sent to the chain already` })
    }
    return await collectParts(s, { who, keys, study, row: now, signal })
  })
}

/** Fetches, opens and merges an export's parts, refuses it under min-k, records it on chain once. */
async function collectParts(s: Services, { who, keys, study, row, signal }: { who: Actor; keys: ReturnType<typeof requireKeys>; study: StudyRow; row: RequestRow; signal?: AbortSignal }): Promise<ExportStudyResult> {
  const progress = await progressOf(s, row)
  const parts = await partsOf(s, row)
  if (progress.hospitals.length > 0 && parts.length === 0) throw new AppError('NO_EXPORT_PARTS')
  const set: DeidentifiedSet = { byType: new Map(), quasi: [], skippedRecords: 0, images: new Map(), documents: new Map(), messages: new Map() }
  let patients = 0
  for (const part of parts) {
    const timeout = AbortSignal.timeout(PART_FETCH_MS)
    const sealed = await getChunkedBlob(s.ipfs.blockstore, part.digest, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout })
    const plain = await openExportPart({ scheme: who.account.keyScheme, privateKey: keys.encryptionPrivateKey, exportId: row.export_id, hospital: part.hospital, sealed })
    const payload = parsePart(plain)
    if (payload.exportId !== row.export_id || String(payload.hospital).toLowerCase() !== part.hospital || payload.patients !== part.patients) {
      throw new AppError('RECORD_INTEGRITY', { details: `part of ${part.hospital} does not match its entry on chain` })
    }
    mergePart(set, payload)
    patients += payload.patients
  }
  const k = kOf(set.quasi)
  if (study.min_k !== null && k < Number(study.min_k)) throw new AppError('K_TOO_SMALL', { details: `k ${k} < min-k ${study.min_k}` })
  const exportNumber = await nextExportNumber(s, study)
  const { manifest, files, total } = buildExport({ study, exportNumber, patients, set, extra: { exportId: row.export_id, hospitals: progress.hospitals } })
  const manifestHash = hashManifest(manifest)
  const receipt = await sendStudyExport(s.ledger, { researcher: keys.ledger, studyId: study.id, patients, resources: total, manifestHash, ref: row.export_id, signal })
  // On chain now: marked collected first, so that nothing after it lets a second collect record it again.
  await s.db.run('UPDATE study_export_requests SET export_number = ? WHERE export_id = ?', exportNumber, row.export_id)
  await recordExport(s, { study, exportNumber, manifest, manifestHash, total, txHash: receipt.transactionHash, subjects: [] })
  return { manifest, manifestHash, txHash: receipt.transactionHash, files }
}

/** One NDJSON line of a part: a resource whose type names a file of the export. */
function resourceOf(line: string, hospital: string): Record<string, unknown> {
  let r: Record<string, unknown> | undefined
  try {
    r = JSON.parse(line) as Record<string, unknown>
  } catch {
    r = undefined
  }
  if (typeof r !== 'object' || r === null || typeof r.resourceType !== 'string' || !/^[A-Za-z]+$/.test(r.resourceType)) {
    throw new AppError('RECORD_INTEGRITY', { details: `a line of the part of ${hospital} is not a FHIR resource` })
  }
  return r
}

/** A part's JSON, of the shape a home node writes (another member hospital made it: checked, not trusted). */
function parsePart(plain: Uint8Array): ExportPartPayload {
  let payload: ExportPartPayload
  try {
    payload = JSON.parse(Buffer.from(plain).toString('utf8')) as ExportPartPayload
  } catch (cause) {
    throw new AppError('RECORD_INTEGRITY', { cause, details: 'export part is not JSON' })
  }
  const shaped = typeof payload === 'object' && payload !== null && Array.isArray(payload.files) && Array.isArray(payload.quasi)
    && payload.files.every((f) => typeof f?.name === 'string' && typeof f.content === 'string') && payload.quasi.every((q) => typeof q === 'object' && q !== null)
  if (!shaped) throw new AppError('RECORD_INTEGRITY', { details: 'export part is not of the expected shape' })
  return payload
}

const FILE_NAME = /^([A-Za-z]+\.ndjson|dicom\/2\.25\.\d+\.dcm|ccda\/[0-9a-f]{32}\.xml|hl7v2\/[0-9a-f]{32}\.hl7)$/

/** Adds one part's files and quasi-identifiers to the export; a file of another name is refused. */
function mergePart(set: DeidentifiedSet, payload: ExportPartPayload): void {
  for (const f of payload.files) {
    if (!FILE_NAME.test(f.name)) throw new AppError('RECORD_INTEGRITY', { details: `unexpected file name in the part of ${payload.hospital}` })
    if (f.name.endsWith('.ndjson')) {
      for (const line of f.content.split('\n')) if (line.trim()) addResource(set, resourceOf(line, payload.hospital))
    } else if (f.name.startsWith('dicom/')) set.images.set(f.name, Buffer.from(f.content, 'base64'))
    else if (f.name.startsWith('ccda/')) set.documents.set(f.name, f.content)
    else set.messages.set(f.name, f.content)
  }
  for (const q of payload.quasi) set.quasi.push({ pseudonym: String(q.pseudonym), birthYear: String(q.birthYear), sex: String(q.sex), zip3: String(q.zip3) })
  set.skippedRecords += Number(payload.skippedRecords) || 0
}
