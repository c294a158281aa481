// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRegistry} from "./IRegistry.sol";

/**
 * @title IRecordLedger
 * @notice One anchor per medical record: a commitment to (patient, author, hospital, digest,
 * envelopes) under a random record id. The record itself, its metadata and its keys stay off
 * chain (encrypted, in IPFS); the anchor lets anyone check that what they fetched is what was
 * anchored, by whom, for whom and when (the block of the {RecordAnchored} event).
 */
interface IRecordLedger {
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

    /// @notice `author` is not an active doctor of the hospital.
    error RecordLedgerUnauthorized(address author);
    /// @notice `patient` is not an active patient of the hospital.
    error RecordLedgerUnknownPatient(address patient);
    /// @notice `recordId` is already anchored.
    error RecordLedgerAlreadyAnchored(bytes32 recordId);
    /// @notice The record id, the digest or the envelopes digest is zero.
    error RecordLedgerInvalidRecord();

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
