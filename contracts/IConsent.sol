// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRegistry} from "./IRegistry.sol";

/**
 * @title IConsent
 * @notice A patient's say over who reads their records, and the trail of every access.
 *
 * - Access requests: a confirmed doctor asks a patient (of any hospital) for access; only the
 *   patient approves (optionally narrowing scope and duration), denies or later revokes.
 * - Shares: a patient shares records with a named account, or with whoever holds a share token
 *   (only the token's SHA-256 reaches the chain).
 * - Break-glass: a confirmed doctor declares an emergency, on chain, before the patient's
 *   hospital releases any key to them.
 * - Audit: every read is logged by its reader: one by one from the reader's key ({logAccess}),
 *   or signed by the reader and carried with others in a hospital node's batch ({logAccessBatch}).
 *
 * Every state change is sent from the acting account's own key (`msg.sender`): a node cannot
 * consent for a patient. Nothing here identifies a person: addresses, random ids, hashes, codes
 * and times only. Free texts (a purpose, a reason) stay off chain; their hashes go on chain.
 * The expiry of grants, shares and emergencies is decided by the chain's clock (`block.timestamp`).
 *
 * Purpose codes (`purpose` of {requestAccess} and {logAccess}; `src/ledger/purposes.ts`):
 * 1 own (the patient reads their own record), 2 author (the doctor who anchored it),
 * 3 grant (treatment, under an approved access request), 4 share (a named account, under a
 * share), 5 share token (a token holder, served by a member hospital), 6 emergency (break-glass),
 * 7 verify (an audit or integrity check), 8 team (a member of a care team the patient granted,
 * {grantTeam}; `ref` is the team id).
 *
 * Scopes: `bytes32(0)` means all the patient's records; otherwise keccak256 of the packed,
 * ascending list of record ids (computed off chain). Envelopes: the SHA-256 digest (as named by
 * its CID) of the IPFS block holding the data keys re-wrapped for the reader; it is given in the
 * events, not stored.
 */
interface IConsent {
    /// @notice Where an access request stands. `Approved` does not mean live: see {isGrantLive}.
    enum RequestStatus {
        None,
        Pending,
        Approved,
        Denied,
        Revoked
    }

    /// @notice An access request and, once approved, its grant. Three storage slots.
    /// @dev `duration` is the requested duration; `expiresAt` is zero until approval.
    /// `scope` is the requested scope, or the narrowed one once approved.
    /// @dev `Consent.logAccess` reads this layout directly: `patient`, `status`, `purpose` and
    /// `expiresAt` share the first slot in that order, `requester` opens the second.
    struct Grant {
        address patient;
        RequestStatus status;
        uint8 purpose;
        uint64 expiresAt;
        address requester;
        uint64 duration;
        bytes32 scope;
    }

    /// @notice A share: to a named `grantee` (`tokenHash` zero) or to a token holder (`grantee` zero).
    struct Share {
        address patient;
        uint64 expiresAt;
        bool once;
        bool used;
        bool revoked;
        address grantee;
        bytes32 tokenHash;
        bytes32 scope;
    }

    /// @notice A declared emergency (break-glass) of `doctor` on `patient`'s records.
    struct Emergency {
        address doctor;
        uint64 expiresAt;
        bool released;
        address patient;
    }

    /**
     * @notice One read, signed by its reader (EIP-712 typed data `AccessEntry`, domain
     * "MedLedger Consent" version 1 on this contract), carried in a hospital node's batch
     * ({logAccessBatch}). The signature covers every field but `reader` and `signature`.
     * @param entryId the sending hospital's address (20 bytes) then a number it gives each of its
     * entries once (12 bytes): an entry is logged once, and only by the node of the hospital it names
     * @param readAt when the read was served (seconds)
     * @param reader the signer, who must hold the access path at `readAt`
     */
    struct AccessEntry {
        bytes32 entryId;
        bytes32 recordId;
        address patient;
        uint8 purpose;
        bytes32 ref;
        uint64 readAt;
        address reader;
        bytes signature;
    }

