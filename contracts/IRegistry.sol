// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IRegistry
 * @notice Who is who in a MedLedger consortium: member hospitals and the accounts (staff, doctors,
 * patients) they register. Everything here is pseudonymous: addresses, role codes and SHA-256
 * digests of public encryption keys. No personal data is ever stored or logged.
 */
interface IRegistry {
    /// @notice What an account does. `None` marks an address that is not registered.
    enum Role {
        None,
        Staff,
        Doctor,
        Patient,
        Researcher
    }

    /// @notice Where an account stands. Only `Active` accounts may act. A self-registered doctor or
    /// researcher is `Pending` until confirmed (`Active`) or rejected (`Rejected`, final); `Suspended` is
    /// reserved for a suspension flow. A patient's account replaced by a recovery ({approveRecovery}) is
    /// `Retired` (final): its key signs nothing any more, and {successorOf} names the new account.
    enum Status {
        None,
        Pending,
        Active,
        Suspended,
        Rejected,
        Retired
    }

    /// @notice What an open proposal about a hospital asks: admit it, or remove it.
    enum ProposalKind {
        None,
        Admit,
        Remove
    }

    /// @notice One registered account; fits in a single storage slot (1 + 1 + 1 + 20 bytes).
    /// @dev `keyScheme` is the key-wrap scheme of the account's encryption key: 1 x25519-hpke
    /// (a raw 32-byte X25519 key), 2 rsa-oaep-4096 (an SPKI DER RSA-4096 key); `src/crypto/key-wrap.ts`.
    /// Only the key's SHA-256 reaches the chain: its length is checked by the nodes that fetch it.
    struct Account {
        Role role;
        Status status;
        uint8 keyScheme;
        address hospital;
    }

    /// @notice A consortium member; its emergency key digest is kept in `emergencyKeyOf`.
    struct Hospital {
        bool member;
        uint8 keyScheme;
    }

    /// @notice The open proposal about one hospital; at most one per hospital at a time.
    /// @dev `id` numbers proposals from 1 across the registry, so the votes of a decided proposal
    /// never count for a later one about the same hospital. `emergencyKey` and `keyScheme` are
    /// those of an admission (zero for a removal). `openedAt` is the block time it was opened (in the
    /// first slot with the tallies): once the chain's clock is past `openedAt + proposalTtl()`, it has expired.
    struct Proposal {
        ProposalKind kind;
        uint8 keyScheme;
        uint64 id;
        uint32 approvals;
        uint32 rejections;
        uint64 openedAt;
        bytes32 emergencyKey;
    }

    /// @notice A recovery of a patient who lost every secret: proposed by staff of the patient's
    /// hospital, carried out when a different staff member of that hospital or the admin approves.
    /// @dev `verification` is a keyed hash of how the patient was verified in person (never a document
    /// number); `encryptionKey` the SHA-256 of the new account's public key. The first slot holds
    /// `oldAccount`, `keyScheme` and `approved`.
    struct Recovery {
        address oldAccount;
        uint8 keyScheme;
        bool approved;
        address newAccount;
        address proposer;
        bytes32 encryptionKey;
        bytes32 verification;
    }

    /// @notice A hospital joined the consortium (added by the admin, or admitted by a vote); its
    /// application, if any, is deleted.
    event HospitalAdded(address indexed hospital, uint8 keyScheme, bytes32 emergencyKey);

    /// @notice A hospital left the consortium by a vote of the members; its node info is cleared.
    event HospitalRemoved(address indexed hospital);

    /// @notice `by` proposed to admit (`kind` Admit) or remove (`kind` Remove) `hospital`.
    event HospitalProposed(
        address indexed hospital,
        uint64 indexed proposalId,
        ProposalKind kind,
        address by,
        uint8 keyScheme,
        bytes32 emergencyKey
    );

    /// @notice Member hospital `voter` voted on proposal `proposalId` about `hospital`; the tallies
    /// include this vote.
    event HospitalVoted(
        address indexed hospital,
        uint64 indexed proposalId,
        address indexed voter,
        bool approve,
        uint32 approvals,
        uint32 rejections
    );

