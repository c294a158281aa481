// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRegistry} from "./IRegistry.sol";

/**
 * @title ICareTeams
 * @notice A hospital's care teams: which of its doctors belong to which team, and the team key's
 * epoch. A patient grants a team in {IConsent} (`grantTeam`), and every member reads while they
 * are a member and the grant lives; {IConsent} asks {isMember} on each logged read.
 *
 * Nothing here identifies a person: a team is a random id, its hospital and members are
 * addresses, its key is a SHA-256 digest; the team's name stays on its hospital's node.
 * The team key (an X25519 key pair) is wrapped per member off chain; removing a member moves the
 * team to a new epoch with a new key, so records added after the removal are wrapped for a key the
 * removed member never held.
 */
interface ICareTeams {
    /// @notice One team. `epoch` counts the team's keys from 1; `keyDigest` is the SHA-256 of the
    /// current epoch's public key. The hospital and epoch share one storage slot; members are not
    /// counted (a count would cost every addition and removal a write).
    struct Team {
        address hospital;
        uint32 epoch;
        bytes32 keyDigest;
    }

    /// @notice `by` (the hospital's staff or the consortium admin) created team `teamId` of
    /// `hospital`, its first key's digest `keyDigest` (epoch 1).
    event TeamCreated(bytes32 indexed teamId, address indexed hospital, address by, bytes32 keyDigest);

    /// @notice `by` added `doctor` to team `teamId`, whose key is at `epoch`.
    event TeamMemberAdded(bytes32 indexed teamId, address indexed doctor, address by, uint32 epoch);

    /// @notice `by` removed `doctor` from team `teamId`; the team key moved to `epoch`, whose
    /// public key hashes to `keyDigest`.
    event TeamMemberRemoved(bytes32 indexed teamId, address indexed doctor, address by, uint32 epoch, bytes32 keyDigest);

    /// @notice An id, address or digest is zero.
    error CareTeamsZeroValue();
    /// @notice `caller` is neither an active staff member of `hospital` nor the consortium admin.
    error CareTeamsUnauthorized(address caller, address hospital);
    /// @notice `hospital` is not a member hospital.
    error CareTeamsNotMemberHospital(address hospital);
    /// @notice `teamId` is already used.
    error CareTeamsTeamExists(bytes32 teamId);
    /// @notice No team `teamId`.
    error CareTeamsUnknownTeam(bytes32 teamId);
    /// @notice `doctor` is not an active doctor of `hospital`.
    error CareTeamsNotHospitalDoctor(address doctor, address hospital);
    /// @notice `doctor` is already a member of `teamId`.
    error CareTeamsAlreadyMember(bytes32 teamId, address doctor);
    /// @notice `doctor` is not a member of `teamId`.
    error CareTeamsNotMember(bytes32 teamId, address doctor);

    /**
     * @notice Creates team `teamId` of `hospital`, with no members, its key at epoch 1.
     *
     * Requirements:
     * - `teamId`, `hospital` and `keyDigest` are non-zero ({CareTeamsZeroValue}); `teamId` is new
     *   ({CareTeamsTeamExists});
     * - `hospital` is a member ({CareTeamsNotMemberHospital});
     * - the caller is an active staff member of `hospital` or the consortium admin ({CareTeamsUnauthorized}).
     *
     * Emits a {TeamCreated} event.
     */
    function createTeam(bytes32 teamId, address hospital, bytes32 keyDigest) external;

    /**
     * @notice Adds `doctor` to team `teamId`. The team key is not changed: its hospital's node wraps
     * it for the new member.
     *
     * Requirements:
     * - the team exists ({CareTeamsUnknownTeam}); the caller is an active staff member of its
     *   hospital or the consortium admin ({CareTeamsUnauthorized});
     * - `doctor` is an active doctor of the team's hospital ({CareTeamsNotHospitalDoctor}), not a
     *   member yet ({CareTeamsAlreadyMember}).
     *
     * Emits a {TeamMemberAdded} event.
     */
    function addMember(bytes32 teamId, address doctor) external;

    /**
     * @notice Removes `doctor` from team `teamId` and moves the team key to the next epoch, whose
     * public key hashes to `keyDigest`.
     *
     * Requirements:
     * - the team exists; the caller is as for {addMember};
     * - `doctor` is a member ({CareTeamsNotMember}); `keyDigest` is non-zero and not the current one
     *   ({CareTeamsZeroValue}).
     *
     * Emits a {TeamMemberRemoved} event.
     */
    function removeMember(bytes32 teamId, address doctor, bytes32 keyDigest) external;

    /// @notice Team `teamId`; all zero when there is none.
    function teamOf(bytes32 teamId) external view returns (Team memory);

    /// @notice Whether `account` is a member of team `teamId` now.
    function isMember(bytes32 teamId, address account) external view returns (bool);

    /// @notice The Registry that says who is who.
    function registry() external view returns (IRegistry);
}
