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
