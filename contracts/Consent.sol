// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IRegistry} from "./IRegistry.sol";
import {IConsent} from "./IConsent.sol";
import {ICareTeams} from "./ICareTeams.sol";

/**
 * @title Consent
 * @notice Access requests and grants, shares, break-glass emergencies and the access log of a
 * MedLedger consortium. See {IConsent}.
 *
 * Storage is packed for the patient's hot path: `approve` reads the request's first two slots and
 * rewrites only the first (status and expiry) when the scope is kept; the envelopes digest goes in
 * the event rather than in storage. `logAccess` stores nothing; `logAccessBatch` sets one bit per
 * entry (its id, so that it is logged once), 256 entries of a hospital to a word.
 */
contract Consent is IConsent, EIP712 {
    /// @inheritdoc IConsent
    IRegistry public immutable registry;

    uint64 private constant _MIN_GRANT = 1 hours;
    uint64 private constant _MAX_GRANT = 365 days;
    uint64 private constant _MIN_SHARE = 1 minutes;
    uint64 private constant _MAX_SHARE = 365 days;
    uint64 private constant _MIN_WINDOW = 1 minutes;
    uint64 private constant _MAX_WINDOW = 7 days;
    /// @dev Purpose codes run from 1 (own) to 7 (verify); see {IConsent}.
    uint8 private constant _OWN = 1;
    uint8 private constant _AUTHOR = 2;
    uint8 private constant _GRANT = 3;
    uint8 private constant _SHARE = 4;
    uint8 private constant _SHARE_TOKEN = 5;
    uint8 private constant _EMERGENCY = 6;
    uint8 private constant _TEAM = 8;
    uint8 private constant _MAX_PURPOSE = 8;

    /// @notice How far back a batched entry's `readAt` may lie when it is mined.
    uint64 public constant LOG_WINDOW = 7 days;
    bytes32 private constant _ENTRY_TYPEHASH = keccak256(
        "AccessEntry(bytes32 entryId,bytes32 recordId,address patient,uint8 purpose,bytes32 ref,uint64 readAt)"
    );

    /// @dev One bit per batched entry id, 256 ids a word: a hospital numbers its entries in turn,
    /// so a batch mostly sets bits of a word it already touched.
    mapping(uint256 word => uint256 bits) private _logged;
    mapping(bytes32 requestId => Grant) private _grants;
    mapping(bytes32 shareId => Share) private _shares;
    mapping(bytes32 emergencyId => Emergency) private _emergencies;
    /// @dev A patient's grant to a care team: its end and whether it was revoked, one slot.
    mapping(bytes32 teamId => mapping(address patient => TeamGrant)) private _teamGrants;

    struct TeamGrant {
        uint64 expiresAt;
        bool revoked;
    }
    /// @dev The admin's split of new records' emergency keys (both zero: the default).
    uint8 private _emergencyShares;
    uint8 private _emergencyThreshold;

    /// @param registry_ the registry that says who is who
    constructor(IRegistry registry_) EIP712("MedLedger Consent", "1") {
        registry = registry_;
    }

    // ---------------------------------------------------------------- access requests

    /// @inheritdoc IConsent
    function requestAccess(
        bytes32 requestId,
        address patient,
        bytes32 scope,
        uint8 purpose,
        bytes32 purposeHash,
        uint64 duration
    ) external {
        if (requestId == bytes32(0)) revert ConsentZeroId();
        if (_grants[requestId].status != RequestStatus.None) revert ConsentRequestExists(requestId);
        _checkPurpose(purpose);
        if (duration < _MIN_GRANT || duration > _MAX_GRANT) revert ConsentInvalidDuration(duration);
        _checkDoctorAndPatient(msg.sender, patient);

        _grants[requestId] = Grant({
            patient: patient,
            status: RequestStatus.Pending,
            purpose: purpose,
            expiresAt: 0,
            requester: msg.sender,
            duration: duration,
            scope: scope
        });
        emit AccessRequested(requestId, msg.sender, patient, scope, purpose, purposeHash, duration);
    }

    /// @inheritdoc IConsent
    function approve(bytes32 requestId, bytes32 scope, uint64 duration, bytes32 envelopes) external {
        Grant storage grant = _pendingOf(requestId);
        uint64 requested = grant.duration;
        if (duration < _MIN_GRANT) revert ConsentInvalidDuration(duration);
        if (duration > requested) revert ConsentDurationExceedsRequest(duration, requested);
        if (envelopes == bytes32(0)) revert ConsentEmptyEnvelopes();

        uint64 expiresAt = uint64(block.timestamp) + duration;
        grant.status = RequestStatus.Approved;
        grant.expiresAt = expiresAt;
        if (scope == bytes32(0)) {
            scope = grant.scope;
        } else {
            grant.scope = scope;
        }
        emit AccessApproved(requestId, grant.requester, msg.sender, scope, expiresAt, envelopes);
    }

    /// @inheritdoc IConsent
    function deny(bytes32 requestId, bytes32 reasonHash) external {
        Grant storage grant = _pendingOf(requestId);
        if (reasonHash == bytes32(0)) revert ConsentEmptyReason();

        grant.status = RequestStatus.Denied;
        emit AccessDenied(requestId, grant.requester, msg.sender, reasonHash);
    }

    /// @inheritdoc IConsent
    function revoke(bytes32 requestId) external {
        Grant storage grant = _patientsRequest(requestId);
        RequestStatus status = grant.status;
        if (status != RequestStatus.Approved) revert ConsentRequestNotApproved(requestId, status);

        grant.status = RequestStatus.Revoked;
        // The grant ends now, for batched read entries (`readAt`) through this block's second:
        // a read decided in an earlier block of the same second still finds it live.
        if (block.timestamp + 1 < grant.expiresAt) grant.expiresAt = uint64(block.timestamp) + 1;
        emit AccessRevoked(requestId, grant.requester, msg.sender);
    }

    /// @inheritdoc IConsent
    function grantOf(bytes32 requestId) external view returns (Grant memory) {
        return _grants[requestId];
    }

    /// @inheritdoc IConsent
    function isGrantLive(bytes32 requestId, address grantee) external view returns (bool) {
        Grant storage grant = _grants[requestId];
        return grant.status == RequestStatus.Approved && block.timestamp < grant.expiresAt
            && grant.requester == grantee && grantee != address(0);
    }

    // ---------------------------------------------------------------- shares

    /// @inheritdoc IConsent
    function share(
        bytes32 shareId,
        address grantee,
        bytes32 tokenHash,
        bytes32 scope,
        uint64 duration,
        bool once,
        bytes32 envelopes
    ) external {
        if (shareId == bytes32(0)) revert ConsentZeroId();
        if (_shares[shareId].patient != address(0)) revert ConsentShareExists(shareId);
        if ((grantee == address(0)) == (tokenHash == bytes32(0))) revert ConsentInvalidShareTarget();
        if (scope == bytes32(0)) revert ConsentEmptyScope();
        if (duration < _MIN_SHARE || duration > _MAX_SHARE) revert ConsentInvalidDuration(duration);
        if (envelopes == bytes32(0)) revert ConsentEmptyEnvelopes();
        (IRegistry.Account memory patient, IRegistry.Account memory named) = registry.accountsOf(msg.sender, grantee);
        if (patient.role != IRegistry.Role.Patient || patient.status != IRegistry.Status.Active) {
            revert ConsentNotActivePatient(msg.sender);
        }
        if (grantee != address(0) && (named.status != IRegistry.Status.Active || grantee == msg.sender)) {
            revert ConsentInvalidGrantee(grantee);
        }

        uint64 expiresAt = uint64(block.timestamp) + duration;
        _shares[shareId] = Share({
            patient: msg.sender,
            expiresAt: expiresAt,
            once: once,
            used: false,
            revoked: false,
            grantee: grantee,
            tokenHash: tokenHash,
            scope: scope
        });
        emit Shared(shareId, msg.sender, grantee, tokenHash, scope, expiresAt, once, envelopes);
    }

    /// @inheritdoc IConsent
    function revokeShare(bytes32 shareId) external {
        Share storage s = _shares[shareId];
        address patient = s.patient;
        if (patient == address(0)) revert ConsentUnknownShare(shareId);
        if (patient != msg.sender && registry.successorOf(patient) != msg.sender) revert ConsentNotPatient(msg.sender, shareId);
        _checkNotRetired(msg.sender);
        if (!_isLive(s)) revert ConsentShareNotLive(shareId);

        s.revoked = true;
        if (block.timestamp + 1 < s.expiresAt) s.expiresAt = uint64(block.timestamp) + 1;
        emit ShareRevoked(shareId, msg.sender);
    }

    /// @inheritdoc IConsent
    function useShareToken(bytes32 shareId, bytes32 recordId) external {
        if (recordId == bytes32(0)) revert ConsentZeroId();
        if (!registry.hospitalOf(msg.sender).member) revert ConsentNotMemberHospital(msg.sender);
        Share storage s = _shares[shareId];
        address patient = s.patient;
        if (patient == address(0)) revert ConsentUnknownShare(shareId);
        if (s.tokenHash == bytes32(0)) revert ConsentNotTokenShare(shareId);
        if (s.revoked || block.timestamp >= s.expiresAt) revert ConsentShareNotLive(shareId);
        if (s.once && s.used) revert ConsentShareUsed(shareId);

        s.used = true;
        emit ShareTokenUsed(shareId, patient, recordId, msg.sender);
    }

    /// @inheritdoc IConsent
    function shareOf(bytes32 shareId) external view returns (Share memory) {
        return _shares[shareId];
    }

    /// @inheritdoc IConsent
    function isShareLive(bytes32 shareId) external view returns (bool) {
        Share storage s = _shares[shareId];
        return s.patient != address(0) && _isLive(s);
    }

    // ---------------------------------------------------------------- break-glass

    /// @inheritdoc IConsent
    function declareEmergency(bytes32 emergencyId, address patient, bytes32 reasonHash, uint64 window) external {
        if (emergencyId == bytes32(0)) revert ConsentZeroId();
        if (_emergencies[emergencyId].doctor != address(0)) revert ConsentEmergencyExists(emergencyId);
        if (reasonHash == bytes32(0)) revert ConsentEmptyReason();
        if (window < _MIN_WINDOW || window > _MAX_WINDOW) revert ConsentInvalidDuration(window);
        _checkDoctorAndPatient(msg.sender, patient);

        uint64 expiresAt = uint64(block.timestamp) + window;
        _emergencies[emergencyId] = Emergency({doctor: msg.sender, expiresAt: expiresAt, released: false, patient: patient});
        emit EmergencyDeclared(emergencyId, msg.sender, patient, reasonHash, expiresAt);
    }

    /// @inheritdoc IConsent
    function releaseEmergencyKey(bytes32 emergencyId, bytes32 envelopes) external {
        Emergency storage e = _emergencies[emergencyId];
        address doctor = e.doctor;
        if (doctor == address(0)) revert ConsentUnknownEmergency(emergencyId);
        address patient = e.patient;
        if (registry.accountOf(patient).hospital != msg.sender || !registry.hospitalOf(msg.sender).member) {
            revert ConsentNotHospitalOf(msg.sender, patient);
        }
        if (block.timestamp >= e.expiresAt) revert ConsentEmergencyNotLive(emergencyId);
        if (e.released) revert ConsentEmergencyReleased(emergencyId);
        if (envelopes == bytes32(0)) revert ConsentEmptyEnvelopes();

        e.released = true;
        emit EmergencyKeyReleased(emergencyId, patient, msg.sender, doctor, envelopes);
    }

    /// @inheritdoc IConsent
    function releaseEmergencyShare(bytes32 emergencyId, bytes32 shares) external {
        Emergency storage e = _emergencies[emergencyId];
        address doctor = e.doctor;
        if (doctor == address(0)) revert ConsentUnknownEmergency(emergencyId);
        if (!registry.hospitalOf(msg.sender).member) revert ConsentNotMemberHospital(msg.sender);
        if (block.timestamp >= e.expiresAt) revert ConsentEmergencyNotLive(emergencyId);
        if (shares == bytes32(0)) revert ConsentEmptyEnvelopes();
        emit EmergencyShareReleased(emergencyId, e.patient, msg.sender, doctor, shares);
    }

    /// @inheritdoc IConsent
    function releaseRecoveryShare(bytes32 recoveryId, bytes32 shares) external {
        IRegistry.Recovery memory r = registry.recoveryOf(recoveryId);
        if (!r.approved) revert ConsentRecoveryNotApproved(recoveryId);
        if (!registry.hospitalOf(msg.sender).member) revert ConsentNotMemberHospital(msg.sender);
        if (shares == bytes32(0)) revert ConsentEmptyEnvelopes();
        emit RecoveryShareReleased(recoveryId, r.newAccount, msg.sender, shares);
    }

    /// @inheritdoc IConsent
    function moveEmergencyShares(bytes32 recordId, bytes32 shares) external {
        if (recordId == bytes32(0)) revert ConsentZeroId();
        if (shares == bytes32(0)) revert ConsentEmptyEnvelopes();
        if (!registry.hospitalOf(msg.sender).member) revert ConsentNotMemberHospital(msg.sender);
        emit EmergencySharesMoved(recordId, msg.sender, shares);
    }

    /// @inheritdoc IConsent
    function setEmergencyThreshold(uint8 shares, uint8 threshold) external {
        if (!IAccessControl(address(registry)).hasRole(bytes32(0), msg.sender)) revert ConsentNotAdmin(msg.sender);
        if ((shares != 0 || threshold != 0) && (threshold < 2 || threshold > shares || shares > 16)) {
            revert ConsentInvalidThreshold(shares, threshold);
        }
        _emergencyShares = shares;
        _emergencyThreshold = threshold;
        emit EmergencyThresholdSet(shares, threshold);
    }

    /// @inheritdoc IConsent
    function emergencyThreshold() external view returns (uint8 shares, uint8 threshold) {
        return (_emergencyShares, _emergencyThreshold);
    }

    /// @inheritdoc IConsent
    function emergencyOf(bytes32 emergencyId) external view returns (Emergency memory) {
        return _emergencies[emergencyId];
    }

    /// @inheritdoc IConsent
    function isEmergencyLive(bytes32 emergencyId, address doctor) external view returns (bool) {
        Emergency storage e = _emergencies[emergencyId];
        return doctor != address(0) && e.doctor == doctor && block.timestamp < e.expiresAt;
    }

    // ---------------------------------------------------------------- care teams

    /// @inheritdoc IConsent
    function grantTeam(bytes32 teamId, uint64 duration, bytes32 envelopes) external {
        if (duration < _MIN_GRANT || duration > _MAX_GRANT) revert ConsentInvalidDuration(duration);
        if (envelopes == bytes32(0)) revert ConsentEmptyEnvelopes();
        IRegistry.Account memory p = registry.accountOf(msg.sender);
        if (p.role != IRegistry.Role.Patient || p.status != IRegistry.Status.Active) revert ConsentNotActivePatient(msg.sender);
        if (teamId == bytes32(0)) revert ConsentZeroId();

        uint64 expiresAt = uint64(block.timestamp) + duration;
        _teamGrants[teamId][msg.sender] = TeamGrant({expiresAt: expiresAt, revoked: false});
        emit TeamAccessGranted(teamId, msg.sender, expiresAt, envelopes);
    }

    /// @inheritdoc IConsent
    function revokeTeamGrant(bytes32 teamId) external {
        TeamGrant storage g = _teamGrants[teamId][msg.sender];
        if (g.revoked || block.timestamp >= g.expiresAt) revert ConsentTeamGrantNotLive(teamId, msg.sender);
        _checkNotRetired(msg.sender);
        g.revoked = true;
        if (block.timestamp + 1 < g.expiresAt) g.expiresAt = uint64(block.timestamp) + 1;
        emit TeamAccessRevoked(teamId, msg.sender);
    }

    /// @inheritdoc IConsent
    function teamGrantOf(bytes32 teamId, address patient) external view returns (uint64 expiresAt, bool revoked) {
        TeamGrant storage g = _teamGrants[teamId][patient];
        return (g.expiresAt, g.revoked);
    }

    /// @inheritdoc IConsent
    function isTeamGrantLive(bytes32 teamId, address patient, address reader) external view returns (bool) {
        TeamGrant storage g = _teamGrants[teamId][patient];
        return !g.revoked && block.timestamp < g.expiresAt && _isTeamMember(teamId, reader);
    }

    // ---------------------------------------------------------------- audit

    /// @inheritdoc IConsent
    function logAccess(bytes32 recordId, address patient, uint8 purpose, bytes32 ref) external {
        if (recordId == bytes32(0)) revert ConsentZeroId();
        if (purpose == _GRANT) {
            // The commonest read logged alone: the grant's two slots read once each, nothing else
            // (the checks of `_mayLog` for a grant, in one place).
            Grant storage g = _grants[ref];
            bool live;
            // Grant's first slot: patient (bits 0-159), status (160-167), purpose, expiresAt
            // (176-239); its second: requester (bits 0-159). As `_mayLog` decides a grant.
            uint256 approved = uint256(RequestStatus.Approved);
            assembly ("memory-safe") {
                let first := sload(g.slot)
                let requester := and(sload(add(g.slot, 1)), 0xffffffffffffffffffffffffffffffffffffffff)
                live := and(
                    and(eq(and(shr(160, first), 0xff), approved), eq(and(first, 0xffffffffffffffffffffffffffffffffffffffff), patient)),
                    and(lt(timestamp(), and(shr(176, first), 0xffffffffffffffff)), eq(requester, caller()))
                )
            }
            if (!live) revert ConsentNoAccessPath(msg.sender, patient, purpose, ref);
        } else {
            _checkPurpose(purpose);
            if (!_mayLog(msg.sender, patient, purpose, ref)) revert ConsentNoAccessPath(msg.sender, patient, purpose, ref);
        }
        // emit AccessLogged(recordId, patient, msg.sender, purpose, ref), its data written in the
        // scratch space: the same log, without the free-memory bookkeeping.
        bytes32 topic = AccessLogged.selector;
        assembly ("memory-safe") {
            mstore(0x00, purpose)
            mstore(0x20, ref)
            log4(0x00, 0x40, topic, recordId, patient, caller())
        }
    }

    /// @inheritdoc IConsent
    function logAccessBatch(AccessEntry[] calldata entries) external {
        if (!registry.hospitalOf(msg.sender).member) revert ConsentNotMemberHospital(msg.sender);
        if (entries.length == 0) revert ConsentEmptyBatch();
        for (uint256 i = 0; i < entries.length; ++i) {
            _logEntry(entries[i]);
        }
    }

    /// @inheritdoc IConsent
    function isAccessLogged(bytes32 entryId) external view returns (bool) {
        return _logged[uint256(entryId) >> 8] & (1 << uint8(uint256(entryId))) != 0;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Checks one batched entry (ids, purpose, signature, replay, time, access path at its
    /// `readAt`), marks it logged and emits its {AccessLogged}.
    function _logEntry(AccessEntry calldata e) private {
        if (e.entryId == bytes32(0) || e.recordId == bytes32(0)) revert ConsentZeroId();
        _checkPurpose(e.purpose);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(
            _ENTRY_TYPEHASH, e.entryId, e.recordId, e.patient, e.purpose, e.ref, e.readAt
        )));
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, e.signature);
        if (err != ECDSA.RecoverError.NoError || signer != e.reader) revert ConsentBadSignature(e.entryId, e.reader);
        if (address(bytes20(e.entryId)) != msg.sender) revert ConsentEntryNotSenders(e.entryId, msg.sender);
        uint256 word = uint256(e.entryId) >> 8;
        uint256 bit = 1 << uint8(uint256(e.entryId));
        uint256 bits = _logged[word];
        if (bits & bit != 0) revert ConsentEntryLogged(e.entryId);
        if (e.readAt > block.timestamp || e.readAt + LOG_WINDOW < block.timestamp) revert ConsentStaleEntry(e.entryId, e.readAt);
        if (!_mayLogAt(e.reader, e.patient, e.purpose, e.ref, e.readAt)) {
            revert ConsentNoAccessPath(e.reader, e.patient, e.purpose, e.ref);
        }
        _logged[word] = bits | bit;
        emit AccessLogged(e.recordId, e.patient, e.reader, e.purpose, e.ref);
    }

    /// @dev Whether `caller` holds the access path `purpose` names to `patient`'s records now: a
    /// grant approved and not revoked, a share live (not revoked, expired or used up), then as at
    /// this block's time.
    function _mayLog(address caller, address patient, uint8 purpose, bytes32 ref) private view returns (bool) {
        if (purpose == _GRANT && _grants[ref].status != RequestStatus.Approved) return false;
        if (purpose == _SHARE && !_isLive(_shares[ref])) return false;
        if (purpose == _TEAM && _teamGrants[ref][patient].revoked) return false;
        return _mayLogAt(caller, patient, purpose, ref, uint64(block.timestamp));
    }

    /// @dev Whether `caller` held the access path `purpose` names to `patient`'s records at
    /// `time`: the grant, share and emergency paths by their expiry (which a revocation brings
    /// forward to its block's time), reading only this contract's storage; the others as the
    /// registry says now, asking it once.
    function _mayLogAt(address caller, address patient, uint8 purpose, bytes32 ref, uint64 time) private view returns (bool) {
        if (purpose == _GRANT) {
            Grant storage g = _grants[ref];
            RequestStatus status = g.status;
            return g.requester == caller && g.patient == patient && time < g.expiresAt
                && (status == RequestStatus.Approved || status == RequestStatus.Revoked);
        }
        if (purpose == _SHARE) {
            Share storage s = _shares[ref];
            return s.grantee == caller && s.patient == patient && time < s.expiresAt;
        }
        if (purpose == _EMERGENCY) {
            Emergency storage e = _emergencies[ref];
            return e.doctor == caller && e.patient == patient && time < e.expiresAt;
        }
        // A team grant by its expiry at `time`; membership as it is now, so a removed member's
        // entries are refused at once.
        if (purpose == _TEAM) return time < _teamGrants[ref][patient].expiresAt && _isTeamMember(ref, caller);
        (IRegistry.Account memory c, IRegistry.Account memory p) = registry.accountsOf(caller, patient);
        if (p.role != IRegistry.Role.Patient) return false;
        // A recovered patient's own reads of records anchored for the retired account log as own.
        if (purpose == _OWN) {
            if (ref != bytes32(0)) return false;
            if (caller == patient) return p.status == IRegistry.Status.Active;
            return p.status == IRegistry.Status.Retired && registry.successorOf(patient) == caller;
        }
        if (purpose == _AUTHOR) {
            return ref == bytes32(0) && c.role == IRegistry.Role.Doctor && c.status == IRegistry.Status.Active
                && c.hospital == p.hospital;
        }
        if (purpose == _SHARE_TOKEN) {
            Share storage s = _shares[ref];
            return s.patient == patient && s.tokenHash != bytes32(0) && registry.hospitalOf(caller).member;
        }
        // verify
        if (c.role == IRegistry.Role.Staff) return c.status == IRegistry.Status.Active && c.hospital == p.hospital;
        return caller == p.hospital && registry.hospitalOf(caller).member;
    }

    /// @dev `account` is a member of care team `teamId` now (false when no CareTeams is linked).
    function _isTeamMember(bytes32 teamId, address account) private view returns (bool) {
        address teams = registry.careTeams();
        return teams != address(0) && ICareTeams(teams).isMember(teamId, account);
    }

    function _checkPurpose(uint8 purpose) private pure {
        if (purpose == 0 || purpose > _MAX_PURPOSE) revert ConsentInvalidPurpose(purpose);
    }

    /// @dev `doctor` must be an active doctor and `patient` an active patient, of any hospitals.
    function _checkDoctorAndPatient(address doctor, address patient) private view {
        (IRegistry.Account memory d, IRegistry.Account memory p) = registry.accountsOf(doctor, patient);
        if (d.role != IRegistry.Role.Doctor || d.status != IRegistry.Status.Active) revert ConsentNotActiveDoctor(doctor);
        if (p.role != IRegistry.Role.Patient || p.status != IRegistry.Status.Active) revert ConsentNotActivePatient(patient);
    }

    /// @dev Request `requestId`, once found to exist and to be the caller's (its patient's).
    function _patientsRequest(bytes32 requestId) private view returns (Grant storage grant) {
        grant = _grants[requestId];
        address patient = grant.patient;
        if (patient == address(0)) revert ConsentUnknownRequest(requestId);
        // A recovered patient's new account acts on what the retired one decided (e.g. revokes it).
        if (patient != msg.sender && registry.successorOf(patient) != msg.sender) revert ConsentNotPatient(msg.sender, requestId);
        _checkNotRetired(msg.sender);
    }

    /// @dev A patient's key retired by a recovery (IRegistry.approveRecovery) signs nothing more.
    function _checkNotRetired(address patient) private view {
        if (registry.accountOf(patient).status == IRegistry.Status.Retired) revert ConsentNotActivePatient(patient);
    }

    /// @dev The caller's request `requestId`, once found to be pending.
    function _pendingOf(bytes32 requestId) private view returns (Grant storage grant) {
        grant = _patientsRequest(requestId);
        RequestStatus status = grant.status;
        if (status != RequestStatus.Pending) revert ConsentRequestNotPending(requestId, status);
    }

    function _isLive(Share storage s) private view returns (bool) {
        return !s.revoked && block.timestamp < s.expiresAt && !(s.once && s.used);
    }
}
