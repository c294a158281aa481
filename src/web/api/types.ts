// Shapes of the API's answers, as documented in /api/v1/openapi.json. Where the server has the
// type, it is imported (type-only: nothing of the server reaches the bundle).
import type { ShareView } from '../../consent/shares.ts'

export type Role = 'admin' | 'staff' | 'doctor' | 'patient' | 'researcher'

export interface Account {
  id: string
  email: string
  name: string
  role: Role
  hospitalId: string | null
  address: string
  keyScheme: string
  status: string
  createdAt: string
  licence?: string | null
}

export interface Session {
  token: string
  expiresAt: string
  account: Account
  mfaEnrollmentRequired: boolean
  keysUnlocked: boolean
}

export interface Hospital {
  id: string
  name: string
  address: string
  keyScheme: string
  status: string
  createdAt: string
}

export interface Party { id: string; name: string; address: string }

import type { RecordView } from '../../records/record.ts'
export type { RecordView }

export interface RecordPage { records: RecordView[]; total: number; limit: number; offset: number }

export interface VerifyItem { recordId: string; ok: boolean; problem?: string; detail?: string }
export interface VerifyResult { checked: number; intact: number; mismatches: VerifyItem[]; results: VerifyItem[] }

export type RequestStatus = 'pending' | 'approved' | 'denied' | 'revoked' | 'expired'

export type { AccessRequestView as AccessRequest } from '../../consent/access-request.ts'

export type Share = ShareView & { token?: string }

export type { EmergencyView as Emergency } from '../../consent/emergency.ts'

export type { AuditEntry } from '../../consent/audit-trail.ts'

export interface Mail {
  id: number
  kind: string
  subject: string
  body: string
  state: 'kept' | 'queued' | 'sent' | 'failed'
  createdAt: string
  sentAt: string | null
}

export interface MailPage { mail: Mail[]; total: number; limit: number; offset: number }

export interface NodeStatus {
  chainRpc: string
  chainId: number
  blockNumber: number
  contracts: { registry: string; recordLedger: string; consent: string }
  records: number
  hospitals: number
  accounts: number
  journalBacklog: number
  ipfsBytes?: number
  version: string
  /** Ledger events the follower set aside (could not apply); listed at /status/quarantine for the admin. */
  quarantinedEvents?: number
  follow?: { lastBlock: number; headBlock: number; lagBlocks: number; error: string | null }
  /** In a consortium: the hospital this node serves, and whether the members have admitted it. */
  hospitalAddress?: string | null
  admitted?: boolean
}

/** A ledger event the node's follower could not apply (admin's status page). */
export interface QuarantinedEvent {
  blockNumber: number
  txHash: string
  logIndex: number
  contract: string
  eventName: string
  reason: string
  attempts: number
  nextAttemptAt: string | null
  quarantinedAt: string
}

export interface MfaState { required: boolean; totpEnabled: boolean; enrolmentPending: boolean; recoveryCodesLeft: number }

export type { AdmissionVote, AdmissionVoter } from '../../consortium/list-admission-votes.ts'