    /// @notice Proposal `proposalId` about `hospital` was decided: `accepted` by a strict majority
    /// of `memberCount` members, or not (at least half of them rejected it).
    event ProposalDecided(
        address indexed hospital,
        uint64 indexed proposalId,
        ProposalKind kind,
        bool accepted,
        uint256 memberCount
    );

    /// @notice The admin set how long a proposal stays open to votes, in seconds.
    event ProposalTtlSet(uint64 ttl);

    /// @notice An account was registered, `Active`, at `hospital`.
    event AccountRegistered(
        address indexed account,
        address indexed hospital,
        Role role,
        uint8 keyScheme,
        bytes32 encryptionKey
    );

    /// @notice `account` asked to be registered at `hospital` (self sign-up, sent from its own key).
    /// A doctor starts `Pending`; a patient is `Active` at once and an {AccountRegistered} event
    /// follows in the same transaction.
    event RegistrationRequested(
        address indexed account,
        address indexed hospital,
        Role role,
        uint8 keyScheme,
        bytes32 encryptionKey
    );

    /// @notice `by` (the admin or a staff member of `hospital`) confirmed the pending `account`.
    event AccountConfirmed(address indexed account, address indexed hospital, address by);

    /// @notice `by` rejected the pending `account`; the reason stays off chain, `reasonHash`
    /// commits to it.
    event AccountRejected(address indexed account, address indexed hospital, address by, bytes32 reasonHash);

    /// @notice The admin linked the consortium's other contracts, once: a node that knows only the
    /// registry finds them here.
    event ContractsLinked(address recordLedger, address consent);

    /// @notice The admin linked the consortium's Research contract (studies and research consent), once.
    event ResearchLinked(address research);

    /// @notice The admin linked the consortium's CareTeams contract (hospitals' care teams), once.
    event CareTeamsLinked(address careTeams);

    /// @notice `hospital`, not a member yet, applied from its own key to join the consortium; it
    /// replaces any earlier application of `hospital`.
    event MembershipApplied(address indexed hospital, uint8 keyScheme, bytes32 emergencyKey);

    /// @notice Member `hospital` published how its node is reached: its public `name` and the
    /// libp2p multiaddrs `addrs` of its node.
    event NodeInfoSet(address indexed hospital, string name, string[] addrs);

    /// @notice Staff proposed to replace the patient account `oldAccount` by `newAccount` (recovery).
    event RecoveryProposed(
        bytes32 indexed recoveryId, address indexed oldAccount, address newAccount, address by, bytes32 encryptionKey
    );

    /// @notice A second person approved the recovery: `oldAccount` is retired, `newAccount` its successor.
    /// `envelopes` is the digest of the block that re-wraps the patient's records' data keys for the new key.
    event RecoveryApproved(
        bytes32 indexed recoveryId, address indexed oldAccount, address newAccount, address by, bytes32 envelopes
    );

    /// @notice Member `hospital` replaced its emergency key (digest `emergencyKey`, same scheme):
    /// new records' shares are wrapped for the new key; the old one is retired.
    event EmergencyKeyRotated(address indexed hospital, bytes32 emergencyKey);

