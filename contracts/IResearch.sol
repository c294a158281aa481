// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IResearch
 * @notice Research studies and the patients' research consent (purpose HRESCH). A study is known
 * by its id, its researcher and a SHA-256 of its protocol text; the text, the title and every
 * exported file stay off chain. Patients opt in per approved study, or to every approved study of
 * a hospital's researchers, and withdraw at any time; each
 * export of a study is recorded with its counts and the hash of its manifest. Nothing personal is
 * stored or logged: addresses, ids, counts and digests only.
 */
interface IResearch {
    /// @notice Where a study stands. Only an `Approved` study takes consents and exports.
    enum StudyStatus {
        None,
        Proposed,
        Approved,
        Rejected
    }

    /// @notice One study: its researcher, where it stands, the digest of its protocol text, and the
    /// researcher's hospital (whose patients may consent to all its studies at once).
    struct Study {
        address researcher;
        StudyStatus status;
        bytes32 protocolHash;
        address hospital;
    }

    /// @notice One member hospital's part of an export: the SHA-256 of its encrypted part's index
    /// block in IPFS and its counts (zero digest: no part yet).
    struct ExportPart {
        bytes32 digest;
        uint32 patients;
        uint32 resources;
    }

    /// @notice Active researcher `researcher` of `hospital` proposed study `studyId`.
    event StudyProposed(bytes32 indexed studyId, address indexed researcher, address indexed hospital, bytes32 protocolHash);

    /// @notice The consortium admin `by` approved study `studyId`.
    event StudyApproved(bytes32 indexed studyId, address by);

    /// @notice The consortium admin `by` rejected study `studyId` (final).
    event StudyRejected(bytes32 indexed studyId, address by);

    /// @notice Patient `patient` consented to the use of their records, de-identified, in study `studyId`.
    event ResearchConsentGiven(bytes32 indexed studyId, address indexed patient);

    /// @notice Patient `patient` withdrew their consent to study `studyId`.
    event ResearchConsentWithdrawn(bytes32 indexed studyId, address indexed patient);

    /// @notice Patient `patient` consented to every approved study of `hospital`'s researchers.
    event HospitalResearchConsentGiven(address indexed hospital, address indexed patient);

    /// @notice Patient `patient` withdrew their consent to the studies of `hospital`'s researchers.
    event HospitalResearchConsentWithdrawn(address indexed hospital, address indexed patient);

    /// @notice The researcher of `studyId` received export number `exportNumber`: `patients`
    /// consenting patients, `resources` de-identified resources, and the SHA-256 of its manifest.
    event StudyExported(bytes32 indexed studyId, uint32 indexed exportNumber, uint32 patients, uint32 resources, bytes32 manifestHash);

    /// @notice The researcher of `studyId` asked every home node of its consenting patients for
    /// export `exportId`.
    event ExportRequested(bytes32 indexed exportId, bytes32 indexed studyId, address indexed researcher);

    /// @notice Member hospital `hospital` submitted its part of export `exportId` of study
    /// `studyId`: `patients` patients and `resources` resources, de-identified and encrypted for
    /// the researcher, in IPFS under `digest`.
    event ExportPartSubmitted(bytes32 indexed exportId, bytes32 indexed studyId, address indexed hospital, bytes32 digest, uint32 patients, uint32 resources);

    /// @notice `caller` may not perform this operation.
    error ResearchUnauthorized(address caller);
    /// @notice A study id, protocol hash or manifest hash is zero.
    error ResearchZeroValue();
    /// @notice `studyId` is taken.
    error ResearchStudyExists(bytes32 studyId);
    /// @notice No study `studyId`.
    error ResearchUnknownStudy(bytes32 studyId);
    /// @notice Study `studyId` is not `Proposed` (already decided).
    error ResearchStudyNotProposed(bytes32 studyId);
    /// @notice Study `studyId` is not `Approved`.
    error ResearchStudyNotApproved(bytes32 studyId);
    /// @notice Export id `exportId` is taken.
    error ResearchExportExists(bytes32 exportId);
    /// @notice No export `exportId` was requested.
    error ResearchUnknownExport(bytes32 exportId);
    /// @notice `hospital` submitted its part of `exportId` already.
    error ResearchPartExists(bytes32 exportId, address hospital);
    /// @notice `patient` already consented to `studyId`.
    error ResearchAlreadyConsented(bytes32 studyId, address patient);
    /// @notice `patient` has no consent to `studyId` to withdraw.
    error ResearchNotConsented(bytes32 studyId, address patient);
    /// @notice `hospital` is not a member hospital.
    error ResearchUnknownHospital(address hospital);
    /// @notice `patient` already consents to the studies of `hospital`.
    error ResearchHospitalConsentExists(address hospital, address patient);
    /// @notice `patient` has no consent to the studies of `hospital` to withdraw.
    error ResearchNoHospitalConsent(address hospital, address patient);