    /// @notice `requester` asked `patient` for access to `scope` for `duration` seconds.
    /// @param purposeHash commitment to the purpose text, which stays off chain
    event AccessRequested(
        bytes32 indexed requestId,
        address indexed requester,
        address indexed patient,
        bytes32 scope,
        uint8 purpose,
        bytes32 purposeHash,
        uint64 duration
    );

    /// @notice `patient` approved request `requestId` of `requester`: a grant of `scope` until
    /// `expiresAt`, its keys in the `envelopes` block.
    event AccessApproved(
        bytes32 indexed requestId,
        address indexed requester,
        address indexed patient,
        bytes32 scope,
        uint64 expiresAt,
        bytes32 envelopes
    );

    /// @notice `patient` denied request `requestId` of `requester`.
    /// @param reasonHash commitment to the reason, which stays off chain
    event AccessDenied(bytes32 indexed requestId, address indexed requester, address indexed patient, bytes32 reasonHash);

    /// @notice `patient` revoked the grant of request `requestId` to `requester`.
    event AccessRevoked(bytes32 indexed requestId, address indexed requester, address indexed patient);

    /// @notice `patient` shared `scope` until `expiresAt` with `grantee`, or with the holder of the
    /// token hashing to `tokenHash`; the keys are in the `envelopes` block.
    event Shared(
        bytes32 indexed shareId,
        address indexed patient,
        address indexed grantee,
        bytes32 tokenHash,
        bytes32 scope,
        uint64 expiresAt,
        bool once,
        bytes32 envelopes
    );

    /// @notice `patient` revoked share `shareId`.
    event ShareRevoked(bytes32 indexed shareId, address indexed patient);

    /// @notice Member `hospital` served record `recordId` of `patient` to the holder of the token of
    /// share `shareId`.
    event ShareTokenUsed(bytes32 indexed shareId, address indexed patient, bytes32 indexed recordId, address hospital);

    /// @notice `doctor` declared an emergency on `patient`'s records, open until `expiresAt`.
    /// @param reasonHash commitment to the stated reason, which stays off chain
    event EmergencyDeclared(
        bytes32 indexed emergencyId,
        address indexed doctor,
        address indexed patient,
        bytes32 reasonHash,
        uint64 expiresAt
    );

    /// @notice `hospital`, the patient's, released the patient's data keys to `doctor` for emergency
    /// `emergencyId`, re-wrapped in the `envelopes` block.
    event EmergencyKeyReleased(
        bytes32 indexed emergencyId,
        address indexed patient,
        address indexed hospital,
        address doctor,
        bytes32 envelopes
    );

    /// @notice `hospital`, a member, released its Shamir shares of `patient`'s records' data keys
    /// to `doctor` for emergency `emergencyId`, re-wrapped for the doctor in the `shares` block.
    /// The doctor's node reads once it holds the threshold's number of hospitals' shares.
    event EmergencyShareReleased(
        bytes32 indexed emergencyId,
        address indexed patient,
        address indexed hospital,
        address doctor,
        bytes32 shares
    );

    /// @notice `hospital`, a member, released its Shamir shares of the records of the patient
    /// recovered by `recoveryId` (an approved {IRegistry-approveRecovery}), re-wrapped for the
    /// patient's new account `patient` in the `shares` block. The patient's node reads a split
    /// record once it holds the threshold's number of hospitals' shares.
    event RecoveryShareReleased(bytes32 indexed recoveryId, address indexed patient, address indexed hospital, bytes32 shares);

    /// @notice `hospital`, the record's, moved record `recordId`'s emergency access from its single
    /// emergency envelope to Shamir shares (`shares`: the digest of the block holding them), before
    /// retiring its emergency key ({IRegistry-rotateEmergencyKey}). Nodes take it from the record's
    /// own hospital only.
    event EmergencySharesMoved(bytes32 indexed recordId, address indexed hospital, bytes32 shares);