    /// @notice `caller` may not perform this operation.
    error RegistryUnauthorized(address caller);
    /// @notice A recovery with this id exists already.
    error RegistryRecoveryExists(bytes32 recoveryId);
    /// @notice No recovery with this id.
    error RegistryUnknownRecovery(bytes32 recoveryId);
    /// @notice The recovery was approved already.
    error RegistryRecoveryDone(bytes32 recoveryId);
    /// @notice The proposer of a recovery cannot approve it.
    error RegistrySelfApproval(address caller);
    /// @notice The account is not an active patient.
    error RegistryNotActivePatient(address account);
    /// @notice `hospital` is not a member of the consortium.
    error RegistryUnknownHospital(address hospital);
    /// @notice `account` is already registered (as an account or as a hospital).
    error RegistryAlreadyRegistered(address account);
    /// @notice `role` is not a role that can be registered.
    error RegistryInvalidRole(uint8 role);
    /// @notice A key digest is zero.
    error RegistryInvalidKey();
    /// @notice `keyScheme` is not a key-wrap scheme code (1 x25519-hpke, 2 rsa-oaep-4096).
    error RegistryInvalidKeyScheme(uint8 keyScheme);
    /// @notice An address argument is zero.
    error RegistryZeroAddress();
    /// @notice `hospital` is already a member.
    error RegistryHospitalExists(address hospital);
    /// @notice `account` is not `Pending` (it is `status`).
    error RegistryNotPending(address account, Status status);
    /// @notice A rejection needs a reason: its hash is zero.
    error RegistryEmptyReason();
    /// @notice The consortium has `memberCount` members: hospitals are admitted by a vote.
    error RegistryVoteRequired(uint256 memberCount);
    /// @notice The consortium has no member to vote: the admin adds the first hospital.
    error RegistryNoVoters();
    /// @notice A proposal about `hospital` is already open.
    error RegistryProposalOpen(address hospital);
    /// @notice No proposal about `hospital` is open.
    error RegistryNoProposal(address hospital);
    /// @notice Member `voter` has already voted on the open proposal about `hospital`.
    error RegistryAlreadyVoted(address voter, address hospital);
    /// @notice Proposal `proposalId` is older than `proposalTtl()`: it can no longer be voted on.
    error RegistryProposalExpired(uint64 proposalId);
    /// @notice A proposal lifetime must be from 1 hour to 365 days.
    error RegistryInvalidTtl(uint64 ttl);
    /// @notice The other contracts are already linked; links are set once.
    error RegistryAlreadyLinked();
    /// @notice `target` is not a contract of this registry: it has no code, or its `registry()` is
    /// another one.
    error RegistryForeignContract(address target);
    /// @notice A node name is `length` bytes long, more than the `max` allowed.
    error RegistryNameTooLong(uint256 length, uint256 max);
    /// @notice A node lists `count` addresses, more than the `max` allowed.
    error RegistryTooManyAddrs(uint256 count, uint256 max);
    /// @notice Node address number `index` is `length` bytes long, more than the `max` allowed.
    error RegistryAddrTooLong(uint256 index, uint256 length, uint256 max);

    /**
     * @notice Admits `hospital` to the consortium, while it has at most one member; after that,
     * hospitals are admitted by a vote ({proposeHospital}, {voteOnHospital}).
     * @param keyScheme key-wrap scheme of the hospital's emergency key
     * @param emergencyKey SHA-256 of the hospital's public emergency key
     *
     * Requirements:
     * - the caller has DEFAULT_ADMIN_ROLE;
     * - `hospital` is non-zero, not yet a member and not a registered account;
     * - `emergencyKey` is non-zero; `keyScheme` is 1 or 2 (else {RegistryInvalidKeyScheme});
     * - `memberCount()` is at most 1 (else {RegistryVoteRequired});
     * - no proposal about `hospital` is open.
     *
     * Emits a {HospitalAdded} event.
     */
    function addHospital(address hospital, uint8 keyScheme, bytes32 emergencyKey) external;

    /**
     * @notice Opens a vote on admitting `hospital`.
     *
     * Requirements:
     * - the caller has DEFAULT_ADMIN_ROLE or is a member hospital (its own address);
     * - the consortium has at least one member to vote;
     * - `hospital` is non-zero, not a member and not a registered account; `emergencyKey` is non-zero;
     * - `keyScheme` is 1 or 2 (else {RegistryInvalidKeyScheme});
     * - no proposal about `hospital` is open.
     *
     * Emits a {HospitalProposed} event.
     */
    function proposeHospital(address hospital, uint8 keyScheme, bytes32 emergencyKey) external;

    /**
     * @notice Opens a vote on removing member `hospital`.
     *
     * Requirements:
     * - the caller has DEFAULT_ADMIN_ROLE or is a member hospital (its own address);
     * - `hospital` is a member;
     * - no proposal about `hospital` is open.
     *
     * Emits a {HospitalProposed} event.
     */
    function proposeRemoval(address hospital) external;

