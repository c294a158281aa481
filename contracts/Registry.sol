// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IRegistry} from "./IRegistry.sol";

/**
 * @title Registry
 * @notice Member hospitals and their accounts. The consortium admin (DEFAULT_ADMIN_ROLE) admits
 * hospitals and registers staff; a hospital's active staff register its doctors and patients.
 * An address is either a hospital or an account, never both.
 */
contract Registry is IRegistry, AccessControl {
    mapping(address account => Account) private _accounts;
    mapping(address hospital => Hospital) private _hospitals;

    /// @inheritdoc IRegistry
    mapping(address account => bytes32) public encryptionKeyOf;

    /// @inheritdoc IRegistry
    mapping(address hospital => bytes32) public emergencyKeyOf;

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
    function addHospital(address hospital, uint8 keyScheme, bytes32 emergencyKey) external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert RegistryUnauthorized(msg.sender);
        if (hospital == address(0)) revert RegistryZeroAddress();
        if (emergencyKey == bytes32(0)) revert RegistryInvalidKey();
        if (_hospitals[hospital].member) revert RegistryHospitalExists(hospital);
        if (_accounts[hospital].role != Role.None) revert RegistryAlreadyRegistered(hospital);

        _hospitals[hospital] = Hospital({member: true, keyScheme: keyScheme});
        emergencyKeyOf[hospital] = emergencyKey;
        emit HospitalAdded(hospital, keyScheme, emergencyKey);
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
        if (!_mayRegister(msg.sender, role, hospital)) revert RegistryUnauthorized(msg.sender);
        if (!_hospitals[hospital].member) revert RegistryUnknownHospital(hospital);
        if (_accounts[account].role != Role.None || _hospitals[account].member) {
            revert RegistryAlreadyRegistered(account);
        }

        _accounts[account] = Account({role: role, status: Status.Active, keyScheme: keyScheme, hospital: hospital});
        encryptionKeyOf[account] = encryptionKey;
        emit AccountRegistered(account, hospital, role, keyScheme, encryptionKey);
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
        return _hospitals[hospital];
    }

    /// @dev Admins register any role anywhere; active staff register doctors and patients of their
    /// own hospital only.
    function _mayRegister(address caller, Role role, address hospital) private view returns (bool) {
        if (hasRole(DEFAULT_ADMIN_ROLE, caller)) return true;
        if (role == Role.Staff) return false;
        Account storage staff = _accounts[caller];
        return staff.role == Role.Staff && staff.status == Status.Active && staff.hospital == hospital;
    }
}
