import { decodeEventLog, type Address, type Hex, type Log } from 'viem'
import { getMeta } from '../db/open-database.ts'
import { logChunks } from '../ledger/log-chunks.ts'
import { FOLLOW_FROM } from '../accounts/node-hospital.ts'
import { consentAbi, recordLedgerAbi, registryAbi, researchAbi } from '../ledger/abis.ts'
import { purposeNames } from '../ledger/purposes.ts'
import { toLedgerError } from '../ledger/send-transaction.ts'
import { readContract } from '../ledger/read-contract.ts'
import { findAccount, requireRole, type Actor } from '../accounts/account.ts'
import { parseRecordId } from '../crypto/tokens.ts'
import { AppError } from '../errors.ts'
import type { RecordRow } from '../records/record.ts'
import type { Services } from '../services.ts'

/** An entry of the trail as `GET /audit` shows it: on chain, or a read waiting for its audit batch. */
export type AuditEntry = MinedAuditEntry | PendingAuditEntry

/** A read this node served whose entry waits, durable in `audit_entries`, for its audit batch to be mined. */
export interface PendingAuditEntry extends Omit<MinedAuditEntry, 'blockNumber' | 'txHash' | 'status'> {
  blockNumber: null
  txHash: null
  status: 'pending'
}

/** An event of the trail, on chain. */
export interface MinedAuditEntry {
  event: string
  /** When it was mined; for a pending read, when it was served (the chain's clock). */
  at: string
  blockNumber: number
  txHash: Hex
  status: 'mined'
  /** Who sent the transaction (its signer), with this node's name and role for display. */
  actor: { address: Address; name: string | null; role: string | null }
  recordId: Hex | null
  /** The grant, share or emergency the event belongs to. */
  ref: Hex | null
  purpose: string | null
  /** Off-chain text for display: the request's purpose, a denial's or an emergency's reason. */
  why: string | null
  emergency: boolean
}

// Of the Registry's events, a patient's account recovery (consent/patient-recovery.ts) is in their trail.
const recoveryEvents = registryAbi.filter((x) => x.type === 'event' && (x.name === 'RecoveryProposed' || x.name === 'RecoveryApproved'))
const abi = [...consentAbi, ...recordLedgerAbi, ...researchAbi, ...recoveryEvents]
const refKeys = ['requestId', 'shareId', 'emergencyId', 'studyId', 'recoveryId'] as const

/**
 * A patient's (or a record's) trail, read from the ledger's events — what no hospital can
 * erase — newest first, joined with this node's names and the off-chain texts for display.
 * The patient sees their own trail, the admin anyone's; a record's trail is for its patient,
 * its author and the admin.
 * A patient's trail the caller may not see answers UNKNOWN_PATIENT, as one that does not exist.
 * @throws AppError FORBIDDEN, UNKNOWN_PATIENT, RECORD_NOT_FOUND, VALIDATION_FAILED, LEDGER_UNAVAILABLE
 */
