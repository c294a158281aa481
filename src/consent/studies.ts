import { bytesToHex, type Hex } from 'viem'
import { hashSha256 } from '../crypto/hashes.ts'
import { generateRecordId } from '../crypto/tokens.ts'
import { checkText } from '../text/check-text.ts'
import { requireKeys, requireRole, type Actor } from '../accounts/account.ts'
import { sendStudyProposal } from '../ledger/research/send-study-proposal.ts'
import { sendStudyDecision } from '../ledger/research/send-study-decision.ts'
import { researchAddress } from '../ledger/research/research-address.ts'
import { AppError } from '../errors.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import type { Db } from '../db/open-database.ts'
import type { Services } from '../services.ts'

/** A study as the API shows it. The protocol text is shown to its researcher and the admin only. */
export interface StudyView {
  studyId: Hex
  title: string
  purpose?: string
  minK: number | null
  status: 'proposed' | 'approved' | 'rejected'
  researcher: { id: string; name: string }
  protocolHash: Hex
  txHash: string | null
  createdAt: string
  /** For a patient: whether they consent now (this node's copy; the chain decides at export). */
  consent?: 'given' | 'withdrawn' | null
}

export interface StudyRow {
  id: Hex
  researcher_id: string
  title: string
  purpose: string
  protocol_hash: Hex
  min_k: number | null
  state: StudyView['status']
  tx_hash: string | null
  decided_at: number | null
  created_at: number
}

const MAX_MIN_K = 1000

/**
 * A study's protocol text as it is stored in IPFS, one raw block whose SHA-256 is the protocol
 * hash on chain: the title, a line break, the purpose. No personal data: what a researcher
 * writes to describe a study.
 */
export function protocolBytes(title: string, purpose: string): Uint8Array {
  return new TextEncoder().encode(`${title}\n${purpose}`)
}

/**
 * A confirmed researcher proposes a study: registered on chain by id, the researcher's address
 * and the SHA-256 of its protocol text (title and purpose); the text is in this database and in
 * IPFS as a raw block under that hash, where other nodes fetch it (`applyStudyProposed`).
 * @throws AppError FORBIDDEN, VALIDATION_FAILED, RESEARCH_UNAVAILABLE, LEDGER_*
 */
export async function createStudy(s: Services, { actor, title, purpose, minK, signal }: { actor: Actor | undefined; title: unknown; purpose: unknown; minK?: unknown; signal?: AbortSignal }): Promise<StudyView> {
  const who = requireRole(actor, 'researcher')
  if (who.account.status !== 'active') throw new AppError('FORBIDDEN', { message: 'Your researcher account is not confirmed yet.' })
  const t = checkText(title, { field: 'title', max: 200 })
  const text = checkText(purpose, { field: 'purpose', max: 5000, multiline: true })
  if (minK !== undefined && minK !== null && (!Number.isSafeInteger(minK) || (minK as number) < 1 || (minK as number) > MAX_MIN_K)) {
    throw new AppError('VALIDATION_FAILED', { message: `min-k is a whole number from 1 to ${MAX_MIN_K}.` })
  }
  researchAddress(s.ledger)
  const studyId = generateRecordId()
  // The text in IPFS as one raw block named by its hash, so other nodes fetch and check it.
  const protocol = protocolBytes(t, text)
  const protocolHash = bytesToHex(hashSha256(protocol))
  await putRawBlock(s.ipfs, protocol, { signal })
  const receipt = await sendStudyProposal(s.ledger, { researcher: requireKeys(who).ledger, studyId, protocolHash, signal })
  const row: StudyRow = { id: studyId, researcher_id: who.account.id, title: t, purpose: text, protocol_hash: protocolHash, min_k: (minK as number | undefined) ?? null, state: 'proposed', tx_hash: receipt.transactionHash, decided_at: null, created_at: Date.now() }
  // The follower writes this node's own StudyProposed too (a node stopped before this point keeps
  // the study, without its min-k): whichever comes second keeps the row, the min-k set here.
  await insertStudy(s.db, row)
  if (row.min_k !== null) await s.db.run('UPDATE studies SET min_k = ? WHERE id = ?', row.min_k, studyId)
  return toStudyView(row, { name: who.account.name }, true)
}

/**
 * The consortium admin approves or rejects a proposed study, on chain from their own key.
 * @throws AppError FORBIDDEN, UNKNOWN_STUDY, STUDY_NOT_PENDING, LEDGER_*
 */