    /// @notice The admin set how many member hospitals new records' data keys are split among
    /// (`shares`) and how many of them a break-glass needs (`threshold`); zero and zero for the
    /// default (n = min(5, members), k = ceil(n/2) + 1 capped at n).
    event EmergencyThresholdSet(uint8 shares, uint8 threshold);

    /// @notice `patient` granted care team `teamId` (of {ICareTeams}) all of their records until
    /// `expiresAt`, the data keys wrapped for the team key in the `envelopes` block; it replaces an
    /// earlier grant of the same patient to the same team.
    event TeamAccessGranted(bytes32 indexed teamId, address indexed patient, uint64 expiresAt, bytes32 envelopes);

    /// @notice `patient` revoked their grant to care team `teamId`.
    event TeamAccessRevoked(bytes32 indexed teamId, address indexed patient);

    /// @notice `actor` read record `recordId` of `patient` for `purpose`, under `ref` (the request,
    /// share or emergency id; zero for the patient's own or the author's read).
    event AccessLogged(bytes32 indexed recordId, address indexed patient, address indexed actor, uint8 purpose, bytes32 ref);

    /// @notice An id is zero.
    error ConsentZeroId();
    /// @notice `account` is not an `Active` `Doctor`.
    error ConsentNotActiveDoctor(address account);
    /// @notice `account` is not an `Active` `Patient`.
    error ConsentNotActivePatient(address account);
    /// @notice `caller` is not the patient of request, share or emergency `id`.
    error ConsentNotPatient(address caller, bytes32 id);
    /// @notice `duration` is outside the range allowed here.
    error ConsentInvalidDuration(uint64 duration);
    /// @notice An approval's `duration` exceeds the `requested` one.
    error ConsentDurationExceedsRequest(uint64 duration, uint64 requested);
    /// @notice `purpose` is not a purpose code.
    error ConsentInvalidPurpose(uint8 purpose);
    /// @notice A reason hash is zero: a reason is required.
    error ConsentEmptyReason();
    /// @notice The envelopes digest is zero.
    error ConsentEmptyEnvelopes();
    /// @notice `requestId` is already used.
    error ConsentRequestExists(bytes32 requestId);
    /// @notice No request `requestId`.
    error ConsentUnknownRequest(bytes32 requestId);
    /// @notice Request `requestId` is not `Pending` (it is `status`).
    error ConsentRequestNotPending(bytes32 requestId, RequestStatus status);
    /// @notice Request `requestId` is not `Approved` (it is `status`).
    error ConsentRequestNotApproved(bytes32 requestId, RequestStatus status);
    /// @notice `shareId` is already used.
    error ConsentShareExists(bytes32 shareId);
    /// @notice No share `shareId`.
    error ConsentUnknownShare(bytes32 shareId);
    /// @notice A share names exactly one of a grantee and a token hash.
    error ConsentInvalidShareTarget();
    /// @notice `grantee` is not an `Active` account other than the patient.
    error ConsentInvalidGrantee(address grantee);
    /// @notice A share's scope is zero: a share lists its records.
    error ConsentEmptyScope();
    /// @notice Share `shareId` is revoked, expired or (single-use) used.
    error ConsentShareNotLive(bytes32 shareId);
    /// @notice Single-use share `shareId` was used already.
    error ConsentShareUsed(bytes32 shareId);
    /// @notice Share `shareId` is to a named grantee, not to a token holder.
    error ConsentNotTokenShare(bytes32 shareId);
    /// @notice `caller` is not a member hospital (its own address).
    error ConsentNotMemberHospital(address caller);
    /// @notice `emergencyId` is already used.
    error ConsentEmergencyExists(bytes32 emergencyId);
    /// @notice No emergency `emergencyId`.
    error ConsentUnknownEmergency(bytes32 emergencyId);
    /// @notice Emergency `emergencyId` has expired.
    error ConsentEmergencyNotLive(bytes32 emergencyId);
    /// @notice The keys of emergency `emergencyId` were released already.
    error ConsentEmergencyReleased(bytes32 emergencyId);
    /// @notice `caller` is not the (member) hospital of `patient`.
    error ConsentNotHospitalOf(address caller, address patient);
    /// @notice `caller` is not the consortium admin (the Registry's DEFAULT_ADMIN_ROLE).
    error ConsentNotAdmin(address caller);
    /// @notice The recovery `recoveryId` is unknown to the Registry or not approved yet.
    error ConsentRecoveryNotApproved(bytes32 recoveryId);
    /// @notice `threshold` of `shares` is not a valid split: 2 <= threshold <= shares <= 16, or both zero.
    error ConsentInvalidThreshold(uint8 shares, uint8 threshold);
    /// @notice `caller` holds no access path to `patient`'s records for `purpose` under `ref`: a
    /// read it logs would be a fake entry in the patient's trail.
    error ConsentNoAccessPath(address caller, address patient, uint8 purpose, bytes32 ref);

