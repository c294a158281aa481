import type { Address, Hex } from 'viem'
import { applyAnchoredRecord } from '../records/apply-anchored-record.ts'
import { applyAnchoredBatch, recordsOfBatch } from '../records/apply-anchored-batch.ts'
import { settleOwnAnchor } from '../records/settle-anchors.ts'
import { applyAccessRequested } from '../consent/apply-access-requested.ts'
import { applyAccessApproved } from '../consent/apply-access-approved.ts'
import { applyAccessDenied } from '../consent/apply-access-denied.ts'
import { applyAccessRevoked } from '../consent/apply-access-revoked.ts'
import { applyOwnAccessDecision } from '../consent/apply-own-access-decision.ts'
import { applyEmergencyDeclared } from '../consent/apply-emergency-declared.ts'
import { applyOwnEmergencyDeclared } from '../consent/apply-own-emergency.ts'
import { applyOwnResearchConsent } from '../consent/apply-own-research-consent.ts'
import { settleEmergencyRelease } from '../consent/emergency.ts'
import { recordEmergencyRelease } from '../consent/record-emergency-release.ts'
import { applyOwnEmergencySharesMoved, recordEmergencyShareRelease, recordEmergencySharesMoved } from '../consent/emergency-shares.ts'
import { recordRecoveryShareRelease } from '../consent/recovery-shares.ts'
import { applyRecoveryApproved, finishOwnRecoveryApproval } from '../consent/apply-recovery-approved.ts'
import { applyShared } from '../consent/apply-shared.ts'
import { applyTeamEvent } from '../consent/apply-team-event.ts'
import { applyTeamGranted, applyTeamRevoked } from '../consent/apply-team-grant.ts'
import { applyOwnTeamMemberAdded } from '../consent/team-members.ts'
import { applyStudyDecided, applyStudyProposed } from '../consent/apply-study-event.ts'
import { queueExportPart } from '../consent/export-jobs.ts'
import { settleExport } from '../consent/export-study.ts'
import { applyRecordSuperseded } from '../consent/apply-record-superseded.ts'
import { markShareRevoked } from '../consent/mark-share-revoked.ts'
import { markShareUsed } from '../consent/mark-share-used.ts'
import { applyMembershipEvent } from '../accounts/apply-membership-event.ts'
import { mirrorHospital } from '../accounts/directory.ts'
import { sentByThisNode } from './sent-by-this-node.ts'
import { FOLLOW_FETCH_MS, type EventHandler, type HandlerContext, type LedgerEvent } from './follower.ts'
import type { Replicator } from './replicator.ts'
import type { Services } from '../services.ts'

/** A decoded event, its arguments read by name (the ABI decoder checked their types). */
type Event = LedgerEvent & { eventName: string; args: Record<string, unknown> }

interface Owners { s: Services; replicator?: Replicator; onMembership: () => Promise<void> }

/** Membership events: acted on even when this node sent them (the peer set follows them). */
const membership = new Set(['HospitalAdded', 'HospitalRemoved', 'NodeInfoSet'])

/**
 * What a node does with the consortium's events: each goes to the folder that owns its data
 * (records, consent, accounts), whose handler is idempotent — it checks what the node already
 * holds before writing, so a replayed chunk changes nothing.
 *  - RecordAnchored: any member's record is known here (pseudonymous facts only) and kept when it
 *    falls to this node;
 *  - RecordSuperseded (a re-key): the old version's row, grant keys and blocks are dropped here;
 *  - BatchAnchored: the same for each record of the batch, once its manifest and every leaf
 *    check against the root on chain (a bad batch is quarantined whole);
 *  - AccessRequested for a patient of this node: the patient sees the request;
 *  - AccessApproved / Denied / Revoked on a request made from this node: the doctor sees it;
 *  - EmergencyDeclared on a patient of this node: the patient's hospital releases the keys;
 *  - EmergencyKeyReleased on a break-glass declared from this node: the doctor can read;
 *  - RecoveryApproved (Registry) of a patient this node mirrors: the account takes the new address
 *    and key, and this node's hospitals release their shares of the split records for it;
 *  - Shared to an account of this node, or by token: this node can serve it;
 *  - Registry membership and node-info changes: the peer set and replica placement follow;
 *  - HospitalProposed (an admission): the candidate is listed for this node's staff to vote on;
 *  - StudyProposed: the study is mirrored here, its text fetched from IPFS by the protocol hash
 *    on chain; StudyApproved / Rejected: the decision (both also this node's own, idempotently);
 *  - ExportRequested (this node's researcher's too): queued for this node's hospitals home to
 *    consenting patients, which de-identify them here and submit their parts, encrypted for the
 *    researcher (consent/export-jobs.ts, off the follower's path);
 *  - TeamCreated / TeamMemberAdded / TeamMemberRemoved of another hospital's care team: the team
 *    is mirrored here (id, hospital, epoch, members' addresses), its epoch's public key fetched
 *    from IPFS by the digest on chain; TeamAccessGranted / Revoked from another node to a team of
 *    this node (this node's own too, idempotently): the grant is kept here (its envelopes block
 *    fetched), so the members read.
 * What this node sent itself, its own flow recorded (and acted on) as it sent it; what it
 * records only after the receipt (an upload's or re-key's anchor, a recovery's approval, a
 * patient's access decision, share or research consent, a study or its decision, a break-glass and its releases, a record's
 * moved emergency shares, a care-team member added) is written here too when
 * that flow stopped before it.
 */