export async function decideStudy(s: Services, { actor, id, approve, signal }: { actor: Actor | undefined; id: string; approve: boolean; signal?: AbortSignal }): Promise<StudyView> {
  const who = requireRole(actor, 'admin')
  const row = await findStudy(s, id)
  if (!row) throw new AppError('UNKNOWN_STUDY')
  if (row.state !== 'proposed') throw new AppError('STUDY_NOT_PENDING')
  await sendStudyDecision(s.ledger, { admin: requireKeys(who).ledger, studyId: row.id, approve, signal })
  row.state = approve ? 'approved' : 'rejected'
  row.decided_at = Date.now()
  // The follower applies this node's own decision too: whichever moves the study from proposed tells the researcher.
  const moved = await s.db.run(`UPDATE studies SET state = ?, decided_at = ? WHERE id = ? AND state = 'proposed'`, row.state, row.decided_at, row.id)
  if (moved.changes > 0) await s.notify?.({ accountId: row.researcher_id, kind: approve ? 'study-approved' : 'study-rejected', by: { accountId: who.account.id } })
  return toStudyView(row, await researcherOf(s, row), true)
}

/**
 * Studies the caller may see: a researcher their own, the admin all, a patient the approved
 * ones with their consent, staff and doctors the approved ones.
 * @throws AppError FORBIDDEN
 */
export async function listStudies(s: Services, { actor }: { actor: Actor | undefined }): Promise<StudyView[]> {
  const who = requireRole(actor, 'admin', 'staff', 'doctor', 'patient', 'researcher')
  const role = who.account.role
  const rows = role === 'admin'
    ? await s.db.all<StudyRow>('SELECT * FROM studies ORDER BY created_at DESC')
    : role === 'researcher'
      ? await s.db.all<StudyRow>('SELECT * FROM studies WHERE researcher_id = ? ORDER BY created_at DESC', who.account.id)
      : await s.db.all<StudyRow>(`SELECT * FROM studies WHERE state = 'approved' ORDER BY created_at DESC`)
  const views: StudyView[] = []
  for (const row of rows) {
    const view = toStudyView(row, await researcherOf(s, row), role === 'admin' || role === 'researcher')
    if (role === 'patient') {
      // Its own consent or withdrawal first; else a consent to all of its researcher's hospital's studies.
      const c = await s.db.get<{ state: 'given' | 'withdrawn' }>('SELECT state FROM research_consents WHERE study_id = ? AND patient_id = ?', row.id, who.account.id)
      const all = await s.db.get<{ x: number }>(`SELECT 1 AS x FROM research_hospital_consents h JOIN accounts r ON r.hospital_id = h.hospital_id
        WHERE r.id = ? AND h.patient_id = ? AND h.state = 'given'`, row.researcher_id, who.account.id)
      view.consent = c?.state ?? (all ? 'given' : null)
    }
    views.push(view)
  }
  return views
}

/**
 * Writes a study's row, once: the writer of a study proposed here and of one mirrored from
 * another node's `StudyProposed` alike; a row held already under its id is kept as it is.
 */
export async function insertStudy(db: Db, row: StudyRow): Promise<void> {
  await db.run(`INSERT INTO studies (id, researcher_id, title, purpose, protocol_hash, min_k, state, tx_hash, decided_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO NOTHING`, row.id, row.researcher_id, row.title, row.purpose, row.protocol_hash, row.min_k, row.state, row.tx_hash, row.decided_at, row.created_at)
}

/**
 * At start: the protocol text of every study proposed on this node, in IPFS under its protocol
 * hash (what `createStudy` puts there), so that other nodes can fetch it, also for a study
 * proposed before the text went to IPFS. A row whose text no longer hashes to it is left out.
 * Resolves how many were put.
 */
export async function publishStudyProtocols(s: Pick<Services, 'db' | 'ipfs'>): Promise<number> {
  const rows = await s.db.all<StudyRow>(`SELECT s.* FROM studies s JOIN accounts a ON a.id = s.researcher_id WHERE a.state <> 'remote'`)
  let put = 0
  for (const row of rows) {
    const bytes = protocolBytes(row.title, row.purpose)
    if (bytesToHex(hashSha256(bytes)) !== row.protocol_hash) continue
    await putRawBlock(s.ipfs, bytes)
    put++
  }
  return put
}

/** A study by its id (0x-prefixed or not), or undefined. */
export async function findStudy(s: Pick<Services, 'db'>, id: string): Promise<StudyRow | undefined> {
  const hex = id.trim().toLowerCase().replace(/^0x/, '')
  if (!/^[0-9a-f]{64}$/.test(hex)) return undefined
  return s.db.get<StudyRow>('SELECT * FROM studies WHERE id = ?', `0x${hex}`)
}

async function researcherOf(s: Services, row: StudyRow): Promise<{ name: string }> {
  return (await s.db.get<{ name: string }>('SELECT name FROM accounts WHERE id = ?', row.researcher_id)) ?? { name: '' }
}

/** A study row as the API shows it; the protocol text only when `withText`. */
export function toStudyView(row: StudyRow, researcher: { name: string }, withText: boolean): StudyView {
  return {
    studyId: row.id,
    title: row.title,
    ...(withText ? { purpose: row.purpose } : {}),
    minK: row.min_k === null ? null : Number(row.min_k),
    status: row.state,
    researcher: { id: row.researcher_id, name: researcher.name },
    protocolHash: row.protocol_hash,
    txHash: row.tx_hash,
    createdAt: new Date(Number(row.created_at)).toISOString(),
  }
}