    /// @notice The batch is empty.
    error ConsentEmptyBatch();
    /// @notice The signature of entry `entryId` is not `reader`'s over that entry.
    error ConsentBadSignature(bytes32 entryId, address reader);
    /// @notice Entry `entryId` is logged already: it is not logged twice.
    error ConsentEntryLogged(bytes32 entryId);
    /// @notice Entry `entryId` names another hospital than `sender`, the batch's sender.
    error ConsentEntryNotSenders(bytes32 entryId, address sender);
    /// @notice Entry `entryId`'s `readAt` is in the future or older than the logging window.
    error ConsentStaleEntry(bytes32 entryId, uint64 readAt);
    /// @notice `patient` holds no live grant to care team `teamId`.
    error ConsentTeamGrantNotLive(bytes32 teamId, address patient);

    /// @notice The registry that says who is who.
    function registry() external view returns (IRegistry);

    /**
     * @notice The caller, a doctor, asks `patient` for access to `scope` for `duration` seconds.
     * @param requestId random id chosen by the caller
     * @param scope zero for all the patient's records, else the hash of the listed record ids
     * @param purpose a purpose code (3, treatment, today)
     * @param purposeHash commitment to the purpose text
     *
     * Requirements:
     * - `requestId` is non-zero and unused;
     * - `purpose` is a purpose code; `duration` is between 1 hour and 365 days;
     * - the caller is an `Active` `Doctor` (of any hospital);
     * - `patient` is an `Active` `Patient` (of any hospital).
     *
     * Emits an {AccessRequested} event.
     */
    function requestAccess(
        bytes32 requestId,
        address patient,
        bytes32 scope,
        uint8 purpose,
        bytes32 purposeHash,
        uint64 duration
    ) external;

    /**
     * @notice The caller, the request's patient, approves it: a grant until now + `duration`.
     * @param scope zero to keep the requested scope, else the narrowed one
     * @param duration at most the requested duration
     * @param envelopes digest of the block of data keys re-wrapped for the requester
     *
     * Requirements:
     * - the request exists and the caller is its patient or, once a recovery retired the patient, its
     *   successor (`IRegistry.successorOf`); a retired caller is refused ({ConsentNotActivePatient});
     * - the request is `Pending`;
     * - `duration` is at least 1 hour and at most the requested duration;
     * - `envelopes` is non-zero.
     *
     * Emits an {AccessApproved} event.
     */
    function approve(bytes32 requestId, bytes32 scope, uint64 duration, bytes32 envelopes) external;

    /**
     * @notice The caller, the request's patient, denies it.
     * @param reasonHash commitment to the reason, which stays off chain
     *
     * Requirements:
     * - the request exists and the caller is its patient or, once a recovery retired the patient, its
     *   successor (`IRegistry.successorOf`); a retired caller is refused ({ConsentNotActivePatient});
     * - the request is `Pending`;
     * - `reasonHash` is non-zero.
     *
     * Emits an {AccessDenied} event.
     */
    function deny(bytes32 requestId, bytes32 reasonHash) external;

