/**
 * One error base class with a stable `code`, and the single registry that maps every code to
 * its HTTP status and its public message. Messages never carry personal data, keys or tokens:
 * details for operators go in `details` (never sent to clients) and `cause`.
 */

export const errorRegistry = {
  // 400: the request itself is wrong
  BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  VALIDATION_FAILED: { status: 400, message: 'The request does not match the expected schema.' },
  MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  INVALID_CID: { status: 400, message: 'A content identifier must be CIDv1 with a 32-byte sha2-256 digest, codec dag-pb or raw.' },
  INVALID_RECORD_ID: { status: 400, message: 'A record id is 32 bytes written as 64 hexadecimal characters (0x-prefixed or not).' },
  UNKNOWN_CIPHER_SUITE: { status: 400, message: 'Unknown cipher suite; use aes-256-gcm, aes-192-gcm, aes-128-gcm or xchacha20-poly1305.' },
  UNKNOWN_KEY_SCHEME: { status: 400, message: 'Unknown key-wrap scheme; use x25519-hpke or rsa-oaep-4096.' },
  INVALID_KEY: { status: 400, message: 'A key is malformed or does not fit its algorithm.' },
  INVALID_ROLE: { status: 400, message: 'Unknown or not allowed role for this operation.' },
  WEAK_PASSWORD: { status: 400, message: 'The password must be at least 12 characters long.' },
  MISSING_FILE: { status: 400, message: 'No file was sent.' },
  INVALID_FHIR_ID: { status: 400, message: 'A FHIR id is 1 to 64 letters, digits, - and . (a record id without its 0x).' },
  // 401 / 403: who you are, what you may do
  UNAUTHENTICATED: { status: 401, message: 'Sign in first: this needs a valid session.' },
  INVALID_CREDENTIALS: { status: 401, message: 'Wrong e-mail or password.' },
  SESSION_EXPIRED: { status: 401, message: 'The session has expired or was ended; sign in again.' },
  KEYS_LOCKED: { status: 403, message: 'This session cannot use your keys; sign in with your password.' },
  FORBIDDEN: { status: 403, message: 'Your role does not allow this operation.' },
  // sign-in: second factor, lock-out, Sign-In with Ethereum
  MFA_REQUIRED: { status: 401, message: 'This account needs a code from its authenticator app (or a recovery code) to sign in.' },
  MFA_INVALID: { status: 401, message: 'The authenticator code or recovery code is wrong or out of date.' },
  MFA_REPLAYED: { status: 401, message: 'This code was already used; wait for the next code from the authenticator app.' },
  MFA_ENROLLMENT_REQUIRED: { status: 403, message: 'Your role needs two-factor sign-in: enrol an authenticator app first (POST /api/v1/mfa/totp, then /api/v1/mfa/totp/verify).' },
  SEARCH_KEY_BUSY: { status: 409, message: 'Your search key was rotated by another request at the same moment; nothing was changed by this one. Try again if you want yet another key.' },
  MFA_ALREADY_ENABLED: { status: 409, message: 'Two-factor sign-in is already enabled for this account.' },
  MFA_NOT_STARTED: { status: 409, message: 'No authenticator enrolment is waiting for confirmation; start one first.' },
  MFA_NOT_ENABLED: { status: 409, message: 'Two-factor sign-in is not enabled for this account.' },
  EMERGENCY_SPLIT_UNAVAILABLE: { status: 409, message: 'Threshold break-glass needs at least two member hospitals: records keep their single emergency envelope until the consortium has them.' },
  RECOVERY_SHARES_PENDING: { status: 409, message: 'This record\'s data key is split among member hospitals and fewer than the threshold have released their shares for your recovered account yet; try again shortly.' },
  EMERGENCY_SHARES_PENDING: { status: 409, message: 'Fewer member hospitals than the threshold have released their shares for this emergency access yet; try again shortly.' },
  PROPOSAL_EXPIRED: { status: 409, message: 'This admission vote has expired (older than the consortium\'s proposal lifetime): it can no longer be voted on; a new proposal may be opened.' },
  MFA_REQUIRED_BY_ROLE: { status: 403, message: 'Your role requires two-factor sign-in: it cannot be turned off.' },
  ACCOUNT_LOCKED: { status: 429, message: 'Too many failed sign-in attempts; try again later.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests from your address; wait for the time given in Retry-After, then try again.' },
  PASSWORD_REQUIRED: { status: 400, message: 'Changing how you sign in needs your current password in this request.' },
  WRONG_PASSWORD: { status: 403, message: 'The current password is wrong.' },
  SIWE_MESSAGE_INVALID: { status: 400, message: 'The sign-in message is not a valid EIP-4361 (Sign-In with Ethereum) message.' },
  SIWE_NONCE_INVALID: { status: 401, message: 'The sign-in nonce is unknown, expired or already used; ask for a new one.' },
  SIWE_DOMAIN_MISMATCH: { status: 401, message: 'The sign-in message was made for another site (domain or URI).' },
  SIWE_CHAIN_MISMATCH: { status: 401, message: 'The sign-in message names another chain than this node\'s ledger.' },
  SIWE_MESSAGE_EXPIRED: { status: 401, message: 'The sign-in message has expired or is not valid yet.' },
  SIWE_SIGNATURE_INVALID: { status: 401, message: 'The signature does not match the sign-in message and its address.' },
  UNKNOWN_WALLET: { status: 401, message: 'No account is linked to this wallet address.' },
  WALLET_TAKEN: { status: 409, message: 'This wallet address is already linked to another account.' },
  // 404: absent, or present but not yours to see (never 403 for records)
  NOT_FOUND: { status: 404, message: 'Not found.' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route in this API.' },
  RECORD_NOT_FOUND: { status: 404, message: 'No such record, or you may not see it.' },
  UNKNOWN_PATIENT: { status: 404, message: 'No such patient in your hospital.' },
  UNKNOWN_HOSPITAL: { status: 404, message: 'No such hospital.' },
  UNKNOWN_ACCOUNT: { status: 404, message: 'No such account.' },
  NO_APPLICATION: { status: 404, message: 'This hospital has not applied for membership: start its node with --registry first.' },
  REGISTRY_NOT_FOUND: { status: 404, message: 'No MedLedger registry at this address on this chain; check the registry address and the chain.' },
  REGISTRY_NOT_LINKED: { status: 409, message: 'This registry has not linked its RecordLedger and Consent contracts yet: its admin must link them (linkContracts) before a node can join.' },
  // consent
  SHARE_TOKEN_INVALID: { status: 404, message: 'This share link is not valid, has expired, was revoked or was already used.' },
  REQUEST_NOT_FOUND: { status: 404, message: 'No such access request, or it is not yours to see.' },
  NOT_REQUEST_PATIENT: { status: 403, message: 'Only the patient an access request is addressed to may approve or deny it.' },
  REQUEST_NOT_PENDING: { status: 409, message: 'This access request was already decided.' },
  GRANT_NOT_ACTIVE: { status: 409, message: 'This access was not granted or has already ended.' },
  DOCTOR_NOT_CONFIRMED: { status: 403, message: 'Your doctor account is not confirmed yet; clinical actions are not allowed.' },
  EMPTY_REASON: { status: 400, message: 'Break-glass needs a stated reason.' },
  INVALID_DURATION: { status: 400, message: 'The duration is out of range.' },
  ACCOUNT_NOT_PENDING: { status: 409, message: 'This account is not waiting for confirmation.' },
  HOSPITAL_EXISTS: { status: 409, message: 'This hospital is already a member of the consortium.' },
  NOT_ADMITTED: { status: 409, message: 'This node\'s hospital is not a member of the consortium yet: it waits, read-only, until the members admit it (medledger hospital admit on a member node).' },
  HOSPITAL_VOTE_REQUIRED: { status: 409, message: 'The consortium has several members: admitting a hospital needs a majority vote of its members.' },
  SHARE_NOT_FOUND: { status: 404, message: 'No such share, or it is not yours.' },
  // research (issue 12): studies, research consent, de-identified exports
  UNKNOWN_STUDY: { status: 404, message: 'No such study, or it is not visible to you.' },
  STUDY_NOT_PENDING: { status: 409, message: 'This study was already approved or rejected.' },
  STUDY_NOT_APPROVED: { status: 409, message: 'This study is not approved: it takes no consent and no export.' },
  RESEARCH_CONSENT_EXISTS: { status: 409, message: 'You already consent to this study.' },
  NO_RESEARCH_CONSENT: { status: 409, message: 'You have no consent to this study to withdraw.' },
  K_TOO_SMALL: { status: 409, message: 'The export is refused: a group of patients sharing birth year, sex and 3-digit ZIP is smaller than the study\'s minimum k.' },
  UNKNOWN_EXPORT: { status: 404, message: 'No such export of this study, or it is not yours.' },
  EXPORT_ALREADY_COLLECTED: { status: 409, message: 'This export was collected (and recorded on chain) already, or is being collected now: nothing was recorded again; request a new export for a fresh copy.' },
  NO_EXPORT_PARTS: { status: 504, message: 'No hospital home to a consenting patient has answered this export yet: nothing was written or recorded; collect it again later.' },
  RESEARCH_UNAVAILABLE: { status: 503, message: 'This node has no Research contract (a home deployed before it, or a consortium whose registry links none); studies are not available here.' },
  UNKNOWN_TEAM: { status: 404, message: 'No such care team, or it is not visible to you.' },
  TEAM_MEMBER_EXISTS: { status: 409, message: 'This doctor is already a member of the care team.' },
  NOT_TEAM_MEMBER: { status: 409, message: 'This doctor is not a member of the care team.' },
  TEAM_BUSY: { status: 409, message: 'The care team is being changed by another request; try again.' },
  TEAM_KEY_NOT_HELD: { status: 409, message: 'You hold no copy of this care team\'s key yet; a staff member who does (or the admin) can add the member, and gives you one.' },
  TEAMS_UNAVAILABLE: { status: 503, message: 'This consortium\'s registry links no CareTeams contract (deployed before care teams); care teams are not available here.' },
  // erasure (issue 13 item 3): crypto-shredding on the patient's request, decided by the hospital
  RECORD_ERASED: { status: 410, message: 'This record was erased at its patient\'s request: its keys and blocks are destroyed and it can no longer be read.' },
  // re-keying (issue 13 item 2): a record re-encrypted under a new data key, the old id superseded
  RECORD_SUPERSEDED: { status: 410, message: 'This record was re-keyed: its old version is gone; read it under the id given in supersededBy.' },
  REKEY_NOT_ALLOWED: { status: 403, message: 'Only the patient may re-key this record, or its author once the patient allowed it (medledger record rekey RECORD_ID --allow-author).' },
  ERASURE_NOT_FOUND: { status: 404, message: 'No such erasure request, or it is not yours to see.' },
  RECOVERY_NOT_PENDING: { status: 409, message: 'This account recovery was already approved.' },
  ERASURE_NOT_PENDING: { status: 409, message: 'This erasure request was already confirmed or rejected.' },
  ERASURE_PENDING: { status: 409, message: 'An erasure of this record is already waiting for the hospital\'s decision.' },
  // 409: state conflicts and integrity
  EMAIL_TAKEN: { status: 409, message: 'An account with this e-mail already exists.' },
  RECORD_INTEGRITY: { status: 409, message: 'The stored record does not match its ledger anchor or fails authentication; no data was served.' },
  PUBLIC_KEY_MISMATCH: { status: 409, message: 'A public key held by this node does not match the one registered on the ledger; nothing was stored.' },
  // 413
  FILE_TOO_LARGE: { status: 413, message: 'The file is larger than this node accepts.' },
  BINARY_TOO_LARGE: { status: 413, message: 'The record is larger than a FHIR Binary resource may carry on this node (MEDLEDGER_FHIR_BINARY_MAX_MB); read its bytes with another Accept header.' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type for this route.' },
  AUDIT_EVENT_READ_ONLY: { status: 405, message: 'An AuditEvent is written by the ledger when a record is read, never by a client: it cannot be created, changed or deleted.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large.' },
  // 5xx: the node or one of its parts
  LEDGER_UNAVAILABLE: { status: 503, message: 'The ledger cannot be reached; nothing was changed.' },
  LEDGER_UNFUNDED: { status: 503, message: 'This chain charges gas and the sending account has no funds: a MedLedger consortium chain charges no gas; on one that does, the operator funds the node\'s accounts. Nothing was changed.' },
  LEDGER_REVERTED: { status: 502, message: 'The ledger refused the transaction; nothing was changed.' },
  RECORD_UNAVAILABLE: { status: 503, message: 'A block of the record is missing from this node\'s store; no data was served.' },
  STORAGE_UNAVAILABLE: { status: 503, message: 'The block store cannot be reached; nothing was changed.' },
  KEYSTORE_LOCKED: { status: 500, message: 'A key needed for this operation could not be unlocked.' },
  LEDGER_NODE_UNSUPPORTED: { status: 500, message: 'The embedded ledger node (anvil) is not available for this platform; point the node at an external chain instead.' },
  CONTRACT_BUILD_FAILED: { status: 500, message: 'The ledger contracts could not be compiled.' },
  HOME_NOT_PRIVATE: { status: 500, message: 'The node\'s home directory can be read or written by other users, or belongs to another user: the node does not start on it.' },
  INTERNAL: { status: 500, message: 'Internal error.' },
} as const satisfies Record<string, { status: number; message: string }>

export type ErrorCode = keyof typeof errorRegistry

export interface AppErrorOptions {
  /** Operator-facing details: logged, never sent to a client. Must not hold secrets. */
  details?: string
  cause?: unknown
  /** Replaces the registry message for the client; must hold no personal data. */
  message?: string
  /** Extra fields of the client's answer beside `code` and `message` (ids only, never personal data). */
  body?: Readonly<Record<string, string>>
}

/** The one error type the domain throws; `code` is stable and documented. */
export class AppError extends Error {
  override name = 'AppError'
  readonly code: ErrorCode
  readonly status: number
  readonly details?: string
  readonly body?: Readonly<Record<string, string>>

  constructor(code: ErrorCode, opts: AppErrorOptions = {}) {
    super(opts.message ?? errorRegistry[code].message, { cause: opts.cause })
    this.code = code
    this.status = errorRegistry[code].status
    this.details = opts.details
    this.body = opts.body
  }
}

/** True when `err` is an AppError, optionally of one of the given codes. */
export function isAppError(err: unknown, ...codes: ErrorCode[]): err is AppError {
  return err instanceof AppError && (codes.length === 0 || codes.includes(err.code))
}
