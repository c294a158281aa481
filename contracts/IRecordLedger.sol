// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRegistry} from "./IRegistry.sol";

/**
 * @title IRecordLedger
 * @notice One anchor per medical record: a commitment to (patient, author, hospital, digest,
 * envelopes) under a random record id. The record itself, its metadata and its keys stay off
 * chain (encrypted, in IPFS); the anchor lets anyone check that what they fetched is what was
 * anchored, by whom, for whom and when (the block of the {RecordAnchored} event).
 *
 * Records may also be anchored together (group commit): a hospital's node account anchors the
 * Merkle root of a batch (sorted-pair Keccak tree, OpenZeppelin `MerkleProof` compatible) and
 * names the batch manifest in IPFS listing every leaf. A leaf commits to a record's fields and to
 * its author's EIP-712 signature over them, so a node account can only anchor records that real
 * doctors of its own hospital signed; {checkLeaf} checks a leaf, its proof, its root and its
 * signature on chain.
 */
interface IRecordLedger {
    /// @notice A record as a batch leaf names it; `author` is whose EIP-712 signature the leaf carries.
    struct Leaf {
        bytes32 recordId;
        address patient;
        address author;
        address hospital;
        bytes32 digest;
        bytes32 envelopes;
    }

    /// @notice Where and when a batch root was anchored; fits in one storage slot.
    struct RootInfo {
        address hospital;
        uint64 blockNumber;
        uint32 time;
    }

    /// @notice Where an erasure request stands.
    enum ErasureStatus {
        None,
        Pending,
        Confirmed,
        Rejected
    }

    /// @notice A patient's request to erase one record (crypto-shredding), decided by staff of its hospital.
    struct Erasure {
        bytes32 recordId;
        address patient;
        address hospital;
        ErasureStatus status;
    }

    /// @notice `author` anchored record `recordId` of `patient` at `hospital`.
    /// @param digest digest of the stored (encrypted) record, as named by its CID
    /// @param envelopes digest of the record's key envelopes block
    event RecordAnchored(
        bytes32 indexed recordId,
        address indexed patient,
        address indexed author,
        address hospital,
        bytes32 digest,
        bytes32 envelopes
    );

    /// @notice Hospital `hospital` anchored batch `root` of `count` records, listed by the IPFS raw
    /// block whose SHA-256 digest is `manifest`.
    event BatchAnchored(bytes32 indexed root, address indexed hospital, bytes32 manifest, uint256 count);

    /// @notice `patient` asked to erase record `recordId` of `hospital`; the reason stays off
    /// chain, `reasonHash` is its keyed hash.
    event ErasureRequested(
        bytes32 indexed erasureId, bytes32 indexed recordId, address indexed patient, address hospital, bytes32 reasonHash
    );

    /// @notice `by` (staff of the record's hospital, or the admin) refused erasure `erasureId`;
    /// `reasonHash` is the keyed hash of the reason kept off chain.
    event ErasureRejected(bytes32 indexed erasureId, bytes32 indexed recordId, address by, bytes32 reasonHash);

    /// @notice `by` (staff of the record's hospital, or the admin) confirmed erasure `erasureId`.
    event ErasureConfirmed(bytes32 indexed erasureId, bytes32 indexed recordId, address by);

    /// @notice The tombstone: record `recordId` is erased; every node destroys its keys and blocks.
    event RecordErased(bytes32 indexed recordId);

    /// @notice Record `oldId` was re-keyed: `newId` (anchored in the same transaction) is its new
    /// version, under a new data key. Only the two ids: nothing about the record or its parties.
    event RecordSuperseded(bytes32 indexed oldId, bytes32 indexed newId);

    /// @notice `patient` lets the author of record `recordId` re-key it once ({supersede}).
    event RekeyAllowed(bytes32 indexed recordId, address indexed patient);

