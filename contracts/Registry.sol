// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IRegistry} from "./IRegistry.sol";

/// @dev What `Registry.linkContracts` asks of the contracts it links (RecordLedger, Consent).
interface IRegistryBound {
    function registry() external view returns (address);
}

/**
 * @title Registry
 * @notice Member hospitals and their accounts. The consortium admin (DEFAULT_ADMIN_ROLE) adds the
 * first hospital; once there are two members, hospitals are admitted and removed by a strict
 * majority of the members' votes, each sent from the hospital's own key. A joining hospital
 * applies from its own key; members publish how their nodes are reached. The admin and each
 * member hospital's own key register staff; a hospital's active staff register its doctors and
 * patients, and confirm or reject the doctors who signed up themselves. An address is either a
 * hospital or an account, never both.
 */
contract Registry is IRegistry, AccessControl {
    /// @dev A hospital as stored: {Hospital} plus its place in `_members`, in the same slot.
    struct Member {
        bool member;
        uint8 keyScheme;
        uint32 index;
    }

    struct Application {
        uint8 keyScheme;
        bytes32 emergencyKey;
    }

    struct NodeInfo {
        string name;
        string[] addrs;
    }

    uint256 private constant MAX_NAME_BYTES = 100;
    uint256 private constant MAX_ADDRS = 8;
    uint256 private constant MAX_ADDR_BYTES = 256;
    /// @dev Key-wrap scheme codes run from 1 (x25519-hpke) to 2 (rsa-oaep-4096); see {IRegistry-Account}.
    uint8 private constant MAX_KEY_SCHEME = 2;
    uint64 private constant MIN_TTL = 1 hours;
    uint64 private constant MAX_TTL = 365 days;

    mapping(address account => Account) private _accounts;
    mapping(address hospital => Member) private _hospitals;
    mapping(address hospital => Proposal) private _proposals;
    mapping(uint64 proposalId => mapping(address voter => bool)) private _voted;
    uint64 private _proposalCount;
    address[] private _members;
    mapping(address hospital => Application) private _applications;
    mapping(address hospital => NodeInfo) private _nodeInfo;

    /// @inheritdoc IRegistry
    address public recordLedger;

    /// @inheritdoc IRegistry
    address public consent;

    /// @inheritdoc IRegistry
    address public research;

    /// @inheritdoc IRegistry
    address public careTeams;

    /// @inheritdoc IRegistry
    mapping(address account => bytes32) public encryptionKeyOf;

    /// @inheritdoc IRegistry
    mapping(address hospital => bytes32) public emergencyKeyOf;

    /// @inheritdoc IRegistry
    uint64 public proposalTtl = 7 days;

    mapping(bytes32 recoveryId => Recovery) private _recoveries;

    /// @inheritdoc IRegistry
    mapping(address account => address) public successorOf;

    /**
     * @param admin the consortium admin, granted DEFAULT_ADMIN_ROLE
     *
     * Requirements:
     * - `admin` is non-zero.
     */
    constructor(address admin) {
        if (admin == address(0)) revert RegistryZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IRegistry
    function linkContracts(address recordLedger_, address consent_) external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert RegistryUnauthorized(msg.sender);
        if (recordLedger_ == address(0) || consent_ == address(0)) revert RegistryZeroAddress();
        if (recordLedger != address(0)) revert RegistryAlreadyLinked();
        _checkOwnContract(recordLedger_);
        _checkOwnContract(consent_);

        recordLedger = recordLedger_;
        consent = consent_;
        emit ContractsLinked(recordLedger_, consent_);
    }

    /// @inheritdoc IRegistry
    function linkResearch(address research_) external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert RegistryUnauthorized(msg.sender);
        if (research_ == address(0)) revert RegistryZeroAddress();
        if (research != address(0)) revert RegistryAlreadyLinked();
        _checkOwnContract(research_);
        research = research_;
        emit ResearchLinked(research_);
    }

    /// @inheritdoc IRegistry
    function linkCareTeams(address careTeams_) external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert RegistryUnauthorized(msg.sender);
        if (careTeams_ == address(0)) revert RegistryZeroAddress();
        if (careTeams != address(0)) revert RegistryAlreadyLinked();
        _checkOwnContract(careTeams_);
        careTeams = careTeams_;
        emit CareTeamsLinked(careTeams_);
    }

    /// @inheritdoc IRegistry
    function applyForMembership(uint8 keyScheme, bytes32 emergencyKey) external {
        _checkCandidate(msg.sender, keyScheme, emergencyKey);
        if (_isOpen(msg.sender)) revert RegistryProposalOpen(msg.sender);

        _applications[msg.sender] = Application({keyScheme: keyScheme, emergencyKey: emergencyKey});
        emit MembershipApplied(msg.sender, keyScheme, emergencyKey);
    }

    /// @inheritdoc IRegistry
    function setNodeInfo(string calldata name, string[] calldata addrs) external {
        if (!_hospitals[msg.sender].member) revert RegistryUnauthorized(msg.sender);
        if (bytes(name).length > MAX_NAME_BYTES) revert RegistryNameTooLong(bytes(name).length, MAX_NAME_BYTES);
        if (addrs.length > MAX_ADDRS) revert RegistryTooManyAddrs(addrs.length, MAX_ADDRS);
        for (uint256 i = 0; i < addrs.length; ++i) {
            if (bytes(addrs[i]).length > MAX_ADDR_BYTES) {
                revert RegistryAddrTooLong(i, bytes(addrs[i]).length, MAX_ADDR_BYTES);
            }
        }

        NodeInfo storage info = _nodeInfo[msg.sender];
        info.name = name;
        info.addrs = addrs;
        emit NodeInfoSet(msg.sender, name, addrs);
    }

    /// @inheritdoc IRegistry
    function rotateEmergencyKey(bytes32 emergencyKey) external {
        if (!_hospitals[msg.sender].member) revert RegistryUnknownHospital(msg.sender);
        if (emergencyKey == bytes32(0) || emergencyKey == emergencyKeyOf[msg.sender]) revert RegistryInvalidKey();
        emergencyKeyOf[msg.sender] = emergencyKey;
        emit EmergencyKeyRotated(msg.sender, emergencyKey);
    }

    /// @inheritdoc IRegistry
    function addHospital(address hospital, uint8 keyScheme, bytes32 emergencyKey) external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert RegistryUnauthorized(msg.sender);
        _checkCandidate(hospital, keyScheme, emergencyKey);
        if (_members.length > 1) revert RegistryVoteRequired(_members.length);
        if (_isOpen(hospital)) revert RegistryProposalOpen(hospital);

        _admit(hospital, keyScheme, emergencyKey);
    }

    /// @inheritdoc IRegistry
    function proposeHospital(address hospital, uint8 keyScheme, bytes32 emergencyKey) external {
        _checkProposer(msg.sender);
        _checkCandidate(hospital, keyScheme, emergencyKey);
        _open(hospital, ProposalKind.Admit, keyScheme, emergencyKey);
    }

    /// @inheritdoc IRegistry
    function proposeRemoval(address hospital) external {
        _checkProposer(msg.sender);
        if (!_hospitals[hospital].member) revert RegistryUnknownHospital(hospital);
        _open(hospital, ProposalKind.Remove, 0, bytes32(0));
    }

    /// @inheritdoc IRegistry
    function voteOnHospital(address hospital, bool approve) external {
        if (!_hospitals[msg.sender].member) revert RegistryUnauthorized(msg.sender);
        Proposal storage proposal = _proposals[hospital];
        if (proposal.kind == ProposalKind.None) revert RegistryNoProposal(hospital);
        uint64 id = proposal.id;
        if (_expired(proposal)) revert RegistryProposalExpired(id);
        if (_voted[id][msg.sender]) revert RegistryAlreadyVoted(msg.sender, hospital);

        _voted[id][msg.sender] = true;
        uint32 approvals = proposal.approvals;
        uint32 rejections = proposal.rejections;
        if (approve) approvals += 1;
        else rejections += 1;
        proposal.approvals = approvals;
        proposal.rejections = rejections;
        emit HospitalVoted(hospital, id, msg.sender, approve, approvals, rejections);

        uint256 count = _members.length;
        if (uint256(approvals) * 2 > count) {
            _decide(hospital, true, count);
        } else if (uint256(rejections) * 2 >= count) {
            _decide(hospital, false, count);
        }
    }

    /// @inheritdoc IRegistry
    function requestRegistration(Role role, address hospital, uint8 keyScheme, bytes32 encryptionKey) external {
        if (role != Role.Doctor && role != Role.Patient && role != Role.Researcher) revert RegistryInvalidRole(uint8(role));
        if (hospital == address(0)) revert RegistryZeroAddress();
        if (encryptionKey == bytes32(0)) revert RegistryInvalidKey();
        _checkKeyScheme(keyScheme);
        if (!_hospitals[hospital].member) revert RegistryUnknownHospital(hospital);
        _checkUnregistered(msg.sender);

        Status status = role == Role.Patient ? Status.Active : Status.Pending;
        _accounts[msg.sender] = Account({role: role, status: status, keyScheme: keyScheme, hospital: hospital});
        encryptionKeyOf[msg.sender] = encryptionKey;
        emit RegistrationRequested(msg.sender, hospital, role, keyScheme, encryptionKey);
        // AccountRegistered always announces an Active account, however it was registered.
        if (status == Status.Active) emit AccountRegistered(msg.sender, hospital, role, keyScheme, encryptionKey);
    }

    /// @inheritdoc IRegistry
    function confirmAccount(address account) external {
        Account storage a = _pendingAccount(account);
        a.status = Status.Active;
        emit AccountConfirmed(account, a.hospital, msg.sender);
    }

    /// @inheritdoc IRegistry
    function rejectAccount(address account, bytes32 reasonHash) external {
        if (reasonHash == bytes32(0)) revert RegistryEmptyReason();
        Account storage a = _pendingAccount(account);
        a.status = Status.Rejected;
        emit AccountRejected(account, a.hospital, msg.sender, reasonHash);
    }

    /// @inheritdoc IRegistry
    function registerAccount(
        address account,
        Role role,
        address hospital,
        uint8 keyScheme,
        bytes32 encryptionKey
    ) external {
        if (account == address(0) || hospital == address(0)) revert RegistryZeroAddress();
        if (role == Role.None) revert RegistryInvalidRole(uint8(role));
        if (encryptionKey == bytes32(0)) revert RegistryInvalidKey();
        _checkKeyScheme(keyScheme);
        if (!_mayRegister(msg.sender, role, hospital)) revert RegistryUnauthorized(msg.sender);
        if (!_hospitals[hospital].member) revert RegistryUnknownHospital(hospital);
        _checkUnregistered(account);

        _accounts[account] = Account({role: role, status: Status.Active, keyScheme: keyScheme, hospital: hospital});
        encryptionKeyOf[account] = encryptionKey;
        emit AccountRegistered(account, hospital, role, keyScheme, encryptionKey);
    }

    /// @inheritdoc IRegistry
    function proposeRecovery(
        bytes32 recoveryId,
        address oldAccount,
        address newAccount,
        uint8 keyScheme,
        bytes32 encryptionKey,
        bytes32 verification
    ) external {
        if (_recoveries[recoveryId].oldAccount != address(0)) revert RegistryRecoveryExists(recoveryId);
        Account storage patient = _activePatient(oldAccount);
        if (!_isStaffOf(msg.sender, patient.hospital)) revert RegistryUnauthorized(msg.sender);
        if (newAccount == address(0)) revert RegistryZeroAddress();
        if (encryptionKey == bytes32(0)) revert RegistryInvalidKey();
        if (verification == bytes32(0)) revert RegistryEmptyReason();
        _checkKeyScheme(keyScheme);
        _checkUnregistered(newAccount);

        _recoveries[recoveryId] = Recovery({
            oldAccount: oldAccount,
            keyScheme: keyScheme,
            approved: false,
            newAccount: newAccount,
            proposer: msg.sender,
            encryptionKey: encryptionKey,
            verification: verification
        });
        emit RecoveryProposed(recoveryId, oldAccount, newAccount, msg.sender, encryptionKey);
    }

    /// @inheritdoc IRegistry
    function approveRecovery(bytes32 recoveryId, bytes32 envelopes) external {
        Recovery storage r = _recoveries[recoveryId];
        address oldAccount = r.oldAccount;
        if (oldAccount == address(0)) revert RegistryUnknownRecovery(recoveryId);
        if (r.approved) revert RegistryRecoveryDone(recoveryId);
        Account storage patient = _activePatient(oldAccount);
        address hospital = patient.hospital;
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender) && !_isStaffOf(msg.sender, hospital)) revert RegistryUnauthorized(msg.sender);
        if (msg.sender == r.proposer) revert RegistrySelfApproval(msg.sender);
        address newAccount = r.newAccount;
        _checkUnregistered(newAccount);

        r.approved = true;
        patient.status = Status.Retired;
        successorOf[oldAccount] = newAccount;
        uint8 keyScheme = r.keyScheme;
        bytes32 encryptionKey = r.encryptionKey;
        _accounts[newAccount] = Account({role: Role.Patient, status: Status.Active, keyScheme: keyScheme, hospital: hospital});
        encryptionKeyOf[newAccount] = encryptionKey;
        emit RecoveryApproved(recoveryId, oldAccount, newAccount, msg.sender, envelopes);
        emit AccountRegistered(newAccount, hospital, Role.Patient, keyScheme, encryptionKey);
    }

    /// @inheritdoc IRegistry
    function recoveryOf(bytes32 recoveryId) external view returns (Recovery memory) {
        return _recoveries[recoveryId];
    }

    /// @inheritdoc IRegistry
    function accountOf(address account) external view returns (Account memory) {
        return _accounts[account];
    }

    /// @inheritdoc IRegistry
    function accountsOf(address first, address second) external view returns (Account memory, Account memory) {
        return (_accounts[first], _accounts[second]);
    }

    /// @inheritdoc IRegistry
    function hospitalOf(address hospital) external view returns (Hospital memory) {
        Member storage m = _hospitals[hospital];
        return Hospital({member: m.member, keyScheme: m.keyScheme});
    }

    /// @inheritdoc IRegistry
    function memberCount() external view returns (uint256) {
        return _members.length;
    }

    /// @inheritdoc IRegistry
    function members() external view returns (address[] memory) {
        return _members;
    }

    /// @inheritdoc IRegistry
    function applicationOf(address hospital) external view returns (uint8 keyScheme, bytes32 emergencyKey) {
        Application storage a = _applications[hospital];
        return (a.keyScheme, a.emergencyKey);
    }

    /// @inheritdoc IRegistry
    function nodeInfoOf(address hospital) external view returns (string memory name, string[] memory addrs) {
        NodeInfo storage info = _nodeInfo[hospital];
        return (info.name, info.addrs);
    }

    /// @inheritdoc IRegistry
    function proposalOf(address hospital) external view returns (Proposal memory) {
        return _proposals[hospital];
    }

    /// @inheritdoc IRegistry
    function setProposalTtl(uint64 ttl) external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert RegistryUnauthorized(msg.sender);
        if (ttl < MIN_TTL || ttl > MAX_TTL) revert RegistryInvalidTtl(ttl);
        proposalTtl = ttl;
        emit ProposalTtlSet(ttl);
    }

    /// @inheritdoc IRegistry
    function hasVoted(address hospital, address voter) external view returns (bool) {
        Proposal storage proposal = _proposals[hospital];
        return proposal.kind != ProposalKind.None && _voted[proposal.id][voter];
    }

    /// @dev A hospital that may be admitted: a non-zero address, no member yet, no account.
    function _checkCandidate(address hospital, uint8 keyScheme, bytes32 emergencyKey) private view {
        if (hospital == address(0)) revert RegistryZeroAddress();
        if (emergencyKey == bytes32(0)) revert RegistryInvalidKey();
        _checkKeyScheme(keyScheme);
        if (_hospitals[hospital].member) revert RegistryHospitalExists(hospital);
        if (_accounts[hospital].role != Role.None) revert RegistryAlreadyRegistered(hospital);
    }

    /// @dev A stored key scheme is one the nodes can wrap keys for: a node that cannot read a
    /// party's scheme cannot serve it, so the chain refuses the code rather than every node later.
    function _checkKeyScheme(uint8 keyScheme) private pure {
        if (keyScheme == 0 || keyScheme > MAX_KEY_SCHEME) revert RegistryInvalidKeyScheme(keyScheme);
    }

    /// @dev An address that may become an account: neither an account nor a hospital, nor a
    /// candidate hospital under a vote (an admission would make it both).
    function _checkUnregistered(address account) private view {
        if (_accounts[account].role != Role.None || _hospitals[account].member) revert RegistryAlreadyRegistered(account);
        if (_isOpen(account)) revert RegistryProposalOpen(account);
    }

    /// @dev A proposal about `hospital` exists and has not expired.
    function _isOpen(address hospital) private view returns (bool) {
        Proposal storage proposal = _proposals[hospital];
        return proposal.kind != ProposalKind.None && !_expired(proposal);
    }

    /// @dev The chain's clock is past the proposal's opening time plus the current lifetime.
    function _expired(Proposal storage proposal) private view returns (bool) {
        return block.timestamp > uint256(proposal.openedAt) + proposalTtl;
    }

    /// @dev `target` is a deployed contract that names this registry as its `registry()`: a link
    /// is set once, so a mistyped address must not stick.
    function _checkOwnContract(address target) private view {
        if (target.code.length == 0) revert RegistryForeignContract(target);
        try IRegistryBound(target).registry() returns (address r) {
            if (r != address(this)) revert RegistryForeignContract(target);
        } catch {
            revert RegistryForeignContract(target);
        }
    }

    /// @dev The admin or a member hospital may propose, when there is a member to vote.
    function _checkProposer(address caller) private view {
        if (!_hospitals[caller].member && !hasRole(DEFAULT_ADMIN_ROLE, caller)) revert RegistryUnauthorized(caller);
        if (_members.length == 0) revert RegistryNoVoters();
    }

    /// @dev An expired proposal about `hospital` is replaced; its votes stay with its own id.
    function _open(address hospital, ProposalKind kind, uint8 keyScheme, bytes32 emergencyKey) private {
        if (_isOpen(hospital)) revert RegistryProposalOpen(hospital);
        uint64 id = ++_proposalCount;
        _proposals[hospital] = Proposal({
            kind: kind,
            keyScheme: keyScheme,
            id: id,
            approvals: 0,
            rejections: 0,
            openedAt: uint64(block.timestamp),
            emergencyKey: emergencyKey
        });
        emit HospitalProposed(hospital, id, kind, msg.sender, keyScheme, emergencyKey);
    }

    /// @dev Closes the proposal about `hospital` and, when accepted, carries it out.
    function _decide(address hospital, bool accepted, uint256 count) private {
        Proposal memory proposal = _proposals[hospital];
        delete _proposals[hospital];
        emit ProposalDecided(hospital, proposal.id, proposal.kind, accepted, count);
        if (!accepted) return;
        if (proposal.kind == ProposalKind.Admit) {
            _admit(hospital, proposal.keyScheme, proposal.emergencyKey);
        } else {
            _remove(hospital);
        }
    }

    function _admit(address hospital, uint8 keyScheme, bytes32 emergencyKey) private {
        // The admin may add a hospital whose admission vote expired: that proposal goes too.
        if (_proposals[hospital].kind != ProposalKind.None) delete _proposals[hospital];
        _hospitals[hospital] = Member({member: true, keyScheme: keyScheme, index: uint32(_members.length)});
        _members.push(hospital);
        emergencyKeyOf[hospital] = emergencyKey;
        // An application's emergency key is never zero: one read tells whether there is one.
        if (_applications[hospital].emergencyKey != bytes32(0)) delete _applications[hospital];
        emit HospitalAdded(hospital, keyScheme, emergencyKey);
    }

    /// @dev Swap-and-pop: the last member takes the removed one's place in `_members`.
    function _remove(address hospital) private {
        uint32 index = _hospitals[hospital].index;
        uint256 last = _members.length - 1;
        if (index != last) {
            address moved = _members[last];
            _members[index] = moved;
            _hospitals[moved].index = index;
        }
        _members.pop();
        delete _hospitals[hospital];
        delete emergencyKeyOf[hospital];
        delete _nodeInfo[hospital];
        emit HospitalRemoved(hospital);
    }

    /// @dev The pending `account`, once the caller is found to be the admin or an active staff
    /// member of its hospital.
    function _pendingAccount(address account) private view returns (Account storage a) {
        a = _accounts[account];
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            Account storage staff = _accounts[msg.sender];
            if (
                staff.role != Role.Staff || staff.status != Status.Active || staff.hospital != a.hospital
                    || a.hospital == address(0)
            ) revert RegistryUnauthorized(msg.sender);
        }
        if (a.status != Status.Pending) revert RegistryNotPending(account, a.status);
    }

    /// @dev `account`, once found to be an active patient.
    function _activePatient(address account) private view returns (Account storage a) {
        a = _accounts[account];
        if (a.role != Role.Patient || a.status != Status.Active) revert RegistryNotActivePatient(account);
    }

    /// @dev `caller` is an active staff member of member `hospital`.
    function _isStaffOf(address caller, address hospital) private view returns (bool) {
        Account storage staff = _accounts[caller];
        return staff.role == Role.Staff && staff.status == Status.Active && staff.hospital == hospital
            && _hospitals[hospital].member;
    }

    /// @dev Admins register any role anywhere; a member hospital's own key registers its staff;
    /// active staff register doctors and patients of their own hospital only.
    function _mayRegister(address caller, Role role, address hospital) private view returns (bool) {
        if (hasRole(DEFAULT_ADMIN_ROLE, caller)) return true;
        if (role == Role.Staff) return caller == hospital && _hospitals[hospital].member;
        Account storage staff = _accounts[caller];
        return staff.role == Role.Staff && staff.status == Status.Active && staff.hospital == hospital;
    }
}