export async function auditTrail(s: Services, { actor, patient, recordId }: { actor: Actor | undefined; patient?: string; recordId?: string }): Promise<MinedAuditEntry[]> {
  const who = requireRole(actor, 'admin', 'patient', 'doctor', 'staff')
  if (Boolean(patient) === Boolean(recordId)) throw new AppError('VALIDATION_FAILED', { message: 'Ask for one patient\'s trail or one record\'s.' })
  const { patientAddress, record } = await trailSubject(s, who, { patient, recordId })
  const decoded = await withBatchedRecords(s, await readDecodedLogs(s))
  // A recovered patient's trail also holds what happened under their retired addresses.
  const retired = patientAddress ? await s.db.all<{ old_address: string }>(`SELECT old_address FROM patient_recoveries WHERE new_address = ? OR account_id = (SELECT id FROM accounts WHERE address = ?)`, patientAddress.toLowerCase(), patientAddress.toLowerCase()) : []
  const mine = ofSubject(decoded, { patientAddress, retired: new Set(retired.map((r) => r.old_address.toLowerCase())), record, exports: patientAddress ? await exportsOf(s, patientAddress) : new Set() })

  // Only registered members write a trail: an entry whose sender the registry does not know (a
  // hospital it knew is kept by this node) is no one's record of a read, and is left out; so is
  // an author's read logged by anyone but the record's author.
  const authors = new Map<string, string>()
  for (const d of decoded) if (d.name === 'RecordAnchored') authors.set(String(d.args.recordId).toLowerCase(), String(d.args.author).toLowerCase())
  const members = new Map<string, boolean>()
  const isMember = async (address: Address): Promise<boolean> => {
    if (!members.has(address)) {
      const [account, hospital] = await Promise.all([
        readContract(s.ledger, { address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'accountOf', args: [address] }),
        readContract(s.ledger, { address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'hospitalOf', args: [address] }),
      ])
      members.set(address, Number(account.role) !== 0 || hospital.member || Boolean(await s.db.get('SELECT 1 AS x FROM hospitals WHERE address = ?', address)))
    }
    return members.get(address)!
  }
  const senders = new Map<string, Address>()
  const times = new Map<bigint, number>()
  const entries: MinedAuditEntry[] = []
  for (const { log, name, args } of mine.reverse()) {
    const tx = log.transactionHash!
    // A read's actor is its reader, also when a hospital node's batch carried its signed entry.
    if (name !== 'AccessLogged' && !args.batched && !senders.has(tx)) senders.set(tx, (await s.ledger.client.getTransaction({ hash: tx })).from.toLowerCase() as Address)
    if (!times.has(log.blockNumber!)) times.set(log.blockNumber!, Number((await s.ledger.client.getBlock({ blockNumber: log.blockNumber! })).timestamp))
    // A batched record's actor is its author, who signed its leaf; the hospital's node sent the root.
    const from = name === 'AccessLogged' ? String(args.actor).toLowerCase() as Address
      : args.batched ? String(args.author).toLowerCase() as Address : senders.get(tx)!
    // A recovery's events come from the Registry, which let only staff or the admin send them.
    if (!name.startsWith('Recovery') && !(await isMember(from))) continue
    if (name === 'AccessLogged' && Number(args.purpose) === 2) {
      const author = authors.get(String(args.recordId).toLowerCase())
      if (author !== undefined && author !== from) continue
    }
    const account = await s.db.get('SELECT name, role FROM accounts WHERE address = ?', from) as { name: string; role: string } | undefined
    const hospital = account ? undefined : await s.db.get('SELECT name FROM hospitals WHERE address = ?', from) as { name: string } | undefined
    const ref = (refKeys.map((k) => args[k]).find(Boolean) as Hex | undefined) ?? (typeof args.ref === 'string' && !/^0x0+$/.test(args.ref) ? args.ref as Hex : null)
    const purposeCode = typeof args.purpose === 'number' || typeof args.purpose === 'bigint' ? Number(args.purpose) : undefined
    entries.push({
      event: name,
      at: new Date(times.get(log.blockNumber!)! * 1000).toISOString(),
      blockNumber: Number(log.blockNumber),
      txHash: tx,
      status: 'mined',
      actor: { address: from, name: account?.name ?? hospital?.name ?? null, role: account?.role ?? (hospital ? 'hospital' : null) },
      recordId: typeof args.recordId === 'string' ? args.recordId as Hex : null,
      ref,
      purpose: /Research|^StudyExported$|^ExportPartSubmitted$/.test(name) ? 'HRESCH' : purposeCode === undefined ? null : purposeNames[purposeCode] ?? `code ${purposeCode}`,
      why: ref ? await whyOf(s, ref, name) : null,
      emergency: /emergency/i.test(name) || purposeCode === 6,
    })
  }
  return entries
}

/**
 * The trail as `GET /audit` shows it: first the reads this node served whose audit batch is not
 * mined yet (`status: 'pending'`), then the events on chain (`auditTrail`). The same callers and
 * answers as `auditTrail`.
 * @throws AppError FORBIDDEN, UNKNOWN_PATIENT, RECORD_NOT_FOUND, VALIDATION_FAILED, LEDGER_UNAVAILABLE
 */
export async function auditTrailWithPending(s: Services, params: { actor: Actor | undefined; patient?: string; recordId?: string }): Promise<AuditEntry[]> {
  const who = requireRole(params.actor, 'admin', 'patient', 'doctor', 'staff')
  if (Boolean(params.patient) === Boolean(params.recordId)) throw new AppError('VALIDATION_FAILED', { message: 'Ask for one patient\'s trail or one record\'s.' })
  // Read before the chain's events, and checked again after: an entry mined meanwhile shows once.
  const rows = await pendingOf(s, await trailSubject(s, who, { patient: params.patient, recordId: params.recordId }))
  const mined = await auditTrail(s, params)
  // Batches mined by now whose marks wait to ride with the next read's entry (consent/audit-log's
  // `Ride`) are written first: their rows then say mined, and each read shows once.
  await s.auditBatches?.board()
  return [...await pendingEntries(s, rows, new Set(mined.map((e) => e.txHash.toLowerCase()))), ...mined]
}

