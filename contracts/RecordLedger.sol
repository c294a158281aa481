// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRegistry} from "./IRegistry.sol";
import {IRecordLedger} from "./IRecordLedger.sol";

/**
 * @title RecordLedger
 * @notice Anchors medical records: one storage slot per record holding a commitment to who wrote
 * it, for whom, where, and its digests. Authority is `msg.sender`: only an active doctor of the
 * hospital can anchor, and only for an active patient of the same hospital.
 */
contract RecordLedger is IRecordLedger {
    /// @inheritdoc IRecordLedger
    IRegistry public immutable registry;

    mapping(bytes32 recordId => bytes32 commitment) private _commitments;

    /// @param registry_ the registry that says who is who
    constructor(IRegistry registry_) {
        registry = registry_;
    }

    /// @inheritdoc IRecordLedger
    function anchor(bytes32 recordId, address patient, address hospital, bytes32 digest, bytes32 envelopes) external {
        if (recordId == bytes32(0) || digest == bytes32(0) || envelopes == bytes32(0)) revert RecordLedgerInvalidRecord();

        (uint256 authorRole, uint256 authorStatus, address authorHospital, uint256 ownerRole, uint256 ownerStatus, address ownerHospital) =
            _accountsOf(msg.sender, patient);
        if (
            authorRole != uint256(IRegistry.Role.Doctor) || authorStatus != uint256(IRegistry.Status.Active)
                || authorHospital != hospital
        ) revert RecordLedgerUnauthorized(msg.sender);
        if (
            ownerRole != uint256(IRegistry.Role.Patient) || ownerStatus != uint256(IRegistry.Status.Active)
                || ownerHospital != hospital
        ) revert RecordLedgerUnknownPatient(patient);
        if (_commitments[recordId] != bytes32(0)) revert RecordLedgerAlreadyAnchored(recordId);

        _commitments[recordId] = _commit(patient, msg.sender, hospital, digest, envelopes);
        emit RecordAnchored(recordId, patient, msg.sender, hospital, digest, envelopes);
    }

    /// @inheritdoc IRecordLedger
    function commitmentOf(bytes32 recordId) external view returns (bytes32) {
        return _commitments[recordId];
    }

    /// @inheritdoc IRecordLedger
    function isAnchored(bytes32 recordId) external view returns (bool) {
        return _commitments[recordId] != bytes32(0);
    }

    /// @inheritdoc IRecordLedger
    function anchorCommitment(
        address patient,
        address author,
        address hospital,
        bytes32 digest,
        bytes32 envelopes
    ) external pure returns (bytes32) {
        return _commit(patient, author, hospital, digest, envelopes);
    }

    /// @inheritdoc IRecordLedger
    function checkAnchor(
        bytes32 recordId,
        address patient,
        address author,
        address hospital,
        bytes32 digest,
        bytes32 envelopes
    ) external view returns (bool) {
        bytes32 stored = _commitments[recordId];
        return stored != bytes32(0) && stored == _commit(patient, author, hospital, digest, envelopes);
    }

    /// @dev `registry.accountsOf(author, patient)`, read straight from the return data: one call to
    /// a cold contract instead of two, and none of the memory structs and range checks of ABI
    /// decoding (the registry encodes valid enums; the caller compares exact values anyway).
    /// Together with via-IR this keeps `anchor` near 58k gas, under its 60k budget.
    function _accountsOf(address author, address patient)
        private
        view
        returns (
            uint256 authorRole,
            uint256 authorStatus,
            address authorHospital,
            uint256 patientRole,
            uint256 patientStatus,
            address patientHospital
        )
    {
        bytes4 selector = IRegistry.accountsOf.selector;
        IRegistry target = registry;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 0x04), author)
            mstore(add(ptr, 0x24), patient)
            // Two Account structs: (role, status, keyScheme, hospital) twice, 8 words.
            if iszero(staticcall(gas(), target, ptr, 0x44, ptr, 0x100)) {
                returndatacopy(ptr, 0, returndatasize())
                revert(ptr, returndatasize())
            }
            if iszero(eq(returndatasize(), 0x100)) { revert(0, 0) }
            authorRole := mload(ptr)
            authorStatus := mload(add(ptr, 0x20))
            authorHospital := mload(add(ptr, 0x60))
            patientRole := mload(add(ptr, 0x80))
            patientStatus := mload(add(ptr, 0xa0))
            patientHospital := mload(add(ptr, 0xe0))
        }
    }

    function _commit(
        address patient,
        address author,
        address hospital,
        bytes32 digest,
        bytes32 envelopes
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(patient, author, hospital, digest, envelopes));
    }
}