    /**
     * @notice The caller, the request's patient, ends its grant now (forward-looking: what was read
     * was read).
     *
     * Requirements:
     * - the request exists and the caller is its patient (or the successor of a retired patient,
     *   `IRegistry.successorOf`), not retired by a recovery ({ConsentNotActivePatient});
     * - the request is `Approved` (expired or not).
     *
     * Emits an {AccessRevoked} event.
     */
    function revoke(bytes32 requestId) external;

    /**
     * @notice The caller, a patient, shares `scope` for `duration` seconds with `grantee`, or with
     * whoever holds the token whose SHA-256 is `tokenHash`.
     * @param once single use: the token works for one read ({useShareToken})
     *
     * Requirements:
     * - `shareId` is non-zero and unused;
     * - exactly one of `grantee` and `tokenHash` is non-zero;
     * - `scope` and `envelopes` are non-zero; `duration` is between 1 minute and 365 days;
     * - the caller is an `Active` `Patient`;
     * - a `grantee` is an `Active` account other than the caller.
     *
     * Emits a {Shared} event.
     */
    function share(
        bytes32 shareId,
        address grantee,
        bytes32 tokenHash,
        bytes32 scope,
        uint64 duration,
        bool once,
        bytes32 envelopes
    ) external;

    /**
     * @notice The caller, the share's patient, revokes it: a token stops working at once.
     *
     * Requirements:
     * - the share exists and the caller is its patient (or the successor of a retired patient,
     *   `IRegistry.successorOf`), not retired by a recovery ({ConsentNotActivePatient});
     * - the share is live.
     *
     * Emits a {ShareRevoked} event.
     */
    function revokeShare(bytes32 shareId) external;

    /**
     * @notice The caller, a member hospital serving a token read, records the use of share
     * `shareId`'s token for record `recordId` (and uses it up, when single-use).
     *
     * Requirements:
     * - `recordId` is non-zero (else {ConsentZeroId});
     * - the caller is a member hospital (its own address);
     * - the share exists and is a token share;
     * - the share is neither revoked nor expired, and not used when single-use.
     *
     * Emits a {ShareTokenUsed} event.
     */
    function useShareToken(bytes32 shareId, bytes32 recordId) external;

    /**
     * @notice Break-glass: the caller, a doctor, declares an emergency on `patient`'s records for
     * `window` seconds. This comes first; only then may the patient's hospital release keys.
     * @param reasonHash commitment to the stated reason, which stays off chain
     *
     * Requirements:
     * - `emergencyId` is non-zero and unused;
     * - `reasonHash` is non-zero;
     * - `window` is between 1 minute and 7 days;
     * - the caller is an `Active` `Doctor`; `patient` is an `Active` `Patient` (any hospitals).
     *
     * Emits an {EmergencyDeclared} event.
     */
    function declareEmergency(bytes32 emergencyId, address patient, bytes32 reasonHash, uint64 window) external;

    /**
     * @notice The caller, the patient's hospital, records that it released the patient's data keys
     * to the emergency's doctor, re-wrapped in the `envelopes` block.
     *
     * Requirements:
     * - the emergency exists;
     * - the caller is the patient's hospital (its own address) and a member;
     * - the emergency is live and its keys were not released yet;
     * - `envelopes` is non-zero.
     *
     * Emits an {EmergencyKeyReleased} event.
     */
    function releaseEmergencyKey(bytes32 emergencyId, bytes32 envelopes) external;