    /// @notice `author` is not an active doctor of the hospital.
    error RecordLedgerUnauthorized(address author);
    /// @notice `patient` is not an active patient of the hospital.
    error RecordLedgerUnknownPatient(address patient);
    /// @notice `recordId` is already anchored.
    error RecordLedgerAlreadyAnchored(bytes32 recordId);
    /// @notice The record id, the digest or the envelopes digest is zero.
    error RecordLedgerInvalidRecord();
    /// @notice The root or the manifest digest is zero, or the count is zero.
    error RecordLedgerInvalidBatch();
    /// @notice `caller` is not the account of a member hospital.
    error RecordLedgerNotMember(address caller);
    /// @notice `root` is already anchored.
    error RecordLedgerRootExists(bytes32 root);
    /// @notice `root` was never anchored.
    error RecordLedgerUnknownRoot(bytes32 root);
    /// @notice The leaf names `hospital`, not the hospital that anchored its root.
    error RecordLedgerWrongHospital(address hospital);
    /// @notice The proof does not lead from the leaf to the root.
    error RecordLedgerInvalidProof(bytes32 leaf);
    /// @notice The signature over record `recordId` is not its author's.
    error RecordLedgerInvalidSignature(bytes32 recordId);
    /// @notice The fields given for `recordId` are not what was anchored alone under it.
    error RecordLedgerNotAnchored(bytes32 recordId);
    /// @notice `recordId` was already superseded by `newId`.
    error RecordLedgerAlreadySuperseded(bytes32 recordId, bytes32 newId);
    /// @notice `caller` is neither the record's patient nor its author with the patient's leave.
    error RecordLedgerNotRekeyer(address caller);
    /// @notice The erasure id or the reason hash is zero.
    error RecordLedgerInvalidErasure();
    /// @notice `caller` is not the active patient the record belongs to.
    error RecordLedgerNotPatient(address caller);
    /// @notice The fields given for `recordId` are not what was anchored (or its proof does not hold).
    error RecordLedgerUnknownRecord(bytes32 recordId);
    /// @notice `recordId` is already erased.
    error RecordLedgerRecordErased(bytes32 recordId);
    /// @notice `erasureId` is already taken.
    error RecordLedgerErasureExists(bytes32 erasureId);
    /// @notice An erasure of `recordId` is already waiting for a decision.
    error RecordLedgerErasurePending(bytes32 recordId);
    /// @notice `erasureId` was never requested.
    error RecordLedgerUnknownErasure(bytes32 erasureId);
    /// @notice `erasureId` was already confirmed or rejected.
    error RecordLedgerErasureDecided(bytes32 erasureId);
    /// @notice `caller` is neither the admin nor an active staff account of the record's hospital.
    error RecordLedgerNotStaff(address caller);

    /**
     * @notice Anchors record `recordId`; the caller is its author.
     *
     * Requirements:
     * - `recordId`, `digest` and `envelopes` are non-zero (else {RecordLedgerInvalidRecord});
     * - the caller is an `Active` `Doctor` of `hospital`;
     * - `patient` is an `Active` `Patient` of `hospital`;
     * - `recordId` has never been anchored.
     *
     * Emits a {RecordAnchored} event.
     */
    function anchor(bytes32 recordId, address patient, address hospital, bytes32 digest, bytes32 envelopes) external;

    /**
     * @notice Anchors the Merkle root of a batch of `count` records; the caller is a member
     * hospital's account. Stores the root with the hospital, block number and time.
     *
     * Requirements:
     * - `root` and `manifest` are non-zero and `count` is at least 1 (else {RecordLedgerInvalidBatch});
     * - the caller is a member hospital (else {RecordLedgerNotMember});
     * - `root` has never been anchored (else {RecordLedgerRootExists}).
     *
     * Emits a {BatchAnchored} event.
     */
    function anchorBatch(bytes32 root, bytes32 manifest, uint256 count) external;

    /**
     * @notice The patient asks to erase one of their records; staff of its hospital decide.
     * `leaf` names the record as anchored: for a record anchored alone `root` is zero and the
     * fields must match its commitment; for a batched one `proof` leads from the leaf (with its
     * author's `signature`) to `root`, anchored by the leaf's hospital.
     *
     * Requirements:
     * - `erasureId` and `reasonHash` are non-zero (else {RecordLedgerInvalidErasure}), `erasureId` new
     *   (else {RecordLedgerErasureExists});
     * - the caller is `leaf.patient` and an `Active` `Patient` (else {RecordLedgerNotPatient});
     * - the leaf is anchored (else {RecordLedgerUnknownRecord}), not erased (else
     *   {RecordLedgerRecordErased}) and has no erasure pending (else {RecordLedgerErasurePending}).
     *
     * Emits an {ErasureRequested} event.
     */
    function requestErasure(
        bytes32 erasureId,
        Leaf calldata leaf,
        bytes32 root,
        bytes32[] calldata proof,
        bytes calldata signature,
        bytes32 reasonHash
    ) external;

    /**
     * @notice Staff of the record's hospital (or the admin) confirm an erasure: the record is
     * tombstoned and every node destroys its keys and blocks.
     *
     * Requirements:
     * - `erasureId` was requested (else {RecordLedgerUnknownErasure}) and is pending (else {RecordLedgerErasureDecided});
     * - the caller has DEFAULT_ADMIN_ROLE in the registry or is an `Active` `Staff` account of
     *   the record's hospital (else {RecordLedgerNotStaff}).
     *
     * Emits {ErasureConfirmed} and {RecordErased}.
     */
    function confirmErasure(bytes32 erasureId) external;

    /**
     * @notice Staff of the record's hospital (or the admin) refuse an erasure; the record stays.
     *
     * Requirements: as {confirmErasure}, and `reasonHash` is non-zero (else {RecordLedgerInvalidErasure}).
     *
     * Emits an {ErasureRejected} event.
     */
    function rejectErasure(bytes32 erasureId, bytes32 reasonHash) external;

