// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IRegistry} from "./IRegistry.sol";
import {IResearch} from "./IResearch.sol";

/**
 * @title Research
 * @notice Studies proposed by researchers and decided by the consortium admin, patients' research
 * consent per study, and the record of every export. Roles come from the Registry.
 */
contract Research is IResearch {
    /// @notice The Registry that says who is who.
    IRegistry public immutable registry;

    mapping(bytes32 studyId => Study) private _studies;
    mapping(bytes32 studyId => mapping(address patient => bool)) private _consents;
    mapping(address hospital => mapping(address patient => bool)) private _hospitalConsents;
    /// @dev A study a patient withdrew from while consenting to all of its hospital's studies.
    mapping(bytes32 studyId => mapping(address patient => bool)) private _optedOut;
    mapping(bytes32 studyId => uint32) public exportCount;
    mapping(bytes32 exportId => bytes32 studyId) private _exportStudies;
    mapping(bytes32 exportId => mapping(address hospital => ExportPart)) private _exportParts;

    constructor(IRegistry registry_) {
        registry = registry_;
    }

    /// @inheritdoc IResearch
    function proposeStudy(bytes32 studyId, bytes32 protocolHash) external {
        IRegistry.Account memory a = registry.accountOf(msg.sender);
        if (a.role != IRegistry.Role.Researcher || a.status != IRegistry.Status.Active) revert ResearchUnauthorized(msg.sender);
        if (studyId == bytes32(0) || protocolHash == bytes32(0)) revert ResearchZeroValue();
        if (_studies[studyId].status != StudyStatus.None) revert ResearchStudyExists(studyId);
        _studies[studyId] = Study({researcher: msg.sender, status: StudyStatus.Proposed, protocolHash: protocolHash, hospital: a.hospital});
        emit StudyProposed(studyId, msg.sender, a.hospital, protocolHash);
    }

    /// @inheritdoc IResearch
    function decideStudy(bytes32 studyId, bool approve) external {
        if (!IAccessControl(address(registry)).hasRole(bytes32(0), msg.sender)) revert ResearchUnauthorized(msg.sender);
        Study storage s = _studies[studyId];
        if (s.status == StudyStatus.None) revert ResearchUnknownStudy(studyId);
        if (s.status != StudyStatus.Proposed) revert ResearchStudyNotProposed(studyId);
        if (approve) {
            s.status = StudyStatus.Approved;
            emit StudyApproved(studyId, msg.sender);
        } else {
            s.status = StudyStatus.Rejected;
            emit StudyRejected(studyId, msg.sender);
        }
    }

    /// @inheritdoc IResearch
    function giveConsent(bytes32 studyId) external {
        IRegistry.Account memory a = registry.accountOf(msg.sender);
        if (a.role != IRegistry.Role.Patient || a.status != IRegistry.Status.Active) revert ResearchUnauthorized(msg.sender);
        _requireApproved(studyId);
        if (_consenting(studyId, msg.sender)) revert ResearchAlreadyConsented(studyId, msg.sender);
        _consents[studyId][msg.sender] = true;
        _optedOut[studyId][msg.sender] = false;
        emit ResearchConsentGiven(studyId, msg.sender);
    }

    /// @inheritdoc IResearch
    function withdrawConsent(bytes32 studyId) external {
        if (!_consenting(studyId, msg.sender)) revert ResearchNotConsented(studyId, msg.sender);
        _consents[studyId][msg.sender] = false;
        if (_hospitalConsents[_studies[studyId].hospital][msg.sender]) _optedOut[studyId][msg.sender] = true;
        emit ResearchConsentWithdrawn(studyId, msg.sender);
    }

    /// @inheritdoc IResearch
    function giveHospitalConsent(address hospital) external {
        IRegistry.Account memory a = registry.accountOf(msg.sender);
        if (a.role != IRegistry.Role.Patient || a.status != IRegistry.Status.Active) revert ResearchUnauthorized(msg.sender);
        if (!registry.hospitalOf(hospital).member) revert ResearchUnknownHospital(hospital);
        if (_hospitalConsents[hospital][msg.sender]) revert ResearchHospitalConsentExists(hospital, msg.sender);
        _hospitalConsents[hospital][msg.sender] = true;
        emit HospitalResearchConsentGiven(hospital, msg.sender);
    }

    /// @inheritdoc IResearch
    function withdrawHospitalConsent(address hospital) external {
        if (!_hospitalConsents[hospital][msg.sender]) revert ResearchNoHospitalConsent(hospital, msg.sender);
        _hospitalConsents[hospital][msg.sender] = false;
        emit HospitalResearchConsentWithdrawn(hospital, msg.sender);
    }

    /// @inheritdoc IResearch
    function recordExport(bytes32 studyId, uint32 patients, uint32 resources, bytes32 manifestHash) external {
        Study storage s = _studies[studyId];
        IRegistry.Account memory a = registry.accountOf(msg.sender);
        if (s.researcher != msg.sender || a.status != IRegistry.Status.Active) revert ResearchUnauthorized(msg.sender);
        _requireApproved(studyId);
        if (manifestHash == bytes32(0)) revert ResearchZeroValue();
        uint32 number = exportCount[studyId] + 1;
        exportCount[studyId] = number;
        emit StudyExported(studyId, number, patients, resources, manifestHash);
    }

    /// @inheritdoc IResearch
    function requestExport(bytes32 studyId, bytes32 exportId) external {
        IRegistry.Account memory a = registry.accountOf(msg.sender);
        if (_studies[studyId].researcher != msg.sender || a.status != IRegistry.Status.Active) revert ResearchUnauthorized(msg.sender);
        _requireApproved(studyId);
        if (exportId == bytes32(0)) revert ResearchZeroValue();
        if (_exportStudies[exportId] != bytes32(0)) revert ResearchExportExists(exportId);
        _exportStudies[exportId] = studyId;
        emit ExportRequested(exportId, studyId, msg.sender);
    }

    /// @inheritdoc IResearch
    function submitExportPart(bytes32 exportId, bytes32 digest, uint32 patients, uint32 resources) external {
        if (!registry.hospitalOf(msg.sender).member) revert ResearchUnauthorized(msg.sender);
        bytes32 studyId = _exportStudies[exportId];
        if (studyId == bytes32(0)) revert ResearchUnknownExport(exportId);
        _requireApproved(studyId);
        if (digest == bytes32(0)) revert ResearchZeroValue();
        if (_exportParts[exportId][msg.sender].digest != bytes32(0)) revert ResearchPartExists(exportId, msg.sender);
        _exportParts[exportId][msg.sender] = ExportPart({digest: digest, patients: patients, resources: resources});
        emit ExportPartSubmitted(exportId, studyId, msg.sender, digest, patients, resources);
    }

    /// @inheritdoc IResearch
    function exportStudyOf(bytes32 exportId) external view returns (bytes32) {
        return _exportStudies[exportId];
    }

    /// @inheritdoc IResearch
    function exportPartOf(bytes32 exportId, address hospital) external view returns (ExportPart memory) {
        return _exportParts[exportId][hospital];
    }

    /// @inheritdoc IResearch
    function studyOf(bytes32 studyId) external view returns (Study memory) {
        return _studies[studyId];
    }

    /// @inheritdoc IResearch
    function hasConsent(bytes32 studyId, address patient) external view returns (bool) {
        return _consenting(studyId, patient) && _studies[studyId].status == StudyStatus.Approved;
    }

    /// @dev A consent to the study itself, or to all of its hospital's studies and not withdrawn for it.
    function _consenting(bytes32 studyId, address patient) private view returns (bool) {
        if (_consents[studyId][patient]) return true;
        address hospital = _studies[studyId].hospital;
        return hospital != address(0) && _hospitalConsents[hospital][patient] && !_optedOut[studyId][patient];
    }

    function _requireApproved(bytes32 studyId) private view {
        StudyStatus status = _studies[studyId].status;
        if (status == StudyStatus.None) revert ResearchUnknownStudy(studyId);
        if (status != StudyStatus.Approved) revert ResearchStudyNotApproved(studyId);
    }
}