    /**
     * @notice The caller, a member hospital, records that it released its shares of the
     * patient's records' data keys to the emergency's doctor, re-wrapped in the `shares` block.
     * Nothing is stored: a hospital's shares are the same each time, and the doctor's node
     * counts distinct hospitals.
     *
     * Requirements:
     * - the emergency exists and is live;
     * - the caller is a member hospital (its own address);
     * - `shares` is non-zero.
     *
     * Emits an {EmergencyShareReleased} event.
     */
    function releaseEmergencyShare(bytes32 emergencyId, bytes32 shares) external;

    /**
     * @notice The caller, a member hospital, records that it released its shares of the recovered
     * patient's records' data keys, re-wrapped for the patient's new account in the `shares`
     * block. Nothing is stored; the patient's node counts distinct hospitals.
     *
     * Requirements:
     * - the recovery is approved in the Registry ({ConsentRecoveryNotApproved});
     * - the caller is a member hospital ({ConsentNotMemberHospital});
     * - `shares` is non-zero ({ConsentEmptyEnvelopes}).
     *
     * Emits a {RecoveryShareReleased} event (`patient`: the recovery's new account).
     */
    function releaseRecoveryShare(bytes32 recoveryId, bytes32 shares) external;

    /**
     * @notice The caller, a member hospital, publishes the shares block of one of its records
     * stored before threshold break-glass (`medledger record rekey --all-emergency`). Nothing is
     * stored; nodes accept it from the record's hospital only.
     *
     * Requirements:
     * - `recordId` and `shares` are non-zero ({ConsentZeroId}, {ConsentEmptyEnvelopes});
     * - the caller is a member hospital ({ConsentNotMemberHospital}).
     *
     * Emits an {EmergencySharesMoved} event.
     */
    function moveEmergencyShares(bytes32 recordId, bytes32 shares) external;

    /**
     * @notice The consortium admin sets the split of new records' emergency keys: `shares`
     * member hospitals, `threshold` of them to open one. Both zero: the default.
     *
     * Requirements:
     * - the caller holds the Registry's DEFAULT_ADMIN_ROLE;
     * - 2 <= `threshold` <= `shares` <= 16, or both zero.
     *
     * Emits an {EmergencyThresholdSet} event.
     */
    function setEmergencyThreshold(uint8 shares, uint8 threshold) external;

    /// @notice The split set by the admin (both zero: the default, decided from the members).
    function emergencyThreshold() external view returns (uint8 shares, uint8 threshold);

    /**
     * @notice The caller records that it read record `recordId` of `patient` for `purpose`. Event
     * only: nothing is stored. Only a party holding an access path to the patient's records may
     * log, so no one else can write into a patient's trail.
     * @param ref the request, share or emergency id the read relies on; zero for none
     *
     * Requirements:
     * - `recordId` is non-zero (else {ConsentZeroId}); `purpose` is a purpose code;
     * - the caller holds the access path `purpose` names (else {ConsentNoAccessPath}):
     *   1 own: the caller is `patient`, an active `Patient` (or, once a recovery retired `patient`, its
     *   successor `IRegistry.successorOf(patient)`), and `ref` is zero;
     *   2 author: an `Active` `Doctor` of `patient`'s hospital (only such a doctor can anchor a
     *     record of the patient; the ledger keeps a commitment to the author, not the author),
     *     and `ref` is zero;
     *   3 grant: `ref` is a live grant of `patient` to the caller;
     *   4 share: `ref` is a live share of `patient` named to the caller;
     *   5 share token: `ref` is a token share of `patient` and the caller a member hospital;
     *   6 emergency: `ref` is a live emergency of the caller on `patient`;
     *   7 verify: the caller is `patient`'s hospital (a member) or an `Active` `Staff` of it.
     *
     * Emits an {AccessLogged} event.
     */
    function logAccess(bytes32 recordId, address patient, uint8 purpose, bytes32 ref) external;

