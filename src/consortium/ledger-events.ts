import { hexToBytes, zeroAddress, zeroHash, type Address, type Hex } from 'viem'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { purposeNames } from '../ledger/purposes.ts'
import { releaseEmergency } from '../consent/emergency.ts'
import { scopeOf } from '../ledger/scope-of.ts'
import { readShare } from '../ledger/consent/read-share.ts'
import { ensureAccount, ensureHospital } from '../accounts/directory.ts'
import { AppError } from '../errors.ts'
import type { HandlerContext, LedgerEvent } from './follower.ts'
import type { Replicator } from './replicator.ts'
import type { Services } from '../services.ts'

const recordIdPattern = /^0x[0-9a-f]{64}$/

/**
 * What a node does with the consortium's events. Every handler is idempotent: it checks what the
 * node already holds before writing, so a replayed chunk changes nothing.
 *  - RecordAnchored: any member's record is known here (pseudonymous facts only) and kept when it
 *    falls to this node;
 *  - AccessRequested for a patient of this node: the patient sees the request;
 *  - AccessApproved / Denied / Revoked on a request made from this node: the doctor sees it;
 *  - EmergencyDeclared on a patient of this node: the patient's hospital releases the keys;
 *  - EmergencyKeyReleased on a break-glass declared from this node: the doctor can read;
 *  - Shared to an account of this node, or by token: this node can serve it;
 *  - Registry membership and node-info changes: the peer set and replica placement follow.
 */