interface PendingRow { entry_id: string; record_id: Hex; reader: Address; purpose: number; ref: Hex; read_at: number }

/** The subject's read entries this node served that wait for their audit batch, newest first. */
async function pendingOf(s: Services, { patientAddress, record }: { patientAddress?: Address; record?: Hex }): Promise<PendingRow[]> {
  const [column, value] = patientAddress ? ['patient', patientAddress.toLowerCase()] : ['record_id', record!.toLowerCase()]
  return s.db.all<PendingRow>(`SELECT entry_id, record_id, reader, purpose, ref, read_at FROM audit_entries
    WHERE ${column} = ? AND state = 'pending' ORDER BY read_at DESC, created_at DESC`, value)
}

/**
 * Pending rows as trail entries. A row mined since it was read is left out when its batch is
 * among the events read (`minedTx`), and still shown pending when it was mined after them: each
 * read shows exactly once.
 */
async function pendingEntries(s: Services, rows: PendingRow[], minedTx: Set<string>): Promise<PendingAuditEntry[]> {
  const entries: PendingAuditEntry[] = []
  for (const r of rows) {
    const now = await s.db.get<{ state: string; tx_hash: string | null }>('SELECT state, tx_hash FROM audit_entries WHERE entry_id = ?', r.entry_id)
    if (now?.state === 'refused' || (now?.state === 'mined' && (now.tx_hash === null || minedTx.has(now.tx_hash.toLowerCase())))) continue
    const account = await s.db.get('SELECT name, role FROM accounts WHERE address = ?', r.reader) as { name: string; role: string } | undefined
    const purposeCode = Number(r.purpose)
    const ref = /^0x0+$/.test(r.ref) ? null : r.ref
    entries.push({
      event: 'AccessLogged',
      at: new Date(Number(r.read_at) * 1000).toISOString(),
      blockNumber: null,
      txHash: null,
      status: 'pending',
      actor: { address: r.reader, name: account?.name ?? null, role: account?.role ?? null },
      recordId: r.record_id,
      ref,
      purpose: purposeNames[purposeCode] ?? `code ${purposeCode}`,
      why: ref ? await whyOf(s, ref, 'AccessLogged') : null,
      emergency: purposeCode === 6,
    })
  }
  return entries
}

type DecodedLog = { log: Log; name: string; args: Record<string, unknown> }

/**
 * Whose trail is asked: the patient's address, or the record's id.
 * @throws AppError UNKNOWN_PATIENT, RECORD_NOT_FOUND (also when `who` may not see it), VALIDATION_FAILED
 */
async function trailSubject(s: Services, who: Actor, { patient, recordId }: { patient?: string; recordId?: string }): Promise<{ patientAddress?: Address; record?: Hex }> {
  if (patient) {
    const p = await findAccount(s.db, patient)
    // One answer for a patient you may not see and for no patient at all: it tells nobody who has an account.
    if (!p || p.role !== 'patient' || (who.account.role !== 'admin' && who.account.id !== p.id)) throw new AppError('UNKNOWN_PATIENT')
    return { patientAddress: p.address as Address }
  }
  const record = parseRecordId(recordId!)
  const row = await s.db.get('SELECT * FROM records WHERE record_id = ?', record) as RecordRow | undefined
  if (!row || (who.account.role !== 'admin' && who.account.id !== row.patient_id && who.account.id !== row.author_id)) throw new AppError('RECORD_NOT_FOUND')
  return { record }
}

/**
 * The consent and record-ledger events since the consortium's deployment, decoded, oldest first.
 * @throws AppError LEDGER_UNAVAILABLE
 */
async function readDecodedLogs(s: Services): Promise<DecodedLog[]> {
  // From the consortium's deployment, in windows the chain's RPC accepts.
  const logs: Log[] = []
  try {
    const from = Number((await getMeta(s.db, FOLLOW_FROM)) ?? '0')
    const head = Number(await s.ledger.client.getBlockNumber({ cacheTime: 0 }))
    const research = s.ledger.contracts.research ? [s.ledger.contracts.research] : []
    const registry = [s.ledger.contracts.registry]
    for await (const chunk of logChunks(s.ledger.client, { address: [s.ledger.contracts.consent, s.ledger.contracts.recordLedger, ...research, ...registry], from, to: head })) logs.push(...chunk.logs)
  } catch (err) {
    throw toLedgerError(err)
  }
  return logs.flatMap((log) => {
    try {
      const d = decodeEventLog({ abi, data: log.data, topics: log.topics })
      return [{ log, name: d.eventName as string, args: d.args as unknown as Record<string, unknown> }]
    } catch {
      return []
    }
  })
}