    /**
     * @notice The caller, a member hospital's node account, logs reads its users made, each
     * entry signed by its reader: one transaction for many reads, the authority of each still
     * the reader's own key. An entry is checked as {logAccess} checks its caller, with the
     * reader in the caller's place, and with the grant, share and emergency paths taken at the
     * entry's `readAt` (a revocation ends a grant or share for entries after its block's second):
     * a read served while a path was live is logged even if the path ended before the batch was
     * mined. The
     * other paths (own, author, share token, verify) are checked at mining.
     *
     * Requirements:
     * - the caller is a member hospital (its own address); the batch is not empty;
     * - for each entry: `entryId` and `recordId` are non-zero; `entryId` starts with the caller's
     *   address (else {ConsentEntryNotSenders}); `purpose` is a purpose code;
     *   `signature` is `reader`'s over the entry; the entry was not logged before;
     *   `readAt` is at most the block's time and at most {LOG_WINDOW} seconds before it;
     *   `reader` holds the access path `purpose` names at `readAt` (else {ConsentNoAccessPath}).
     * Any failing entry reverts the whole batch with its error.
     *
     * Emits one {AccessLogged} event per entry, `actor` its reader.
     */
    function logAccessBatch(AccessEntry[] calldata entries) external;

    /// @notice True when entry `entryId` was logged by {logAccessBatch}.
    function isAccessLogged(bytes32 entryId) external view returns (bool);

    /**
     * @notice The caller, a patient, grants care team `teamId` all of their records for `duration`
     * seconds; the team's members read while they are members ({ICareTeams-isMember}) and the grant
     * lives. A new grant to the same team replaces the earlier one. One storage slot.
     *
     * Requirements:
     * - the caller is an active patient ({ConsentNotActivePatient});
     * - `teamId` is non-zero ({ConsentZeroId}); `duration` is 1 hour to 365 days
     *   ({ConsentInvalidDuration}); `envelopes` is non-zero ({ConsentEmptyEnvelopes}).
     * The team is not looked up here (that would cost 9,000 gas more): a grant to an id that is no
     * team reaches nobody, since only members of a team ({ICareTeams-isMember}) read under it.
     *
     * Emits a {TeamAccessGranted} event.
     */
    function grantTeam(bytes32 teamId, uint64 duration, bytes32 envelopes) external;

    /**
     * @notice The caller revokes their live grant to care team `teamId`, at once (as {revoke}: a
     * batched read entry dated before this block's second is still logged).
     *
     * Requirements: the caller's grant to the team is live ({ConsentTeamGrantNotLive}); the caller's
     * account is not retired by a recovery ({ConsentNotActivePatient}).
     *
     * Emits a {TeamAccessRevoked} event.
     */
    function revokeTeamGrant(bytes32 teamId) external;

    /// @notice When `patient`'s grant to team `teamId` ends (zero: never granted) and whether it was revoked.
    function teamGrantOf(bytes32 teamId, address patient) external view returns (uint64 expiresAt, bool revoked);

    /// @notice Whether `patient`'s grant to team `teamId` lives now and `reader` is a member of the team now.
    function isTeamGrantLive(bytes32 teamId, address patient, address reader) external view returns (bool);

    /// @notice Request `requestId` and its grant; all zero when unknown.
    function grantOf(bytes32 requestId) external view returns (Grant memory);

    /// @notice True when request `requestId` is approved, not revoked, not expired, and `grantee`
    /// is its requester.
    function isGrantLive(bytes32 requestId, address grantee) external view returns (bool);

    /// @notice Share `shareId`; all zero when unknown.
    function shareOf(bytes32 shareId) external view returns (Share memory);

    /// @notice True when share `shareId` exists and is neither revoked, expired nor (single-use) used.
    function isShareLive(bytes32 shareId) external view returns (bool);

    /// @notice Emergency `emergencyId`; all zero when unknown.
    function emergencyOf(bytes32 emergencyId) external view returns (Emergency memory);

    /// @notice True when emergency `emergencyId` was declared by `doctor` and has not expired.
    function isEmergencyLive(bytes32 emergencyId, address doctor) external view returns (bool);
}