    /**
     * @notice Votes on the open proposal (admission or removal) about `hospital`. The proposal is
     * accepted once `approvals * 2 > memberCount()` (a strict majority of the members at the time
     * of the vote) and rejected once `rejections * 2 >= memberCount()`; either way it closes.
     * A member may vote on its own removal.
     *
     * Requirements:
     * - the caller is a member hospital (its own address);
     * - a proposal about `hospital` is open;
     * - it has not expired (else {RegistryProposalExpired});
     * - the caller has not voted on it yet.
     *
     * Emits a {HospitalVoted} event; when the vote decides, a {ProposalDecided} event and, when
     * accepted, a {HospitalAdded} or {HospitalRemoved} event.
     */
    function voteOnHospital(address hospital, bool approve) external;

    /**
     * @notice Self sign-up: the caller registers itself at `hospital`. A `Doctor` is `Pending`
     * (it can do nothing clinical) until the admin or the hospital's staff confirm it, and so
     * does a `Researcher`; a `Patient` is `Active` at once.
     * @param encryptionKey SHA-256 of the caller's public encryption key
     *
     * Requirements:
     * - `role` is `Doctor`, `Patient` or `Researcher`;
     * - `hospital` is a member; `encryptionKey` is non-zero;
     * - `keyScheme` is 1 or 2 (else {RegistryInvalidKeyScheme});
     * - the caller is neither registered nor a hospital, nor a candidate hospital under a vote.
     *
     * Emits a {RegistrationRequested} event; for a patient, an {AccountRegistered} event too.
     */
    function requestRegistration(Role role, address hospital, uint8 keyScheme, bytes32 encryptionKey) external;

    /**
     * @notice Confirms the pending `account`: it becomes `Active`.
     *
     * Requirements:
     * - the caller has DEFAULT_ADMIN_ROLE or is an `Active` `Staff` account of `account`'s hospital;
     * - `account` is `Pending`.
     *
     * Emits an {AccountConfirmed} event.
     */
    function confirmAccount(address account) external;

    /**
     * @notice Rejects the pending `account`: it becomes `Rejected`, for good (the address can
     * not register again).
     * @param reasonHash commitment to the reason, which stays off chain
     *
     * Requirements:
     * - the caller has DEFAULT_ADMIN_ROLE or is an `Active` `Staff` account of `account`'s hospital;
     * - `account` is `Pending`;
     * - `reasonHash` is non-zero.
     *
     * Emits an {AccountRejected} event.
     */
    function rejectAccount(address account, bytes32 reasonHash) external;

    /**
     * @notice Registers `account` as an `Active` `role` of `hospital`.
     * @param encryptionKey SHA-256 of the account's public encryption key
     *
     * Requirements:
     * - `account` and `hospital` are non-zero; `role` is not `None`; `encryptionKey` is non-zero;
     * - `keyScheme` is 1 or 2 (else {RegistryInvalidKeyScheme});
     * - the caller has DEFAULT_ADMIN_ROLE; or is member `hospital` itself (its own key)
     *   registering a `Staff` account; or is an `Active` `Staff` account of `hospital` registering
     *   a `Doctor` or a `Patient`. A hospital's key registers only its staff: doctors and patients
     *   are enrolled by a person (staff), whose account the ledger names;
     * - `hospital` is a member;
     * - `account` is neither registered nor a hospital, nor a candidate hospital under a vote.
     *
     * Emits an {AccountRegistered} event.
     */
    function registerAccount(
        address account,
        Role role,
        address hospital,
        uint8 keyScheme,
        bytes32 encryptionKey
    ) external;

    /**
     * @notice Links the consortium's RecordLedger and Consent contracts, so that a node that knows
     * only the registry's address finds them ({recordLedger}, {consent}). Done once, right after
     * deployment.
     *
     * Requirements:
     * - the caller has DEFAULT_ADMIN_ROLE;
     * - the contracts are not linked yet (else {RegistryAlreadyLinked});
     * - `recordLedger` and `consent` are non-zero contracts whose `registry()` is this registry
     *   (else {RegistryForeignContract}); which is which is the admin's to get right.
     *
     * Emits a {ContractsLinked} event.
     */
    function linkContracts(address recordLedger, address consent) external;

