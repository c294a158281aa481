import { createHmac } from 'node:crypto'
import { bytesToHex, type Address, type Hex } from 'viem'
import { hashSha256 } from '../crypto/hashes.ts'
import { requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { hasResearchConsent } from '../ledger/research/has-research-consent.ts'
import { sendStudyExport } from '../ledger/research/send-study-export.ts'
import { researchAddress } from '../ledger/research/research-address.ts'
import { readContract } from '../ledger/read-contract.ts'
import { researchAbi } from '../ledger/abis.ts'
import { openRecordKeys } from '../records/open-record-keys.ts'
import { readRecord } from '../records/read-record.ts'
import { deidentifyFhir, fhirDeidentificationRules, pseudonymOf } from '../records/deidentify-fhir.ts'
import { deidentifyDicom, dicomDeidentificationRules } from '../records/deidentify-dicom.ts'
import { ccdaDeidentificationRules, deidentifyCcda } from '../records/deidentify-ccda.ts'
import { deidentifyHl7, hl7DeidentificationRules } from '../records/deidentify-hl7.ts'
import { deidentifiedQuasi, type QuasiIdentifiers } from '../records/deidentified-quasi.ts'
import type { RecordRow } from '../records/record.ts'
import { AppError, isAppError } from '../errors.ts'
import { findStudy, type StudyRow } from './studies.ts'
import { openResearchKey } from './research-keys.ts'
import type { Services } from '../services.ts'

/** The manifest of an export (`manifest.json`), on chain by its SHA-256. */
export interface ExportManifest {
  studyId: Hex
  exportNumber: number
  patients: number
  resources: Record<string, number>
  /** The smallest group of patients sharing birth year, sex and 3-digit ZIP (0 with no patient). */
  k: number
  minK: number | null
  rules: readonly string[]
  /** DICOM files exported (`dicom/<SOP instance UID>.dcm`, de-identified). */
  dicom: number
  /** C-CDA documents exported (`ccda/<pseudonym>.xml`, de-identified). */
  ccda: number
  /** HL7 v2 messages exported (`hl7v2/<pseudonym>.hl7`, de-identified). */
  hl7v2: number
  /** Records of consenting patients left out: DICOM with burned-in annotation or in a transfer syntax not written again (JPIP), other files. */
  skippedRecords: number
  output: { type: string; url: string; count: number; sha256: string }[]
  /** An export across nodes: its id on chain (`Research.requestExport`). */
  exportId?: Hex
  /** An export across nodes: each hospital asked (home to consenting patients), whether it answered, and its part's counts. */
  hospitals?: ExportHospital[]
}

/** One hospital's part of an export across nodes, as the manifest lists it. */
export interface ExportHospital {
  hospital: Address
  name: string | null
  answered: boolean
  parts: number
  patients: number
  resources: number
}

export interface ExportStudyResult {
  manifest: ExportManifest
  manifestHash: Hex
  txHash: Hex
  /** NDJSON per resource type (`{ name: 'Condition.ndjson', content }`), DICOM files in base64 (`{ name: 'dicom/2.25….dcm', content, encoding: 'base64' }`), C-CDA documents (`ccda/<hex>.xml`), HL7 v2 messages (`hl7v2/<hex>.hl7`). */
  files: { name: string; content: string; encoding?: 'base64' }[]
}

/** Records larger than this are not read for an export. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024

/** A consenting patient of this node. */
export interface Subject { id: string; address: Address; hospitalId: string }

/** One patient's generalized quasi-identifiers, by their pseudonym in the study. */
export interface QuasiTuple { pseudonym: string; birthYear: string; sex: string; zip3: string }

/** Consenting patients' records, de-identified on their home node: what an export (or one hospital's part of it) holds. */
export interface DeidentifiedSet {
  /** Resources by type, each by its pseudonymous id. */
  byType: Map<string, Map<string, Record<string, unknown>>>
  quasi: QuasiTuple[]
  skippedRecords: number
  images: Map<string, Uint8Array>
  documents: Map<string, string>
  messages: Map<string, string>
}

/**
 * A study's researcher exports it: the records of the patients whose consent is live on chain
 * now, decrypted on this node (their home node) with their hospital's key, de-identified per
 * HIPAA Safe Harbor (FHIR resources), pseudonymized per study, as NDJSON per resource type and a
 * manifest. Refused when k is under the study's min-k. The export is recorded on chain (counts
 * and manifest hash) and in each included patient's timeline.
 * @throws AppError FORBIDDEN, UNKNOWN_STUDY, STUDY_NOT_APPROVED, K_TOO_SMALL, RESEARCH_UNAVAILABLE, LEDGER_*
 */
export async function exportStudy(s: Services, { actor, id, signal }: { actor: Actor | undefined; id: string; signal?: AbortSignal }): Promise<ExportStudyResult> {
  const who = requireRole(actor, 'researcher')
  const study = await findStudy(s, id)
  if (!study || study.researcher_id !== who.account.id) throw new AppError('UNKNOWN_STUDY')
  if (study.state !== 'approved') throw new AppError('STUDY_NOT_APPROVED')
  const { live: subjects } = await consentingPatients(s, study)
  const set = await deidentifySubjects(s, { study, subjects, signal })
  const k = kOf(set.quasi)
  if (study.min_k !== null && k < Number(study.min_k)) throw new AppError('K_TOO_SMALL', { details: `k ${k} < min-k ${study.min_k}` })
  const exportNumber = await nextExportNumber(s, study)
  const { manifest, files, total } = buildExport({ study, exportNumber, patients: subjects.length, set })
  const manifestHash = hashManifest(manifest)
  // Written pending (transaction '', matched by no timeline) with whose data went into it before
  // the send: settled here, or by the follower from this node's own StudyExported when the node
  // stopped after the send, so the chain never counts an export the patients' trails miss.
  await dropDeadExports(s, study.id, exportNumber)
  await recordExport(s, { study, exportNumber, manifest, manifestHash, total, txHash: '' as Hex, subjects })
  let receipt
  try {
    receipt = await sendStudyExport(s.ledger, { researcher: requireKeys(who).ledger, studyId: study.id, patients: subjects.length, resources: total, manifestHash, signal })
  } catch (err) {
    if (isAppError(err, 'LEDGER_REVERTED')) await dropDeadExports(s, study.id, exportNumber)
    throw err
  }
  await settleExport(s, { studyId: study.id, exportNumber, manifestHash, txHash: receipt.transactionHash })
  return { manifest, manifestHash, txHash: receipt.transactionHash, files }
}

/**
 * A pending export (written before its transaction) settled with its transaction: by the flow, or
 * by the follower from this node's own `StudyExported` (study, number and manifest hash alike).
 */
export async function settleExport(s: Pick<Services, 'db'>, e: { studyId: Hex; exportNumber: number; manifestHash: Hex; txHash: Hex }): Promise<void> {
  await s.db.run(`UPDATE study_exports SET tx_hash = ? WHERE study_id = ? AND export_number = ? AND manifest_hash = ? AND tx_hash = ''`,
    e.txHash, e.studyId.toLowerCase(), e.exportNumber, e.manifestHash.toLowerCase())
}

/** Pending exports of a study from `from` on: the chain's count says they never made it (refused, or lost). */
async function dropDeadExports(s: Pick<Services, 'db'>, studyId: Hex, from: number): Promise<void> {
  await s.db.transaction(async (tx) => {
    await tx.run(`DELETE FROM study_export_patients WHERE study_id = ? AND export_number IN
      (SELECT export_number FROM study_exports WHERE study_id = ? AND export_number >= ? AND tx_hash = '')`, studyId, studyId, from)
    await tx.run(`DELETE FROM study_exports WHERE study_id = ? AND export_number >= ? AND tx_hash = ''`, studyId, from)
  })
}

/** The number the chain gives a study's next export. */
export async function nextExportNumber(s: Services, study: StudyRow): Promise<number> {
  return Number(await readContract(s.ledger, { address: researchAddress(s.ledger), abi: researchAbi, functionName: 'exportCount', args: [study.id] })) + 1
}

/** The SHA-256 of `manifest.json` as the CLI writes it: what goes on chain. */
export function hashManifest(manifest: ExportManifest): Hex {
  return bytesToHex(hashSha256(new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n')))
}

/** The smallest group of patients sharing birth year, sex and 3-digit ZIP (0 with none). */
export function kOf(quasi: readonly QuasiTuple[]): number {
  const groups = new Map<string, number>()
  for (const q of quasi) {
    const group = `${q.birthYear}|${q.sex}|${q.zip3}`
    groups.set(group, (groups.get(group) ?? 0) + 1)
  }
  return groups.size === 0 ? 0 : Math.min(...groups.values())
}

/**
 * De-identifies the records of `subjects`, patients of this node, for `study`: pseudonyms and
 * DICOM UIDs under this node's key of the study, so a patient's are the same in every export of it.
 */
export async function deidentifySubjects(s: Services, { study, subjects, signal }: { study: Pick<StudyRow, 'id'>; subjects: readonly Subject[]; signal?: AbortSignal }): Promise<DeidentifiedSet> {
  const studyKey = createHmac('sha256', s.nodeKey).update(`medledger study key|${study.id}`).digest()
  const year = new Date().getUTCFullYear()
  const set: DeidentifiedSet = { byType: new Map(), quasi: [], skippedRecords: 0, images: new Map(), documents: new Map(), messages: new Map() }
  for (const p of subjects) {
    const pseudonym = pseudonymOf(studyKey, p.address.toLowerCase())
    const { resources, quasi, skipped, dicom, ccda, hl7 } = await patientResources(s, p, { studyKey, pseudonym, year, signal })
    set.skippedRecords += skipped
    for (const [name, bytes] of dicom) set.images.set(name, bytes)
    for (const [name, xml] of ccda) set.documents.set(name, xml)
    for (const [name, message] of hl7) set.messages.set(name, message)
    for (const r of resources) addResource(set, r)
    set.quasi.push({ pseudonym, ...quasi })
  }
  return set
}

/** Adds one de-identified resource to `set`, by type and id. */
export function addResource(set: Pick<DeidentifiedSet, 'byType'>, r: Record<string, unknown>): void {
  const type = String(r.resourceType)
  if (!set.byType.has(type)) set.byType.set(type, new Map())
  set.byType.get(type)!.set(String(r.id), r)
}

/** An export's files and manifest from a de-identified set (k computed over all of its patients). */
export function buildExport({ study, exportNumber, patients, set, extra }: { study: StudyRow; exportNumber: number; patients: number; set: DeidentifiedSet; extra?: Pick<ExportManifest, 'exportId' | 'hospitals'> }): { manifest: ExportManifest; files: ExportStudyResult['files']; total: number } {
  const ndjson = [...set.byType.entries()].sort(([a], [b]) => a.localeCompare(b))
    .map(([type, rs]) => ({ type, count: rs.size, content: [...rs.values()].map((r) => JSON.stringify(r)).join('\n') + '\n' }))
  const manifest: ExportManifest = {
    studyId: study.id,
    exportNumber,
    patients,
    resources: Object.fromEntries(ndjson.map((f) => [f.type, f.count])),
    k: kOf(set.quasi),
    minK: study.min_k === null ? null : Number(study.min_k),
    rules: [...fhirDeidentificationRules, ...dicomDeidentificationRules, ...ccdaDeidentificationRules, ...hl7DeidentificationRules],
    dicom: set.images.size,
    ccda: set.documents.size,
    hl7v2: set.messages.size,
    skippedRecords: set.skippedRecords,
    // Every file with its SHA-256: the manifest's hash on chain commits to the whole export.
    output: [
      ...ndjson.map((f) => ({ type: f.type, url: `${f.type}.ndjson`, count: f.count, sha256: sha256Of(f.content) })),
      ...[...set.images].map(([name, bytes]) => ({ type: 'DICOM', url: name, count: 1, sha256: sha256Of(bytes) })),
      ...[...set.documents].map(([name, xml]) => ({ type: 'C-CDA', url: name, count: 1, sha256: sha256Of(xml) })),
      ...[...set.messages].map(([name, message]) => ({ type: 'HL7v2', url: name, count: 1, sha256: sha256Of(message) })),
    ],
    ...extra,
  }
  const files = [
    ...ndjson.map((f) => ({ name: `${f.type}.ndjson`, content: f.content })),
    ...[...set.images].map(([name, bytes]) => ({ name, content: Buffer.from(bytes).toString('base64'), encoding: 'base64' as const })),
    ...[...set.documents, ...set.messages].map(([name, content]) => ({ name, content })),
  ]
  return { manifest, files, total: ndjson.reduce((n, f) => n + f.count, 0) }
}

function sha256Of(content: string | Uint8Array): Hex {
  return bytesToHex(hashSha256(typeof content === 'string' ? new TextEncoder().encode(content) : content))
}

/**
 * The patients of this node (of one of its hospitals when `hospitalId` is set) with a consent to
 * the study, or to all of its researcher's hospital's studies, that the chain says is live now;
 * `candidates`: how many this node's copy of the consents names (live or since withdrawn).
 */
export async function consentingPatients(s: Services, study: Pick<StudyRow, 'id' | 'researcher_id'>, hospitalId?: string): Promise<{ candidates: number; live: Subject[] }> {
  const rows = await s.db.all<{ id: string; address: Address; hospital_id: string }>(`SELECT a.id, a.address, a.hospital_id FROM accounts a
    WHERE a.role = 'patient' AND a.state = 'active' AND (a.id IN (SELECT patient_id FROM research_consents WHERE study_id = ?)
      OR a.id IN (SELECT h.patient_id FROM research_hospital_consents h JOIN accounts r ON r.hospital_id = h.hospital_id WHERE r.id = ?))
    ORDER BY a.id`, study.id, study.researcher_id)
  const live: Subject[] = []
  const mine = rows.filter((r) => hospitalId === undefined || r.hospital_id === hospitalId)
  for (const r of mine) {
    if (await hasResearchConsent(s.ledger, { studyId: study.id, patient: r.address })) live.push({ id: r.id, address: r.address, hospitalId: r.hospital_id })
  }
  return { candidates: mine.length, live }
}

/** One patient's FHIR and DICOM records, opened with their hospital's key and de-identified. */
async function patientResources(s: Services, p: Subject, o: { studyKey: Uint8Array; pseudonym: string; year: number; signal?: AbortSignal }): Promise<{ resources: Record<string, unknown>[]; quasi: { birthYear: string; sex: string; zip3: string }; skipped: number; dicom: Map<string, Uint8Array>; ccda: Map<string, string>; hl7: Map<string, string> }> {
  const { row: hospital, keys } = await unlockHospital(s, p.hospitalId)
  const reader = { address: hospital.address as Address, scheme: hospital.key_scheme, privateKey: keys.encryptionPrivateKey, hospitalId: hospital.id }
  const records = await s.db.all<RecordRow>(`SELECT * FROM records WHERE patient_id = ? AND state = 'anchored' ORDER BY created_at`, p.id)
  const resources: Record<string, unknown>[] = []
  let quasi: QuasiIdentifiers = { birthYear: '*', sex: '*', zip3: '*' }
  // The first record that shows any of them gives the patient's (FHIR, C-CDA, HL7 v2 or DICOM alike).
  const seen = (q: QuasiIdentifiers) => { if (quasi.sex === '*' && quasi.birthYear === '*' && quasi.zip3 === '*') quasi = q }
  let skipped = 0
  const dicom = new Map<string, Uint8Array>()
  const ccda = new Map<string, string>()
  const hl7 = new Map<string, string>()
  const subjectKey = createHmac('sha256', o.studyKey).update(`subject|${p.address.toLowerCase()}`).digest()
  for (const row of records) {
    const plain = await readPlaintext(s, row, reader, o.signal)
    const image = plain && isDicom(plain) ? deidentifyDicom(plain, { studyKey: o.studyKey, patientPseudonym: o.pseudonym, year: o.year }) : undefined
    if (image) {
      dicom.set(`dicom/${image.sopInstanceUid}.dcm`, image.bytes)
      seen(deidentifiedQuasi('dicom', image.bytes))
      continue
    }
    const document = plain && !isDicom(plain) ? deidentifyCcda(Buffer.from(plain).toString('utf8'), { patientPseudonym: o.pseudonym, year: o.year }) : undefined
    if (document) {
      ccda.set(`ccda/${pseudonymOf(o.studyKey, `record|${row.record_id}`)}.xml`, document)
      seen(deidentifiedQuasi('ccda', document))
      continue
    }
    const message = plain && !isDicom(plain) ? deidentifyHl7(Buffer.from(plain).toString('utf8'), { patientPseudonym: o.pseudonym, year: o.year }) : undefined
    if (message) {
      hl7.set(`hl7v2/${pseudonymOf(o.studyKey, `record|${row.record_id}`)}.hl7`, message)
      seen(deidentifiedQuasi('hl7v2', message))
      continue
    }
    const fhir = plain && !isDicom(plain) ? asFhir(plain) : undefined
    if (fhir === undefined) { skipped++; continue }
    // Resource ids are pseudonymized under a key of this patient in this study: one patient's
    // resources never merge with another's, nor link patients through a shared practitioner.
    const out = deidentifyFhir(fhir, { studyKey: subjectKey, patientPseudonym: o.pseudonym, year: o.year })
    resources.push(...out.resources)
    if (out.quasi.sex !== '*') seen(out.quasi)
  }
  return { resources, quasi, skipped, dicom, ccda, hl7 }
}

function isDicom(b: Uint8Array): boolean {
  return b.length >= 132 && Buffer.from(b.subarray(128, 132)).toString('latin1') === 'DICM'
}

/** A record's plaintext (recognized later by content, not by its declared media type), or undefined when too large. */
async function readPlaintext(s: Services, row: RecordRow, reader: Parameters<typeof openRecordKeys>[2] & { hospitalId: string }, signal?: AbortSignal): Promise<Uint8Array | undefined> {
  // A record whose data key is split among member hospitals (threshold break-glass) has no
  // envelope this hospital's key opens alone: it is opened through the copy of its key the
  // patient's research consent left for their hospital, or skipped (see README, Research).
  const opened = await openRecordKeys(s, row, reader, signal).catch(async (err: unknown) => {
    if (isAppError(err, 'RECORD_NOT_FOUND')) return openResearchKey(s, row, { id: reader.hospitalId, scheme: reader.scheme, privateKey: reader.privateKey }, signal)
    throw err
  })
  if (!opened) return undefined
  const { manifest, dataKey } = opened
  if (manifest.size > MAX_RECORD_BYTES) return undefined
  // The export is the read: it goes on chain as one StudyExported, not as one entry per record.
  const { body } = await readRecord(s, { access: { row, dataKey, manifest, log: async () => undefined }, signal })
  const chunks: Uint8Array[] = []
  for await (const c of body) chunks.push(c)
  return Buffer.concat(chunks)
}

/** A plaintext as a FHIR resource or bundle, or undefined when it is something else. */
function asFhir(plain: Uint8Array): unknown {
  const bytes = Buffer.from(plain)
  if (bytes.subarray(0, 64).toString('utf8').trimStart()[0] !== '{') return undefined
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { resourceType?: unknown }
    return typeof parsed?.resourceType === 'string' ? parsed : undefined
  } catch {
    return undefined
  }
}

/** Records an export in this node's database (and who of this node's patients went into it, for their timelines). */
export async function recordExport(s: Services, e: { study: StudyRow; exportNumber: number; manifest: ExportManifest; manifestHash: Hex; total: number; txHash: Hex; subjects: Subject[] }): Promise<void> {
  await s.db.transaction(async (tx) => {
    await tx.run(`INSERT INTO study_exports (study_id, export_number, patients, resources, k, manifest_hash, tx_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      e.study.id, e.exportNumber, e.subjects.length, e.total, e.manifest.k, e.manifestHash, e.txHash, Date.now())
    for (const p of e.subjects) await tx.run('INSERT INTO study_export_patients (study_id, export_number, patient_id) VALUES (?, ?, ?)', e.study.id, e.exportNumber, p.id)
  })
}