export function consortiumHandlers(s: Services, { replicator, onMembership }: { replicator?: Replicator; onMembership: () => Promise<void> }) {
  const local = async (address: string, role?: string) => s.db.get<{ id: string; hospital_id: string | null }>(
    `SELECT id, hospital_id FROM accounts WHERE address = ? AND state = 'active'${role ? ' AND role = ?' : ''}`, ...(role ? [address.toLowerCase(), role] : [address.toLowerCase()]))

  /**
   * The record ids a grant's envelopes block covers. The block is named by an event anyone
   * could send, so it may not exist: the wait is bounded (`fetchMs`), and a block that does not
   * parse as grant envelopes is refused.
   * @throws AppError RECORD_UNAVAILABLE (not served in time), RECORD_INTEGRITY (not grant envelopes)
   */
  async function grantRecordIds(envelopes: Hex, grantId: Hex, fetchMs: number): Promise<Hex[]> {
    const bytes = await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(envelopes), 'raw'), { signal: AbortSignal.timeout(fetchMs) })
      .catch((cause: unknown) => {
        if (cause instanceof AppError) throw cause
        throw new AppError('RECORD_UNAVAILABLE', { cause, details: `grant envelopes ${envelopes} not served within ${fetchMs} ms` })
      })
    let obj: { type?: unknown; grantId?: unknown; keys?: unknown }
    try {
      obj = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof obj
    } catch (cause) {
      throw new AppError('RECORD_INTEGRITY', { cause, details: 'grant envelopes block is not JSON' })
    }
    if (obj?.type !== 'medledger/grant-envelopes' || typeof obj.grantId !== 'string' || obj.grantId.toLowerCase() !== grantId.toLowerCase() || !Array.isArray(obj.keys)) {
      throw new AppError('RECORD_INTEGRITY', { details: 'grant envelopes block does not belong to this grant' })
    }
    return obj.keys.map((k: { recordId?: unknown }) => {
      const id = typeof k?.recordId === 'string' ? k.recordId.toLowerCase() : ''
      if (!recordIdPattern.test(id)) throw new AppError('RECORD_INTEGRITY', { details: 'grant envelopes block lists a malformed record id' })
      return id as Hex
    })
  }

  return async (event: LedgerEvent, { fetchMs }: HandlerContext): Promise<void> => {
    const e = event as LedgerEvent & { eventName: string; args: Record<string, unknown> }
    const a = e.args
    // What this node sent itself, its own flow records (and acts on) as it sends it.
    if (await s.db.get('SELECT 1 AS x FROM journal WHERE tx_hash = ?', e.transactionHash)) {
      if (e.eventName === 'RecordAnchored') await replicator?.consider({ record_id: (a.recordId as Hex).toLowerCase() as Hex, hospital: a.hospital as Address })
      if (!['HospitalAdded', 'HospitalRemoved', 'NodeInfoSet'].includes(e.eventName)) return
    }
    switch (e.eventName) {
      case 'RecordAnchored': {
        const recordId = (a.recordId as Hex).toLowerCase() as Hex
        const hospital = a.hospital as Address
        const known = await s.db.get('SELECT 1 AS x FROM records WHERE record_id = ?', recordId)
        if (!known) {
          const patient = await ensureAccount(s, a.patient as Address)
          const author = await ensureAccount(s, a.author as Address)
          const h = await ensureHospital(s, hospital)
          const block = await s.ledger.client.getBlock({ blockNumber: BigInt(e.blockNumber) })
          await s.db.run(`INSERT INTO records (record_id, patient_id, author_id, hospital_id, digest, envelopes, suite, stored_bytes, state, tx_hash, block_number, anchored_at, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'anchored', ?, ?, ?, ?) ON CONFLICT (record_id) DO NOTHING`,
          recordId, patient.id, author.id, h.id, (a.digest as Hex).toLowerCase(), (a.envelopes as Hex).toLowerCase(), 'aes-256-gcm',
          e.transactionHash, e.blockNumber, Number(block.timestamp), Number(block.timestamp) * 1000)
          if (patient.state === 'active') await s.notify?.({ accountId: patient.id, kind: 'record-added', by: { accountId: author.id } })
        }
        await replicator?.consider({ record_id: recordId, hospital })
        return
      }
      case 'AccessRequested': {
        const requestId = (a.requestId as Hex).toLowerCase()
        if (await s.db.get('SELECT 1 AS x FROM access_requests WHERE request_id = ?', requestId)) return
        const patient = await local(a.patient as string, 'patient')
        if (!patient) return
        const requester = await ensureAccount(s, a.requester as Address)
        const hospital = requester.hospital_id ? await s.db.get<{ name: string }>('SELECT name FROM hospitals WHERE id = ?', requester.hospital_id) : undefined
        const purposeCode = Number(a.purpose)
        const scope = (a.scope as Hex).toLowerCase()
        const mine = await s.db.all<{ record_id: Hex }>(`SELECT record_id FROM records WHERE patient_id = ? AND state = 'anchored'`, patient.id)
        // The chain holds only the hash of the requested record ids: match it against this patient's records.
        let recordIds: Hex[] | null = null
        if (scope !== zeroHash) {
          const single = mine.find((r) => scopeOf([r.record_id]) === scope)
          recordIds = single ? [single.record_id] : scopeOf(mine.map((r) => r.record_id)) === scope ? mine.map((r) => r.record_id) : []
        }
        await s.db.run(`INSERT INTO access_requests (request_id, requester_id, patient_id, record_ids, purpose_code, purpose, duration_s, status, request_tx, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (request_id) DO NOTHING`,
        requestId, requester.id, patient.id, recordIds && JSON.stringify(recordIds), purposeCode,
        `${purposeNames[purposeCode] ?? 'other'} — the details stay with ${hospital?.name ?? 'the requesting hospital'}`,
        Number(a.duration), e.transactionHash, Date.now())
        await s.notify?.({ accountId: patient.id, kind: 'access-requested', by: { accountId: requester.id }, recordCount: recordIds?.length ?? 'all', durationSeconds: Number(a.duration) })
        return
      }
      case 'AccessApproved':
      case 'AccessDenied':
      case 'AccessRevoked': {
        const requestId = (a.requestId as Hex).toLowerCase()
        const row = await s.db.get<{ status: string; record_ids: string | null; requester_id: string }>(
          `SELECT q.status, q.record_ids, q.requester_id FROM access_requests q JOIN accounts d ON d.id = q.requester_id
           WHERE q.request_id = ? AND d.state = 'active'`, requestId)
        if (!row) return
        if (e.eventName === 'AccessApproved' && row.status === 'pending') {
          const scope = (a.scope as Hex).toLowerCase()
          const envelopes = (a.envelopes as Hex).toLowerCase() as Hex
          const granted = scope === zeroHash ? row.record_ids : JSON.stringify(await grantRecordIds(envelopes, requestId as Hex, fetchMs))
          await s.db.run(`UPDATE access_requests SET status = 'approved', granted_record_ids = ?, expires_at = ?, envelopes = ?, decision_tx = ?, decided_at = ?
            WHERE request_id = ? AND status = 'pending'`, granted, Number(a.expiresAt), envelopes, e.transactionHash, Date.now(), requestId)
        } else if (e.eventName === 'AccessDenied' && row.status === 'pending') {
          await s.db.run(`UPDATE access_requests SET status = 'denied', decision_tx = ?, decided_at = ? WHERE request_id = ? AND status = 'pending'`, e.transactionHash, Date.now(), requestId)
        } else if (e.eventName === 'AccessRevoked' && (row.status === 'approved' || row.status === 'pending')) {
          // Only an approved grant can be revoked: still pending here means its approval is
          // quarantined (waiting for its envelopes), and must not reopen it when it is retried.
          await s.db.run(`UPDATE access_requests SET status = 'revoked' WHERE request_id = ? AND status IN ('approved', 'pending')`, requestId)
        }
        return
      }
      case 'EmergencyDeclared': {
        const emergencyId = (a.emergencyId as Hex).toLowerCase() as Hex
        const existing = await s.db.get<{ envelopes: string | null }>('SELECT envelopes FROM emergencies WHERE emergency_id = ?', emergencyId)
        const patient = await local(a.patient as string, 'patient')
        if (!existing) {
          if (!patient) return
          const doctor = await ensureAccount(s, a.doctor as Address)
          await s.db.run(`INSERT INTO emergencies (emergency_id, doctor_id, patient_id, reason, expires_at, declare_tx, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (emergency_id) DO NOTHING`, emergencyId, doctor.id, patient.id, 'Stated at the declaring hospital (its keyed hash is on the ledger).',
          Number(a.expiresAt), e.transactionHash, Date.now())
        }
        // The patient's hospital releases the keys, whichever node the doctor declared it from.
        if (patient && (existing?.envelopes ?? null) === null) await releaseEmergency(s, emergencyId)
        return
      }
      case 'EmergencyKeyReleased': {
        await s.db.run('UPDATE emergencies SET envelopes = ?, release_tx = ? WHERE emergency_id = ? AND envelopes IS NULL',
          (a.envelopes as Hex).toLowerCase(), e.transactionHash, (a.emergencyId as Hex).toLowerCase())
        return
      }
      case 'Shared': {
        const shareId = (a.shareId as Hex).toLowerCase()
        if (await s.db.get('SELECT 1 AS x FROM shares WHERE share_id = ?', shareId)) return
        const tokenHash = (a.tokenHash as Hex).toLowerCase()
        const grantee = (a.grantee as string).toLowerCase()
        const granteeRow = grantee === zeroAddress ? undefined : await local(grantee)
        if (tokenHash === zeroHash && !granteeRow) return
        const patient = await ensureAccount(s, a.patient as Address)
        const envelopes = (a.envelopes as Hex).toLowerCase() as Hex
        await s.db.run(`INSERT INTO shares (share_id, patient_id, grantee_id, token_hash, record_ids, expires_at, once, envelopes, tx_hash, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (share_id) DO NOTHING`,
        shareId, patient.id, granteeRow?.id ?? null, tokenHash === zeroHash ? null : tokenHash.slice(2), JSON.stringify(await grantRecordIds(envelopes, shareId as Hex, fetchMs)),
        Number(a.expiresAt), a.once ? 1 : 0, envelopes, e.transactionHash, Date.now())
        // A share applied late (its envelopes came after a retry) may have been revoked or used
        // meanwhile, and those events found no row to mark: the chain says how it stands now.
        const now = await readShare(s.ledger, { shareId: shareId as Hex })
        if (now.revoked) await s.db.run('UPDATE shares SET revoked_at = ? WHERE share_id = ? AND revoked_at IS NULL', Date.now(), shareId)
        if (now.used) await s.db.run('UPDATE shares SET used_at = ? WHERE share_id = ? AND used_at IS NULL', Date.now(), shareId)
        return
      }
      case 'ShareRevoked':
        await s.db.run('UPDATE shares SET revoked_at = ? WHERE share_id = ? AND revoked_at IS NULL', Date.now(), (a.shareId as Hex).toLowerCase())
        return
      case 'ShareTokenUsed':
        await s.db.run('UPDATE shares SET used_at = ? WHERE share_id = ? AND used_at IS NULL', Date.now(), (a.shareId as Hex).toLowerCase())
        return
      case 'HospitalAdded':
      case 'HospitalRemoved':
      case 'NodeInfoSet': {
        const address = (a.hospital as string).toLowerCase() as Address
        if (e.eventName === 'HospitalRemoved') {
          await s.db.run(`UPDATE hospitals SET state = 'removed' WHERE address = ? AND state = 'remote'`, address)
        } else {
          const own = await s.db.get('SELECT 1 AS x FROM hospitals WHERE address = ? AND sealed_secrets <> \'\'', address)
          if (!own) await ensureHospital(s, address, e.eventName === 'NodeInfoSet' && typeof a.name === 'string' && a.name !== '' ? a.name : undefined).catch(() => undefined)
        }
        await onMembership()
        return
      }
      default:
    }
  }
}