    /**
     * @notice Links the consortium's Research contract, so that a joining node finds it ({research}).
     * Done once, right after deployment.
     *
     * Requirements:
     * - the caller has DEFAULT_ADMIN_ROLE;
     * - no Research contract is linked yet (else {RegistryAlreadyLinked});
     * - `research` is a non-zero contract whose `registry()` is this registry (else {RegistryForeignContract}).
     *
     * Emits a {ResearchLinked} event.
     */
    function linkResearch(address research) external;

    /**
     * @notice Links the consortium's CareTeams contract, so that a joining node and {IConsent}'s
     * team grants find it ({careTeams}). Done once, right after deployment.
     *
     * Requirements: as {linkResearch} (the admin; once; a contract bound to this registry).
     *
     * Emits a {CareTeamsLinked} event.
     */
    function linkCareTeams(address careTeams) external;

    /**
     * @notice A hospital applies, from its own key, to join the consortium. The application only
     * publishes the hospital's emergency key for the members to admit it with ({addHospital},
     * {proposeHospital} read it from {applicationOf}); it admits nothing by itself. A new
     * application replaces the caller's earlier one; the admission deletes it.
     * @param keyScheme key-wrap scheme of the hospital's emergency key
     * @param emergencyKey SHA-256 of the hospital's public emergency key
     *
     * Requirements:
     * - `emergencyKey` is non-zero; `keyScheme` is 1 or 2 (else {RegistryInvalidKeyScheme});
     * - the caller is not a member (else {RegistryHospitalExists}) nor a registered account (else
     *   {RegistryAlreadyRegistered});
     * - no proposal about the caller is open (else {RegistryProposalOpen}).
     *
     * Emits a {MembershipApplied} event.
     */
    function applyForMembership(uint8 keyScheme, bytes32 emergencyKey) external;

    /**
     * @notice A member hospital publishes, from its own key, how its node is reached; it replaces
     * what it published before. A removal clears it.
     * @param name the hospital's public name (an institution's name, never a person's)
     * @param addrs libp2p multiaddrs of the hospital's node
     *
     * Requirements:
     * - the caller is a member hospital (its own address);
     * - `name` is at most 100 bytes ({RegistryNameTooLong}); at most 8 `addrs`
     *   ({RegistryTooManyAddrs}), each at most 256 bytes ({RegistryAddrTooLong}).
     *
     * Emits a {NodeInfoSet} event.
     */
    function setNodeInfo(string calldata name, string[] calldata addrs) external;

    /**
     * @notice A member hospital replaces, from its own key, its emergency key (threshold
     * break-glass: once its records are moved to shares, its node retires the old key).
     *
     * Requirements:
     * - the caller is a member hospital (its own address; else {RegistryUnknownHospital});
     * - `emergencyKey` is non-zero and differs from the current one ({RegistryInvalidKey}).
     *
     * Emits an {EmergencyKeyRotated} event.
     */
    function rotateEmergencyKey(bytes32 emergencyKey) external;

    /**
     * @notice Staff of a patient's hospital, having verified the patient in person, propose to replace
     * the patient's account (whose every secret is lost) by `newAccount`, with a new encryption key.
     * Nothing changes until a second person approves ({approveRecovery}).
     * @param recoveryId chosen by the proposing node (random, never derived from personal data)
     * @param verification keyed hash of the in-person verification (never a document number)
     *
     * Requirements:
     * - the caller is an active staff member of `oldAccount`'s hospital (else {RegistryUnauthorized});
     * - `oldAccount` is an active patient (else {RegistryNotActivePatient});
     * - `newAccount` is non-zero and unregistered ({RegistryAlreadyRegistered}), the key non-zero
     *   ({RegistryInvalidKey}), the scheme 1 or 2, `verification` non-zero ({RegistryEmptyReason});
     * - `recoveryId` is unused ({RegistryRecoveryExists}).
     *
     * Emits a {RecoveryProposed} event.
     */
    function proposeRecovery(
        bytes32 recoveryId,
        address oldAccount,
        address newAccount,
        uint8 keyScheme,
        bytes32 encryptionKey,
        bytes32 verification
    ) external;

