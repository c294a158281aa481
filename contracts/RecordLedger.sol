// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IRegistry} from "./IRegistry.sol";
import {IRecordLedger} from "./IRecordLedger.sol";

/**
 * @title RecordLedger
 * @notice Anchors medical records: one storage slot per record holding a commitment to who wrote
 * it, for whom, where, and its digests. Authority is `msg.sender`: only an active doctor of the
 * hospital can anchor, and only for an active patient of the same hospital. A member hospital's
 * account may anchor a batch instead: one slot per Merkle root, the leaves (signed by their
 * authors, EIP-712) listed off chain and checked by {checkLeaf}.
 */
contract RecordLedger is IRecordLedger, EIP712 {
    bytes32 private constant RECORD_TYPEHASH =
        keccak256("Record(bytes32 recordId,address patient,address hospital,bytes32 digest,bytes32 envelopes)");

    /// @inheritdoc IRecordLedger
    IRegistry public immutable registry;

    mapping(bytes32 recordId => bytes32 commitment) private _commitments;
    mapping(bytes32 root => RootInfo info) private _roots;
    mapping(bytes32 recordId => bytes32 newId) private _supersededBy;
    mapping(bytes32 recordId => mapping(address patient => bool)) private _rekeyAllowed;
    mapping(bytes32 erasureId => Erasure erasure) private _erasures;
    mapping(bytes32 recordId => bytes32 erasureId) private _pendingErasure;
    mapping(bytes32 recordId => bool erased) private _erased;

    /// @param registry_ the registry that says who is who
    constructor(IRegistry registry_) EIP712("RecordLedger", "1") {
        registry = registry_;
    }

    /// @inheritdoc IRecordLedger
    function anchor(bytes32 recordId, address patient, address hospital, bytes32 digest, bytes32 envelopes) external {
        if (recordId == bytes32(0) || digest == bytes32(0) || envelopes == bytes32(0)) revert RecordLedgerInvalidRecord();

        _checkParties(msg.sender, patient, hospital);
        if (_commitments[recordId] != bytes32(0)) revert RecordLedgerAlreadyAnchored(recordId);

        _commitments[recordId] = _commit(patient, msg.sender, hospital, digest, envelopes);
        emit RecordAnchored(recordId, patient, msg.sender, hospital, digest, envelopes);
    }

    /// @inheritdoc IRecordLedger
    function anchorBatch(bytes32 root, bytes32 manifest, uint256 count) external {
        if (root == bytes32(0) || manifest == bytes32(0) || count == 0) revert RecordLedgerInvalidBatch();
        if (!registry.hospitalOf(msg.sender).member) revert RecordLedgerNotMember(msg.sender);
        if (_roots[root].hospital != address(0)) revert RecordLedgerRootExists(root);
        _roots[root] = RootInfo(msg.sender, uint64(block.number), uint32(block.timestamp));
        emit BatchAnchored(root, msg.sender, manifest, count);
    }

    /// @inheritdoc IRecordLedger
    function requestErasure(
        bytes32 erasureId,
        Leaf calldata leaf,
        bytes32 root,
        bytes32[] calldata proof,
        bytes calldata signature,
        bytes32 reasonHash
    ) external {
        if (erasureId == bytes32(0) || reasonHash == bytes32(0)) revert RecordLedgerInvalidErasure();
        if (_erasures[erasureId].status != ErasureStatus.None) revert RecordLedgerErasureExists(erasureId);
        IRegistry.Account memory caller = registry.accountOf(msg.sender);
        if (
            leaf.patient != msg.sender || caller.role != IRegistry.Role.Patient || caller.status != IRegistry.Status.Active
        ) revert RecordLedgerNotPatient(msg.sender);
        bool anchored = root == bytes32(0)
            ? _commitments[leaf.recordId] != bytes32(0)
                && _commitments[leaf.recordId] == _commit(leaf.patient, leaf.author, leaf.hospital, leaf.digest, leaf.envelopes)
            : _roots[root].hospital == leaf.hospital && leaf.hospital != address(0)
                && MerkleProof.verifyCalldata(proof, root, leafHash(leaf, signature));
        if (!anchored) revert RecordLedgerUnknownRecord(leaf.recordId);
        if (_erased[leaf.recordId]) revert RecordLedgerRecordErased(leaf.recordId);
        if (_pendingErasure[leaf.recordId] != bytes32(0)) revert RecordLedgerErasurePending(leaf.recordId);
        _erasures[erasureId] = Erasure(leaf.recordId, msg.sender, leaf.hospital, ErasureStatus.Pending);
        _pendingErasure[leaf.recordId] = erasureId;
        emit ErasureRequested(erasureId, leaf.recordId, msg.sender, leaf.hospital, reasonHash);
    }

    /// @inheritdoc IRecordLedger
    function confirmErasure(bytes32 erasureId) external {
        Erasure storage e = _decidable(erasureId);
        e.status = ErasureStatus.Confirmed;
        delete _pendingErasure[e.recordId];
        _erased[e.recordId] = true;
        emit ErasureConfirmed(erasureId, e.recordId, msg.sender);
        emit RecordErased(e.recordId);
    }

    /// @inheritdoc IRecordLedger
    function rejectErasure(bytes32 erasureId, bytes32 reasonHash) external {
        if (reasonHash == bytes32(0)) revert RecordLedgerInvalidErasure();
        Erasure storage e = _decidable(erasureId);
        e.status = ErasureStatus.Rejected;
        delete _pendingErasure[e.recordId];
        emit ErasureRejected(erasureId, e.recordId, msg.sender, reasonHash);
    }

    /// @inheritdoc IRecordLedger
    function erasureOf(bytes32 erasureId) external view returns (Erasure memory) {
        return _erasures[erasureId];
    }

    /// @inheritdoc IRecordLedger
    function isErased(bytes32 recordId) external view returns (bool) {
        return _erased[recordId];
    }

    /// @dev The pending erasure `erasureId`, once the caller is the admin or active staff of its hospital.
    function _decidable(bytes32 erasureId) private view returns (Erasure storage e) {
        e = _erasures[erasureId];
        if (e.status == ErasureStatus.None) revert RecordLedgerUnknownErasure(erasureId);
        if (e.status != ErasureStatus.Pending) revert RecordLedgerErasureDecided(erasureId);
        if (!IAccessControl(address(registry)).hasRole(bytes32(0), msg.sender)) {
            IRegistry.Account memory caller = registry.accountOf(msg.sender);
            if (
                caller.role != IRegistry.Role.Staff || caller.status != IRegistry.Status.Active
                    || caller.hospital != e.hospital
            ) revert RecordLedgerNotStaff(msg.sender);
        }
    }

    /// @inheritdoc IRecordLedger
    function rootOf(bytes32 root) external view returns (RootInfo memory) {
        return _roots[root];
    }

    /// @inheritdoc IRecordLedger
    function recordTypedDataHash(bytes32 recordId, address patient, address hospital, bytes32 digest, bytes32 envelopes)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(RECORD_TYPEHASH, recordId, patient, hospital, digest, envelopes)));
    }

    /// @inheritdoc IRecordLedger
    function leafHash(Leaf calldata leaf, bytes calldata signature) public pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(
                    abi.encode(
                        leaf.recordId, leaf.patient, leaf.author, leaf.hospital, leaf.digest, leaf.envelopes, keccak256(signature)
                    )
                )
            )
        );
    }

    /// @inheritdoc IRecordLedger
    function checkLeaf(bytes32 root, bytes32[] calldata proof, Leaf calldata leaf, bytes calldata signature)
        external
        view
        returns (bool)
    {
        if (leaf.recordId == bytes32(0) || leaf.digest == bytes32(0) || leaf.envelopes == bytes32(0)) {
            revert RecordLedgerInvalidRecord();
        }
        _checkBatched(root, proof, leaf, signature);
        _checkParties(leaf.author, leaf.patient, leaf.hospital);
        return true;
    }

    /// @dev Reverts unless `leaf` is in batch `root` by `proof`, the root was anchored by the leaf's
    /// hospital and `signature` is the leaf's author's over its fields.
    function _checkBatched(bytes32 root, bytes32[] calldata proof, Leaf calldata leaf, bytes calldata signature) private view {
        address anchoredBy = _roots[root].hospital;
        if (anchoredBy == address(0)) revert RecordLedgerUnknownRoot(root);
        if (anchoredBy != leaf.hospital) revert RecordLedgerWrongHospital(leaf.hospital);
        bytes32 hashed = leafHash(leaf, signature);
        if (!MerkleProof.verifyCalldata(proof, root, hashed)) revert RecordLedgerInvalidProof(hashed);
        (address signer, ECDSA.RecoverError failure,) = ECDSA.tryRecover(
            recordTypedDataHash(leaf.recordId, leaf.patient, leaf.hospital, leaf.digest, leaf.envelopes), signature
        );
        if (failure != ECDSA.RecoverError.NoError || signer != leaf.author) revert RecordLedgerInvalidSignature(leaf.recordId);
    }

    /// @inheritdoc IRecordLedger
    function supersede(
        Leaf calldata old,
        bytes32 root,
        bytes32[] calldata proof,
        bytes calldata signature,
        bytes32 newId,
        bytes32 digest,
        bytes32 envelopes
    ) external {
        if (old.recordId == bytes32(0) || newId == bytes32(0) || digest == bytes32(0) || envelopes == bytes32(0)) {
            revert RecordLedgerInvalidRecord();
        }
        if (root == bytes32(0)) {
            if (_commitments[old.recordId] != _commit(old.patient, old.author, old.hospital, old.digest, old.envelopes)) {
                revert RecordLedgerNotAnchored(old.recordId);
            }
        } else {
            _checkBatched(root, proof, old, signature);
        }
        if (_erased[old.recordId]) revert RecordLedgerRecordErased(old.recordId);
        bytes32 by = _supersededBy[old.recordId];
        if (by != bytes32(0)) revert RecordLedgerAlreadySuperseded(old.recordId, by);
        if (msg.sender == old.patient) {
            _checkNotRetired(msg.sender);
        } else {
            if (msg.sender != old.author || !_rekeyAllowed[old.recordId][old.patient]) revert RecordLedgerNotRekeyer(msg.sender);
            (uint256 role, uint256 status, address hospital,,,) = _accountsOf(old.author, old.patient);
            if (role != uint256(IRegistry.Role.Doctor) || status != uint256(IRegistry.Status.Active) || hospital != old.hospital) {
                revert RecordLedgerNotRekeyer(msg.sender);
            }
            delete _rekeyAllowed[old.recordId][old.patient];
        }
        if (_commitments[newId] != bytes32(0)) revert RecordLedgerAlreadyAnchored(newId);

        _commitments[newId] = _commit(old.patient, old.author, old.hospital, digest, envelopes);
        _supersededBy[old.recordId] = newId;
        emit RecordAnchored(newId, old.patient, old.author, old.hospital, digest, envelopes);
        emit RecordSuperseded(old.recordId, newId);
    }

    /// @inheritdoc IRecordLedger
    function allowRekey(bytes32 recordId) external {
        if (recordId == bytes32(0)) revert RecordLedgerInvalidRecord();
        _checkNotRetired(msg.sender);
        _rekeyAllowed[recordId][msg.sender] = true;
        emit RekeyAllowed(recordId, msg.sender);
    }

    /// @inheritdoc IRecordLedger
    function rekeyAllowed(bytes32 recordId, address patient) external view returns (bool) {
        return _rekeyAllowed[recordId][patient];
    }

    /// @inheritdoc IRecordLedger
    function supersededBy(bytes32 recordId) external view returns (bytes32) {
        return _supersededBy[recordId];
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

    /// @dev Reverts unless `author` is an active doctor and `patient` an active patient of `hospital`.
    function _checkParties(address author, address patient, address hospital) private view {
        (uint256 authorRole, uint256 authorStatus, address authorHospital, uint256 ownerRole, uint256 ownerStatus, address ownerHospital) =
            _accountsOf(author, patient);
        if (
            authorRole != uint256(IRegistry.Role.Doctor) || authorStatus != uint256(IRegistry.Status.Active)
                || authorHospital != hospital
        ) revert RecordLedgerUnauthorized(author);
        if (
            ownerRole != uint256(IRegistry.Role.Patient) || ownerStatus != uint256(IRegistry.Status.Active)
                || ownerHospital != hospital
        ) revert RecordLedgerUnknownPatient(patient);
    }

    /// @dev A patient's key retired by a recovery (IRegistry.approveRecovery) signs nothing more.
    function _checkNotRetired(address patient) private view {
        if (registry.accountOf(patient).status == IRegistry.Status.Retired) revert RecordLedgerNotPatient(patient);
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