export function consortiumHandlers(s: Services, { replicator, onMembership }: { replicator?: Replicator; onMembership: () => Promise<void> }): EventHandler {
  const owners: Owners = { s, replicator, onMembership }
  return async (event: LedgerEvent, ctx: HandlerContext): Promise<void> => {
    const e = event as Event
    if (await sentByThisNode(s.db, e.transactionHash)) {
      // Its pending row (an upload anchored alone, a re-key's new version) is settled here when the
      // flow that sent it never handled the receipt; otherwise it already was, and this changes nothing.
      if (e.eventName === 'RecordAnchored') {
        await settleOwnAnchor(s, { recordId: e.args.recordId as Hex, txHash: e.transactionHash, blockNumber: Number(e.blockNumber) })
        await considerReplica(owners, e)
      }
      if (e.eventName === 'BatchAnchored') await considerBatch(owners, e)
      // A recovery approved from this node whose flow stopped before writing it is finished here.
      if (e.eventName === 'RecoveryApproved') {
        await finishOwnRecoveryApproval(s, { recoveryId: e.args.recoveryId as Hex, by: e.args.by as Address, envelopes: e.args.envelopes as Hex, fetchMs: ctx.fetchMs })
      }
      // An access decision, share, team grant, study, export or research consent, a break-glass and its releases, sent from this node: written here when its flow stopped before writing it.
      if (await applyOwnConsent(owners, e, ctx)) return
      // A re-key this node sent is applied again (idempotent): the node may have stopped between its mining and its applying.
      // An export this node's researcher requested is answered by this node's hospitals too, as by any other.
      if (!membership.has(e.eventName) && e.eventName !== 'RecordSuperseded' && e.eventName !== 'ExportRequested') return
    }
    await dispatch(owners, e, ctx)
  }
}

/**
 * This node's own access decisions, shares, studies and research consents, emergencies and their releases, applied idempotently (the flow that sent them may
 * have stopped between the mining and writing them; whichever writes first tells the requester).
 * Whether the event was one of them.
 */
async function applyOwnConsent(owners: Owners, e: Event, ctx: HandlerContext): Promise<boolean> {
  const { s } = owners
  const a = e.args
  const txHash = e.transactionHash
  // The envelopes block this node stored itself: local, given the follower's usual wait even on a loaded machine.
  const fetchMs = Math.max(ctx.fetchMs, FOLLOW_FETCH_MS)
  switch (e.eventName) {
    case 'AccessApproved':
      await applyOwnAccessDecision(s, { kind: 'approved', requestId: a.requestId as Hex, scope: a.scope as Hex, envelopes: a.envelopes as Hex, expiresAt: Number(a.expiresAt), txHash, fetchMs })
      return true
    case 'AccessDenied':
    case 'AccessRevoked':
      await applyOwnAccessDecision(s, { kind: e.eventName === 'AccessDenied' ? 'denied' : 'revoked', requestId: a.requestId as Hex, txHash })
      return true
    case 'Shared':
      await applyShared(s, {
        shareId: a.shareId as Hex, patient: a.patient as Address, grantee: a.grantee as Address, tokenHash: a.tokenHash as Hex,
        expiresAt: Number(a.expiresAt), once: Boolean(a.once), envelopes: a.envelopes as Hex, txHash, fetchMs, own: true,
      })
      return true
    case 'EmergencyDeclared':
      await applyOwnEmergencyDeclared(s, { emergencyId: a.emergencyId as Hex, doctor: a.doctor as Address, patient: a.patient as Address, expiresAt: Number(a.expiresAt), txHash })
      return true
    case 'EmergencyKeyReleased':
      await settleEmergencyRelease(s, { emergencyId: a.emergencyId as Hex, envelopes: a.envelopes as Hex, txHash })
      return true
    case 'ResearchConsentGiven':
    case 'ResearchConsentWithdrawn':
      await applyOwnResearchConsent(s, { patient: a.patient as Address, give: e.eventName === 'ResearchConsentGiven', studyId: a.studyId as Hex, txHash })
      return true
    case 'HospitalResearchConsentGiven':
    case 'HospitalResearchConsentWithdrawn':
      await applyOwnResearchConsent(s, { patient: a.patient as Address, give: e.eventName === 'HospitalResearchConsentGiven', hospital: a.hospital as Address, txHash })
      return true
    case 'StudyExported':
      await settleExport(s, { studyId: a.studyId as Hex, exportNumber: Number(a.exportNumber), manifestHash: a.manifestHash as Hex, txHash })
      return true
    case 'TeamMemberAdded':
      await applyOwnTeamMemberAdded(s, { teamId: a.teamId as Hex, doctor: a.doctor as Address })
      return true
    case 'EmergencySharesMoved':
      await applyOwnEmergencySharesMoved(s, { recordId: a.recordId as Hex, hospital: a.hospital as Address, shares: a.shares as Hex, txHash, blockNumber: Number(e.blockNumber) })
      return true
    // Written by the same handlers as another node's (idempotent), with the own block's wait.
    case 'ShareRevoked':
    case 'StudyProposed':
    case 'StudyApproved':
    case 'StudyRejected':
    case 'TeamAccessGranted':
    case 'TeamAccessRevoked':
    case 'EmergencyShareReleased':
      await dispatch(owners, e, { ...ctx, fetchMs })
      return true
    default:
      return false
  }
}