/**
 * A batch root's event names no record or patient: each record this node holds under that root
 * (`record_proofs`, written when the batch was sent or applied) becomes a `RecordAnchored` entry
 * of its own in the root's transaction, by its author.
 */
async function withBatchedRecords(s: Services, decoded: DecodedLog[]): Promise<DecodedLog[]> {
  const out: DecodedLog[] = []
  for (const d of decoded) {
    if (d.name !== 'BatchAnchored') {
      out.push(d)
      continue
    }
    const rows = await s.db.all<{ record_id: string; patient: string; author: string }>(`SELECT r.record_id, p.address AS patient, a.address AS author
      FROM record_proofs rp JOIN records r ON r.record_id = rp.record_id
      JOIN accounts p ON p.id = r.patient_id JOIN accounts a ON a.id = r.author_id
      WHERE rp.root = ? ORDER BY r.record_id`, String(d.args.root).toLowerCase())
    for (const r of rows) out.push({ log: d.log, name: 'RecordAnchored', args: { recordId: r.record_id, patient: r.patient, author: r.author, batched: true } })
  }
  return out
}

/**
 * The events of the patient's trail (those naming only a grant belong to that grant's patient;
 * a study's export belongs to the patients whose data went into it, `exports`: its transactions),
 * or of the record's.
 */
function ofSubject(decoded: DecodedLog[], { patientAddress, retired = new Set(), record, exports }: { patientAddress?: Address; retired?: Set<string>; record?: Hex; exports: Set<string> }): DecodedLog[] {
  const patientOfRef = new Map<string, string>()
  for (const d of decoded) {
    if (d.name.startsWith('Study') || d.name.startsWith('Research')) continue
    const ref = refKeys.map((k) => d.args[k]).find(Boolean) as string | undefined
    if (ref && typeof d.args.patient === 'string') patientOfRef.set(ref.toLowerCase(), d.args.patient.toLowerCase())
  }
  return decoded.filter((d) => {
    if (d.name.startsWith('Study')) return Boolean(patientAddress) && d.name === 'StudyExported' && exports.has(d.log.transactionHash!.toLowerCase())
    // An export across nodes: the patient's home hospital's part that held their data.
    if (d.name.startsWith('Export')) return Boolean(patientAddress) && d.name === 'ExportPartSubmitted' && exports.has(d.log.transactionHash!.toLowerCase())
    const ref = (refKeys.map((k) => d.args[k]).find(Boolean) as string | undefined)?.toLowerCase()
    if (patientAddress) {
      const named = d.args.patient ?? d.args.oldAccount
      const p = (typeof named === 'string' ? named : ref && patientOfRef.get(ref))?.toLowerCase()
      return p === patientAddress.toLowerCase() || (p !== undefined && retired.has(p))
    }
    return typeof d.args.recordId === 'string' && d.args.recordId.toLowerCase() === record!.toLowerCase()
  })
}

/** The transactions of the study exports that held the patient's data (this node's record of them). */
async function exportsOf(s: Services, patientAddress: Address): Promise<Set<string>> {
  const rows = await s.db.all<{ tx_hash: string }>(`SELECT e.tx_hash FROM study_exports e
    JOIN study_export_patients p ON p.study_id = e.study_id AND p.export_number = e.export_number
    JOIN accounts a ON a.id = p.patient_id WHERE a.address = ?`, patientAddress.toLowerCase())
  // and the parts of exports across nodes this node's hospitals submitted with their data
  const parts = await s.db.all<{ tx_hash: string }>(`SELECT e.tx_hash FROM study_export_parts e
    JOIN study_export_part_patients p ON p.export_id = e.export_id AND p.hospital_id = e.hospital_id
    JOIN accounts a ON a.id = p.patient_id WHERE a.address = ?`, patientAddress.toLowerCase())
  return new Set([...rows, ...parts].map((r) => r.tx_hash.toLowerCase()))
}

async function whyOf(s: Services, ref: Hex, event: string): Promise<string | null> {
  const study = await s.db.get<{ title: string }>('SELECT title FROM studies WHERE id = ?', ref.toLowerCase())
  if (study) return study.title
  const req = await s.db.get('SELECT purpose, reason FROM access_requests WHERE request_id = ?', ref.toLowerCase()) as { purpose: string; reason: string | null } | undefined
  if (req) return /denied/i.test(event) ? req.reason : req.purpose
  const e = await s.db.get('SELECT reason FROM emergencies WHERE emergency_id = ?', ref.toLowerCase()) as { reason: string } | undefined
  return e?.reason ?? null
}
