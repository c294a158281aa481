import { decodeEventLog, type Address, type Hex } from 'viem'
import { consentAbi } from '../ledger/abis.ts'
import { toLedgerError } from '../ledger/send-transaction.ts'
import { findAccount, type Actor } from '../accounts/account.ts'
import { AppError, isAppError } from '../errors.ts'
import { auditTrail } from './audit-trail.ts'
import type { Services } from '../services.ts'

/** One read of a record in the on-chain trail (an `AccessLogged` event), with this node's parties. */
export interface AuditAccess {
  txHash: Hex
  /** Which of the reads logged by that transaction this is (`AccessLogged` events in log order): 0 for the first. */
  ordinal: number
  /** The block time. */
  at: string
  blockNumber: number
  recordId: Hex
  patient: { id: string; address: Address; name: string }
  /** Who read: an account of this node's directory, a hospital (a share-token read), or an address only. */
  agent: { address: Address; id: string | null; kind: 'patient' | 'practitioner' | 'organization' | null; name: string | null }
  /** The purpose name (own, author, grant, share, shareToken, emergency, verify). */
  purpose: string | null
  emergency: boolean
}

/**
 * The reads in a patient's or a record's on-chain trail, newest first, seen exactly as
 * `GET /audit` shows them (the same callers, the same 404s for what the caller may not see).
 * @throws AppError FORBIDDEN, UNKNOWN_PATIENT, RECORD_NOT_FOUND, VALIDATION_FAILED, LEDGER_UNAVAILABLE
 */
export async function listAuditAccesses(s: Services, { actor, patient, recordId }: { actor: Actor | undefined; patient?: string; recordId?: string }): Promise<AuditAccess[]> {
  // Only what is on chain: a read still waiting for its audit batch has no transaction yet.
  const entries = (await auditTrail(s, { actor, patient, recordId })).flatMap((e) =>
    e.event === 'AccessLogged' && e.recordId && e.txHash && e.blockNumber !== null ? [{ ...e, recordId: e.recordId, txHash: e.txHash, blockNumber: e.blockNumber }] : [])
  const patients = new Map<string, AuditAccess['patient'] | undefined>()
  const patientOf = async (id: Hex): Promise<AuditAccess['patient'] | undefined> => {
    if (!patients.has(id)) {
      const p = await s.db.get<{ id: string; address: Address; name: string }>('SELECT a.id, a.address, a.name FROM records r JOIN accounts a ON a.id = r.patient_id WHERE r.record_id = ?', id.toLowerCase())
      patients.set(id, p && { id: p.id, address: p.address, name: p.name })
    }
    return patients.get(id)
  }
  const agents = new Map<string, AuditAccess['agent']>()
  const reads = new Map<string, { recordId: Hex }[]>()
  const seen = new Map<string, number>()
  const out: AuditAccess[] = []
  for (const e of [...entries].reverse()) {
    const recordId = e.recordId
    const owner = await patientOf(recordId)
    if (!owner) continue
    if (!reads.has(e.txHash)) reads.set(e.txHash, await readsOf(s, e.txHash))
    // The n-th entry of this record in this transaction is the n-th such event in its logs.
    const key = `${e.txHash}:${recordId}`.toLowerCase()
    const n = seen.get(key) ?? 0
    seen.set(key, n + 1)
    const ordinal = reads.get(e.txHash)!.map((r, i) => r.recordId.toLowerCase() === recordId.toLowerCase() ? i : -1).filter((i) => i >= 0)[n]
    if (ordinal === undefined) continue
    if (!agents.has(e.actor.address)) agents.set(e.actor.address, await agentOf(s, e.actor.address, e.actor.name))
    out.push({ txHash: e.txHash, ordinal, at: e.at, blockNumber: e.blockNumber, recordId, patient: owner, agent: agents.get(e.actor.address)!, purpose: e.purpose, emergency: e.emergency })
  }
  return out.reverse()
}

/**
 * One read by its transaction and ordinal, when the caller may see the trail holding it.
 * @throws AppError NOT_FOUND, LEDGER_UNAVAILABLE
 */
export async function findAuditAccess(s: Services, { actor, txHash, ordinal }: { actor: Actor | undefined; txHash: Hex; ordinal: number }): Promise<AuditAccess> {
  const read = (await readsOf(s, txHash))[ordinal]
  if (!read) throw new AppError('NOT_FOUND')
  const patient = await findAccount(s.db, read.patient)
  // The patient's trail (the patient, an admin), else the record's (its author).
  for (const ask of [patient ? { patient: patient.id } : undefined, { recordId: read.recordId }]) {
    if (!ask) continue
    try {
      const hit = (await listAuditAccesses(s, { actor, ...ask })).find((a) => a.txHash.toLowerCase() === txHash.toLowerCase() && a.ordinal === ordinal)
      if (hit) return hit
    } catch (err) {
      if (!isAppError(err, 'UNKNOWN_PATIENT', 'RECORD_NOT_FOUND', 'FORBIDDEN')) throw err
    }
  }
  throw new AppError('NOT_FOUND')
}

/**
 * The reads (`AccessLogged` events of the Consent contract) a transaction logged, in log order; none for an unknown transaction.
 * @throws AppError LEDGER_UNAVAILABLE
 */
async function readsOf(s: Services, txHash: Hex): Promise<{ recordId: Hex; patient: Address }[]> {
  let logs
  try {
    const receipt = await s.ledger.client.getTransactionReceipt({ hash: txHash }).catch((err) => {
      if ((err as Error).name === 'TransactionReceiptNotFoundError') return undefined
      throw err
    })
    logs = receipt?.logs.filter((l) => l.address.toLowerCase() === s.ledger.contracts.consent.toLowerCase()) ?? []
  } catch (err) {
    throw toLedgerError(err)
  }
  return logs.flatMap((log) => {
    try {
      const d = decodeEventLog({ abi: consentAbi, data: log.data, topics: log.topics })
      return d.eventName === 'AccessLogged' ? [d.args as { recordId: Hex; patient: Address }] : []
    } catch {
      return []
    }
  })
}

async function agentOf(s: Services, address: Address, name: string | null): Promise<AuditAccess['agent']> {
  const account = await s.db.get<{ id: string; role: string }>('SELECT id, role FROM accounts WHERE address = ?', address.toLowerCase())
  if (account) return { address, id: account.id, kind: account.role === 'patient' ? 'patient' : 'practitioner', name }
  const hospital = await s.db.get<{ id: string }>('SELECT id FROM hospitals WHERE address = ?', address.toLowerCase())
  return { address, id: hospital?.id ?? null, kind: hospital ? 'organization' : null, name }
}