    /**
     * @notice A second person approves a proposed recovery: the old account becomes `Retired` (its key
     * can no longer act as the patient anywhere) and `newAccount` is registered as an active patient of
     * the same hospital, its successor.
     *
     * Requirements:
     * - the recovery exists ({RegistryUnknownRecovery}) and is not approved yet ({RegistryRecoveryDone});
     * - the caller is the admin or an active staff member of the patient's hospital ({RegistryUnauthorized}),
     *   and not the proposer ({RegistrySelfApproval});
     * - the old account is still an active patient ({RegistryNotActivePatient}) and `newAccount` still
     *   unregistered ({RegistryAlreadyRegistered}).
     *
     * @param envelopes digest of the IPFS block in which the approver's node re-wrapped the patient's
     * records' data keys for the new key (zero when the patient has no record)
     *
     * Emits {RecoveryApproved} and {AccountRegistered} (the new account) events.
     */
    function approveRecovery(bytes32 recoveryId, bytes32 envelopes) external;

    /// @notice The recovery `recoveryId`; all zero when there is none.
    function recoveryOf(bytes32 recoveryId) external view returns (Recovery memory);

    /// @notice The account that replaced the retired `account` by a recovery; zero when none.
    function successorOf(address account) external view returns (address);

    /// @notice The RecordLedger of this consortium; zero until {linkContracts}.
    function recordLedger() external view returns (address);

    /// @notice The Consent contract of this consortium; zero until {linkContracts}.
    function consent() external view returns (address);

    /// @notice The Research contract of this consortium; zero until {linkResearch}.
    function research() external view returns (address);

    /// @notice The CareTeams contract of this consortium; zero until {linkCareTeams}.
    function careTeams() external view returns (address);

    /// @notice The open application of `hospital`; both zero when there is none.
    function applicationOf(address hospital) external view returns (uint8 keyScheme, bytes32 emergencyKey);

    /// @notice What member `hospital` published about its node; empty when nothing (or not a member).
    function nodeInfoOf(address hospital) external view returns (string memory name, string[] memory addrs);

    /// @notice The member hospitals, in no significant order (a removal moves the last one into
    /// the freed place).
    function members() external view returns (address[] memory);

    /// @notice The account registered at `account`; all zero when there is none.
    function accountOf(address account) external view returns (Account memory);

    /// @notice Both accounts in one call (used by other contracts to save a call).
    function accountsOf(address first, address second) external view returns (Account memory, Account memory);

    /// @notice The hospital at `hospital`; all zero when it is not a member.
    function hospitalOf(address hospital) external view returns (Hospital memory);

    /// @notice SHA-256 of the public encryption key of `account`; zero when unregistered.
    function encryptionKeyOf(address account) external view returns (bytes32);

    /// @notice SHA-256 of the public emergency key of `hospital`; zero when not a member.
    function emergencyKeyOf(address hospital) external view returns (bytes32);

    /// @notice How many hospitals are members.
    function memberCount() external view returns (uint256);

    /// @notice The open proposal about `hospital`; all zero when there is none.
    function proposalOf(address hospital) external view returns (Proposal memory);

    /// @notice True when `voter` has voted on the open proposal about `hospital`.
    function hasVoted(address hospital, address voter) external view returns (bool);

    /// @notice How long a proposal stays open to votes, in seconds (7 days unless the admin set it).
    /// An expired proposal is kept by {proposalOf} until a new one about the same hospital replaces it.
    function proposalTtl() external view returns (uint64);

    /**
     * @notice Sets how long proposals stay open to votes, open ones included.
     *
     * Requirements:
     * - the caller is the admin;
     * - `ttl` is from 1 hour to 365 days (else {RegistryInvalidTtl}).
     *
     * Emits a {ProposalTtlSet} event.
     */
    function setProposalTtl(uint64 ttl) external;
}