async function considerReplica({ replicator }: Owners, e: Event): Promise<void> {
  await replicator?.consider({ record_id: (e.args.recordId as Hex).toLowerCase() as Hex, hospital: e.args.hospital as Address })
}

/** The records of a batch this node anchored itself, each considered for a replica. */
async function considerBatch({ s, replicator }: Owners, e: Event): Promise<void> {
  for (const recordId of await recordsOfBatch(s.db, e.args.root as Hex)) await replicator?.consider({ record_id: recordId, hospital: e.args.hospital as Address })
}

/** Hands one event to the handler of the folder that owns its data. */
async function dispatch(owners: Owners, e: Event, { fetchMs }: HandlerContext): Promise<void> {
  const { s } = owners
  const a = e.args
  const txHash = e.transactionHash
  switch (e.eventName) {
    case 'RecordAnchored':
      await applyAnchoredRecord(s, {
        recordId: a.recordId as Hex, patient: a.patient as Address, author: a.author as Address, hospital: a.hospital as Address,
        digest: a.digest as Hex, envelopes: a.envelopes as Hex, txHash, blockNumber: Number(e.blockNumber),
      })
      return considerReplica(owners, e)
    case 'BatchAnchored': {
      const records = await applyAnchoredBatch(s, {
        root: a.root as Hex, hospital: a.hospital as Address, manifest: a.manifest as Hex, count: Number(a.count), txHash, blockNumber: Number(e.blockNumber), fetchMs,
      })
      for (const r of records) await owners.replicator?.consider({ record_id: r.recordId, hospital: r.hospital })
      return
    }
    case 'RecordSuperseded':
      // A re-keyed record: its old version's row, grant keys and blocks go here too.
      return applyRecordSuperseded(s, { oldId: a.oldId as Hex, newId: a.newId as Hex, txHash })
    case 'AccessRequested':
      return applyAccessRequested(s, {
        requestId: a.requestId as Hex, requester: a.requester as Address, patient: a.patient as Address,
        purpose: Number(a.purpose), scope: a.scope as Hex, durationSeconds: Number(a.duration), txHash,
      })
    case 'AccessApproved':
      return applyAccessApproved(s, { requestId: a.requestId as Hex, scope: a.scope as Hex, envelopes: a.envelopes as Hex, expiresAt: Number(a.expiresAt), txHash, fetchMs })
    case 'AccessDenied':
      return applyAccessDenied(s, { requestId: a.requestId as Hex, txHash })
    case 'AccessRevoked':
      return applyAccessRevoked(s, { requestId: a.requestId as Hex })
    case 'EmergencyDeclared':
      return applyEmergencyDeclared(s, { emergencyId: a.emergencyId as Hex, doctor: a.doctor as Address, patient: a.patient as Address, expiresAt: Number(a.expiresAt), txHash })
    case 'EmergencyKeyReleased':
      return void await recordEmergencyRelease(s.db, { emergencyId: a.emergencyId as Hex, envelopes: a.envelopes as Hex, txHash })
    case 'EmergencyShareReleased':
      return recordEmergencyShareRelease(s, { emergencyId: a.emergencyId as Hex, hospital: a.hospital as Address, shares: a.shares as Hex, txHash })
    case 'RecoveryApproved': // another node's patient recovered: mirrored, and this node's hospitals release their shares
      return void await applyRecoveryApproved(s, { recoveryId: a.recoveryId as Hex, oldAccount: a.oldAccount as Address, newAccount: a.newAccount as Address, envelopes: a.envelopes as Hex, fetchMs })
    case 'RecoveryShareReleased':
      return recordRecoveryShareRelease(s, { recoveryId: a.recoveryId as Hex, hospital: a.hospital as Address, shares: a.shares as Hex, txHash })
    case 'EmergencySharesMoved':
      return recordEmergencySharesMoved(s, { recordId: a.recordId as Hex, hospital: a.hospital as Address, shares: a.shares as Hex, txHash })
    case 'Shared':
      return applyShared(s, {
        shareId: a.shareId as Hex, patient: a.patient as Address, grantee: a.grantee as Address, tokenHash: a.tokenHash as Hex,
        expiresAt: Number(a.expiresAt), once: Boolean(a.once), envelopes: a.envelopes as Hex, txHash, fetchMs,
      })
    case 'ShareRevoked':
      return markShareRevoked(s.db, a.shareId as Hex)
    case 'ShareTokenUsed':
      return markShareUsed(s.db, a.shareId as Hex)
    case 'HospitalProposed':
      // An admission opened from another node: its vote is listed here for this node's staff.
      if (Number(a.kind) === 1) await mirrorHospital(s, { address: a.hospital as Address, keyScheme: Number(a.keyScheme), state: 'proposed' })
      return
    case 'HospitalAdded':
    case 'HospitalRemoved':
    case 'NodeInfoSet':
      return applyMembership(owners, e)
    case 'StudyProposed':
    case 'StudyApproved':
    case 'StudyRejected':
    case 'ExportRequested':
      return applyResearchEvent(s, e, fetchMs)
    case 'TeamCreated':
      return applyTeamEvent(s, { kind: 'created', teamId: a.teamId as Hex, hospital: a.hospital as Address, keyDigest: a.keyDigest as Hex, txHash, fetchMs })
    case 'TeamMemberAdded':
      return applyTeamEvent(s, { kind: 'added', teamId: a.teamId as Hex, doctor: a.doctor as Address, epoch: Number(a.epoch) })
    case 'TeamMemberRemoved':
      return applyTeamEvent(s, { kind: 'removed', teamId: a.teamId as Hex, doctor: a.doctor as Address, epoch: Number(a.epoch), keyDigest: a.keyDigest as Hex, txHash, fetchMs })
    case 'TeamAccessGranted':
      return applyTeamGranted(s, { teamId: a.teamId as Hex, patient: a.patient as Address, expiresAt: Number(a.expiresAt), envelopes: a.envelopes as Hex, txHash, fetchMs })
    case 'TeamAccessRevoked':
      return applyTeamRevoked(s, { teamId: a.teamId as Hex, patient: a.patient as Address })
    default:
  }
}