    /// @notice Erasure `erasureId`; all zero when it was never requested.
    function erasureOf(bytes32 erasureId) external view returns (Erasure memory);

    /// @notice True when `recordId` carries a tombstone.
    function isErased(bytes32 recordId) external view returns (bool);

    /// @notice Where and when `root` was anchored; all zero when it was not.
    function rootOf(bytes32 root) external view returns (RootInfo memory);

    /// @notice The EIP-712 digest an author signs for a record (domain RecordLedger, version 1,
    /// this chain, this contract; type `Record(bytes32 recordId,address patient,address hospital,bytes32 digest,bytes32 envelopes)`).
    function recordTypedDataHash(bytes32 recordId, address patient, address hospital, bytes32 digest, bytes32 envelopes)
        external
        view
        returns (bytes32);

    /// @notice The Merkle leaf of a record and its author's signature:
    /// keccak256(bytes.concat(keccak256(abi.encode(leaf fields..., keccak256(signature))))).
    function leafHash(Leaf calldata leaf, bytes calldata signature) external pure returns (bytes32);

    /**
     * @notice Checks that `leaf` with `signature` is in the batch `root` by `proof`, that the root
     * was anchored by the leaf's hospital, that the signature is the author's over the record's
     * fields, that the author is an active doctor and the patient an active patient of that
     * hospital. Returns true, or reverts with the reason: {RecordLedgerInvalidRecord},
     * {RecordLedgerUnknownRoot}, {RecordLedgerWrongHospital}, {RecordLedgerInvalidProof},
     * {RecordLedgerInvalidSignature}, {RecordLedgerUnauthorized}, {RecordLedgerUnknownPatient}.
     */
    function checkLeaf(bytes32 root, bytes32[] calldata proof, Leaf calldata leaf, bytes calldata signature)
        external
        view
        returns (bool);

    /**
     * @notice Anchors record `newId` as the new version of record `old.recordId` (re-keyed: same
     * patient, author and hospital, new digest and envelopes) and marks the old one superseded.
     * The old record is named by its fields: anchored alone when `root` is zero (its commitment),
     * else in batch `root` by `proof` with its author's `signature` (as in {checkLeaf}).
     *
     * Requirements:
     * - `old.recordId`, `newId`, `digest` and `envelopes` are non-zero (else {RecordLedgerInvalidRecord});
     * - the old record is anchored with exactly `old` (else {RecordLedgerNotAnchored}, or for a
     *   batched one {RecordLedgerUnknownRoot}, {RecordLedgerWrongHospital}, {RecordLedgerInvalidProof},
     *   {RecordLedgerInvalidSignature});
     * - it was not erased (else {RecordLedgerRecordErased}) nor superseded yet (else {RecordLedgerAlreadySuperseded});
     * - the caller is `old.patient` (not retired by a recovery, else {RecordLedgerNotPatient}), or `old.author` still an active doctor of `old.hospital` whose
     *   re-key the patient allowed with {allowRekey} (else {RecordLedgerNotRekeyer}; the leave is used up);
     * - `newId` has never been anchored (else {RecordLedgerAlreadyAnchored}).
     *
     * Emits {RecordAnchored} for `newId` (author `old.author`) and {RecordSuperseded}.
     */
    function supersede(
        Leaf calldata old,
        bytes32 root,
        bytes32[] calldata proof,
        bytes calldata signature,
        bytes32 newId,
        bytes32 digest,
        bytes32 envelopes
    ) external;

    /// @notice The caller, as a patient, lets the author of `recordId` re-key it once. A key retired by
    /// a recovery is refused ({RecordLedgerNotPatient}). Emits {RekeyAllowed}.
    function allowRekey(bytes32 recordId) external;

    /// @notice Whether `patient` let the author of `recordId` re-key it (and that was not used yet).
    function rekeyAllowed(bytes32 recordId, address patient) external view returns (bool);

    /// @notice The record that superseded `recordId`; zero when it was not superseded.
    function supersededBy(bytes32 recordId) external view returns (bytes32);

    /// @notice The registry that says who is who.
    function registry() external view returns (IRegistry);

    /// @notice The stored commitment of `recordId`; zero when it is not anchored.
    function commitmentOf(bytes32 recordId) external view returns (bytes32);

    /// @notice True when `recordId` is anchored.
    function isAnchored(bytes32 recordId) external view returns (bool);

    /// @notice The commitment `anchor` stores: keccak256(abi.encode(patient, author, hospital, digest, envelopes)).
    function anchorCommitment(
        address patient,
        address author,
        address hospital,
        bytes32 digest,
        bytes32 envelopes
    ) external pure returns (bytes32);

    /// @notice True when `recordId` is anchored with exactly these values.
    function checkAnchor(
        bytes32 recordId,
        address patient,
        address author,
        address hospital,
        bytes32 digest,
        bytes32 envelopes
    ) external view returns (bool);
}
