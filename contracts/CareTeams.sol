// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IRegistry} from "./IRegistry.sol";
import {ICareTeams} from "./ICareTeams.sol";

/**
 * @title CareTeams
 * @notice Care teams of member hospitals: members and the team key's epoch. See {ICareTeams}.
 */
contract CareTeams is ICareTeams {
    /// @inheritdoc ICareTeams
    IRegistry public immutable registry;

    mapping(bytes32 teamId => Team) private _teams;
    mapping(bytes32 teamId => mapping(address account => bool)) private _members;

    /// @param registry_ the registry that says who is who
    constructor(IRegistry registry_) {
        registry = registry_;
    }

    /// @inheritdoc ICareTeams
    function createTeam(bytes32 teamId, address hospital, bytes32 keyDigest) external {
        if (teamId == bytes32(0) || hospital == address(0) || keyDigest == bytes32(0)) revert CareTeamsZeroValue();
        if (_teams[teamId].hospital != address(0)) revert CareTeamsTeamExists(teamId);
        if (!registry.hospitalOf(hospital).member) revert CareTeamsNotMemberHospital(hospital);
        _checkManager(registry.accountOf(msg.sender), hospital);
        _teams[teamId] = Team({hospital: hospital, epoch: 1, keyDigest: keyDigest});
        emit TeamCreated(teamId, hospital, msg.sender, keyDigest);
    }

    /// @inheritdoc ICareTeams
    function addMember(bytes32 teamId, address doctor) external {
        Team storage team = _teams[teamId];
        address hospital = team.hospital;
        if (hospital == address(0)) revert CareTeamsUnknownTeam(teamId);
        // Both accounts in one call: the caller manages the hospital's teams, the doctor is one of its doctors.
        (IRegistry.Account memory a, IRegistry.Account memory d) = registry.accountsOf(msg.sender, doctor);
        _checkManager(a, hospital);
        if (d.role != IRegistry.Role.Doctor || d.status != IRegistry.Status.Active || d.hospital != hospital) {
            revert CareTeamsNotHospitalDoctor(doctor, hospital);
        }
        if (_members[teamId][doctor]) revert CareTeamsAlreadyMember(teamId, doctor);
        _members[teamId][doctor] = true;
        emit TeamMemberAdded(teamId, doctor, msg.sender, team.epoch);
    }

    /// @inheritdoc ICareTeams
    function removeMember(bytes32 teamId, address doctor, bytes32 keyDigest) external {
        Team storage team = _managedTeam(teamId);
        if (!_members[teamId][doctor]) revert CareTeamsNotMember(teamId, doctor);
        if (keyDigest == bytes32(0) || keyDigest == team.keyDigest) revert CareTeamsZeroValue();
        _members[teamId][doctor] = false;
        uint32 epoch = team.epoch + 1;
        team.epoch = epoch;
        team.keyDigest = keyDigest;
        emit TeamMemberRemoved(teamId, doctor, msg.sender, epoch, keyDigest);
    }

    /// @inheritdoc ICareTeams
    function teamOf(bytes32 teamId) external view returns (Team memory) {
        return _teams[teamId];
    }

    /// @inheritdoc ICareTeams
    function isMember(bytes32 teamId, address account) external view returns (bool) {
        return _members[teamId][account];
    }

    /// @dev Team `teamId`, once found to exist and the caller found to manage its hospital's teams.
    function _managedTeam(bytes32 teamId) private view returns (Team storage team) {
        team = _teams[teamId];
        address hospital = team.hospital;
        if (hospital == address(0)) revert CareTeamsUnknownTeam(teamId);
        _checkManager(registry.accountOf(msg.sender), hospital);
    }

    /// @dev The caller, whose account is `a`, is an active staff member of `hospital`, or the consortium admin.
    function _checkManager(IRegistry.Account memory a, address hospital) private view {
        bool staff = a.role == IRegistry.Role.Staff && a.status == IRegistry.Status.Active && a.hospital == hospital;
        if (!staff && !IAccessControl(address(registry)).hasRole(bytes32(0), msg.sender)) {
            revert CareTeamsUnauthorized(msg.sender, hospital);
        }
    }
}