    /**
     * @notice A researcher proposes a study.
     *
     * Requirements:
     * - the caller is an active `Researcher` of the Registry;
     * - `studyId` and `protocolHash` are non-zero; `studyId` is new.
     *
     * Emits a {StudyProposed} event.
     */
    function proposeStudy(bytes32 studyId, bytes32 protocolHash) external;

    /**
     * @notice The consortium admin approves (`approve`) or rejects a proposed study.
     *
     * Requirements:
     * - the caller holds the Registry's DEFAULT_ADMIN_ROLE;
     * - the study exists and is `Proposed`.
     *
     * Emits a {StudyApproved} or {StudyRejected} event.
     */
    function decideStudy(bytes32 studyId, bool approve) external;

    /**
     * @notice The caller, an active patient, consents to study `studyId`.
     *
     * Requirements:
     * - the caller is an active `Patient`; the study is `Approved`; no live consent of the caller.
     *
     * Emits a {ResearchConsentGiven} event.
     */
    function giveConsent(bytes32 studyId) external;

    /**
     * @notice The caller withdraws their consent to study `studyId`, whatever the study's state;
     * under a consent to all of its hospital's studies, this study alone is left out.
     *
     * Requirements:
     * - the caller has a live consent to the study (its own, or its hospital's).
     *
     * Emits a {ResearchConsentWithdrawn} event.
     */
    function withdrawConsent(bytes32 studyId) external;

    /**
     * @notice The caller, an active patient, consents to every approved study, present and future,
     * of the researchers of member hospital `hospital` (but those they withdraw from one by one).
     *
     * Requirements:
     * - the caller is an active `Patient`; `hospital` is a member; no such consent of the caller yet.
     *
     * Emits a {HospitalResearchConsentGiven} event.
     */
    function giveHospitalConsent(address hospital) external;

    /**
     * @notice The caller withdraws their consent to the studies of `hospital`.
     *
     * Requirements:
     * - the caller has that consent.
     *
     * Emits a {HospitalResearchConsentWithdrawn} event.
     */
    function withdrawHospitalConsent(address hospital) external;

    /**
     * @notice The study's researcher records an export it received.
     *
     * Requirements:
     * - the caller is the study's researcher, still active; the study is `Approved`;
     * - `manifestHash` is non-zero.
     *
     * Emits a {StudyExported} event.
     */
    function recordExport(bytes32 studyId, uint32 patients, uint32 resources, bytes32 manifestHash) external;

    /**
     * @notice The study's researcher asks the home nodes of its consenting patients for an
     * export (each de-identifies its own patients and submits a part).
     *
     * Requirements:
     * - the caller is the study's researcher, still active; the study is `Approved`;
     * - `exportId` is non-zero and new.
     *
     * Emits an {ExportRequested} event.
     */
    function requestExport(bytes32 studyId, bytes32 exportId) external;

    /**
     * @notice A member hospital submits its part of a requested export, once.
     *
     * Requirements:
     * - the caller is a member hospital of the Registry;
     * - `exportId` was requested, of a study still `Approved`; `digest` is non-zero;
     * - the caller has not submitted a part of it yet.
     *
     * Emits an {ExportPartSubmitted} event.
     */
    function submitExportPart(bytes32 exportId, bytes32 digest, uint32 patients, uint32 resources) external;

    /// @notice The study of export `exportId` (zero when not requested).
    function exportStudyOf(bytes32 exportId) external view returns (bytes32);

    /// @notice `hospital`'s part of export `exportId` (zero digest when none).
    function exportPartOf(bytes32 exportId, address hospital) external view returns (ExportPart memory);

    /// @notice Study `studyId` (zero values when unknown).
    function studyOf(bytes32 studyId) external view returns (Study memory);

    /// @notice Whether `patient` consents to `studyId` now, for itself or by a consent to all of its
    /// hospital's studies not withdrawn for this one (and the study is approved).
    function hasConsent(bytes32 studyId, address patient) external view returns (bool);
}
