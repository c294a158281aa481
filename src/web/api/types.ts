// Shapes of the API's answers, as documented in /api/v1/openapi.json.

export type Role = 'admin' | 'staff' | 'doctor' | 'patient'

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

export interface RecordView {
  recordId: string
  cid: string
  digest: string
  envelopesCid: string
  suite: string
  storedBytes: number
  txHash: string | null
  blockNumber: number | null
  anchoredAt: string | null
  patient: Party
  author: Party
  hospitalId: string
  fileName: string
  mediaType: string
  size: number
  sha256: string
  created: string
  problem?: string
}

export interface RecordPage { records: RecordView[]; total: number; limit: number; offset: number }

export interface VerifyItem { recordId: string; ok: boolean; problem?: string; detail?: string }
export interface VerifyResult { checked: number; intact: number; mismatches: VerifyItem[]; results: VerifyItem[] }

export type RequestStatus = 'pending' | 'approved' | 'denied' | 'revoked' | 'expired'

export interface AccessRequest {
  requestId: string
  status: RequestStatus
  requester: Party
  patient: Party
  recordIds: string[] | null
  grantedRecordIds: string[] | null
  purpose: string
  durationSeconds: number
  expiresAt: string | null
  reason: string | null
  createdAt: string
  decidedAt: string | null
  requestTx: string | null
  decisionTx: string | null
}

export interface Share {
  shareId: string
  recordIds: string[]
  grantee: Party | null
  byToken: boolean
  once: boolean
  used: boolean
  expiresAt: string
  revoked: boolean
  live: boolean
  txHash: string | null
  createdAt: string
  token?: string
}

export interface Emergency {
  emergencyId: string
  doctor: Party
  patient: Party
  reason: string
  expiresAt: string
  live: boolean
  records: number
  declareTx: string | null
  releaseTx: string | null
  createdAt: string
}

export interface AuditEntry {
  event: string
  at: string
  blockNumber: number
  txHash: string
  actor: { address: string; name: string | null; role: string | null }
  recordId: string | null
  ref: string | null
  purpose: string | null
  why: string | null
  emergency: boolean
}

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
}

export interface MfaState { required: boolean; totpEnabled: boolean; enrolmentPending: boolean; recoveryCodesLeft: number }
