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
        Patient
    }

    /// @notice Where an account stands. Only `Active` accounts may act; `Pending` and `Suspended`
    /// are reserved for confirmation and suspension flows.
    enum Status {
        None,
        Pending,
        Active,
        Suspended
    }

    /// @notice One registered account; fits in a single storage slot (1 + 1 + 1 + 20 bytes).
    /// @dev `keyScheme` is an opaque code for the key-wrap scheme of the account's encryption key,
    /// defined off chain.
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

    /// @notice A hospital joined the consortium.
    event HospitalAdded(address indexed hospital, uint8 keyScheme, bytes32 emergencyKey);

    /// @notice An account was registered, `Active`, at `hospital`.
    event AccountRegistered(
        address indexed account,
        address indexed hospital,
        Role role,
        uint8 keyScheme,
        bytes32 encryptionKey
    );

    /// @notice `caller` may not perform this operation.
    error RegistryUnauthorized(address caller);
    /// @notice `hospital` is not a member of the consortium.
    error RegistryUnknownHospital(address hospital);
    /// @notice `account` is already registered (as an account or as a hospital).
    error RegistryAlreadyRegistered(address account);
    /// @notice `role` is not a role that can be registered.
    error RegistryInvalidRole(uint8 role);
    /// @notice A key digest is zero.
    error RegistryInvalidKey();
    /// @notice An address argument is zero.
    error RegistryZeroAddress();
    /// @notice `hospital` is already a member.
    error RegistryHospitalExists(address hospital);

    /**
     * @notice Admits `hospital` to the consortium.
     * @param keyScheme key-wrap scheme of the hospital's emergency key
     * @param emergencyKey SHA-256 of the hospital's public emergency key
     *
     * Requirements:
     * - the caller has DEFAULT_ADMIN_ROLE;
     * - `hospital` is non-zero, not yet a member and not a registered account;
     * - `emergencyKey` is non-zero.
     *
     * Emits a {HospitalAdded} event.
     */
    function addHospital(address hospital, uint8 keyScheme, bytes32 emergencyKey) external;

    /**
     * @notice Registers `account` as an `Active` `role` of `hospital`.
     * @param encryptionKey SHA-256 of the account's public encryption key
     *
     * Requirements:
     * - `account` and `hospital` are non-zero; `role` is not `None`; `encryptionKey` is non-zero;
     * - the caller has DEFAULT_ADMIN_ROLE, or is an `Active` `Staff` account of `hospital`
     *   registering a `Doctor` or a `Patient`;
     * - `hospital` is a member;
     * - `account` is neither registered nor a hospital.
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
}