/** Research's events: a study mirrored or decided here; an export (any node's researcher's) answered by this node's hospitals. */
async function applyResearchEvent(s: Services, e: Event, fetchMs: number): Promise<void> {
  const a = e.args
  if (e.eventName === 'StudyProposed') {
    return applyStudyProposed(s, { studyId: a.studyId as Hex, researcher: a.researcher as Address, protocolHash: a.protocolHash as Hex, txHash: e.transactionHash, fetchMs })
  }
  if (e.eventName === 'ExportRequested') {
    // Queued: this node's parts are made off the follower's path (consent/export-jobs.ts).
    return queueExportPart(s, { exportId: a.exportId as Hex, studyId: a.studyId as Hex, researcher: a.researcher as Address })
  }
  return applyStudyDecided(s, { studyId: a.studyId as Hex, approved: e.eventName === 'StudyApproved', admin: a.by as Address })
}

async function applyMembership({ s, onMembership }: Owners, e: Event): Promise<void> {
  const hospital = e.args.hospital as Address
  if (e.eventName === 'HospitalRemoved') await applyMembershipEvent(s, { kind: 'removed', hospital })
  else if (e.eventName === 'NodeInfoSet') await applyMembershipEvent(s, { kind: 'node-info', hospital, name: typeof e.args.name === 'string' ? e.args.name : undefined })
  else await applyMembershipEvent(s, { kind: 'added', hospital })
  await onMembership()
}
