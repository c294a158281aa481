/**
 * The schema, as numbered migrations written once in SQLite's SQL and translated for
 * PostgreSQL by `migrationSql`. The numbering is the database's schema version (SQLite's
 * `user_version`, Postgres's `schema_version` table): never renumber or edit an applied one.
 */
export const migrations: readonly Migration[] = [
  `
  CREATE TABLE hospitals (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    address TEXT NOT NULL UNIQUE,
    key_scheme TEXT NOT NULL,
    emergency_public_key BLOB NOT NULL,
    sealed_secrets TEXT NOT NULL,
    state TEXT NOT NULL,
    tx_hash TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'doctor', 'patient')),
    hospital_id TEXT REFERENCES hospitals(id),
    address TEXT NOT NULL UNIQUE,
    key_scheme TEXT NOT NULL,
    public_key BLOB NOT NULL,
    keystore TEXT NOT NULL,
    state TEXT NOT NULL,
    tx_hash TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX accounts_hospital ON accounts(hospital_id, role);
  CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    wrapped_key BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE records (
    record_id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES accounts(id),
    author_id TEXT NOT NULL REFERENCES accounts(id),
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    digest TEXT NOT NULL,
    envelopes TEXT NOT NULL,
    suite TEXT NOT NULL,
    stored_bytes INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'anchored')),
    tx_hash TEXT,
    block_number INTEGER,
    anchored_at INTEGER,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX records_patient ON records(patient_id, state);
  CREATE INDEX records_author ON records(author_id, state);
  CREATE TABLE journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chain_id INTEGER NOT NULL,
    sender TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    tx_hash TEXT NOT NULL UNIQUE,
    raw TEXT NOT NULL,
    purpose TEXT NOT NULL,
    ref TEXT,
    state TEXT NOT NULL CHECK (state IN ('sent', 'mined', 'reverted')),
    block_number INTEGER,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX journal_state ON journal(chain_id, state);
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `,
  // 2: multi-factor sign-in, wallet sign-in, lock-out, mail outbox
  `
  ALTER TABLE accounts ADD COLUMN wallet_address TEXT;
  CREATE UNIQUE INDEX accounts_wallet ON accounts(wallet_address) WHERE wallet_address IS NOT NULL;
  CREATE TABLE mfa (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id),
    sealed_secret TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 0,
    last_step INTEGER,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    code_hash TEXT NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (account_id, code_hash)
  );
  CREATE TABLE sign_in_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE siwe_nonces (
    nonce TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  );
  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT REFERENCES accounts(id),
    to_address TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('kept', 'queued', 'sent', 'failed')),
    error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
  );
  CREATE INDEX outbox_account ON outbox(account_id, id);
  `,
  // 3: consent — requests and grants, shares, emergencies, sign-up. Free text (purpose, reasons) stays here, off chain.
  `
  ALTER TABLE accounts ADD COLUMN licence TEXT;
  ALTER TABLE accounts ADD COLUMN rejection_reason TEXT;
  ALTER TABLE hospitals ADD COLUMN proposed_by TEXT;
  CREATE TABLE access_requests (
    request_id TEXT PRIMARY KEY,
    requester_id TEXT NOT NULL REFERENCES accounts(id),
    patient_id TEXT NOT NULL REFERENCES accounts(id),
    record_ids TEXT,
    purpose_code INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    duration_s INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'revoked')),
    granted_record_ids TEXT,
    expires_at INTEGER,
    envelopes TEXT,
    reason TEXT,
    request_tx TEXT,
    decision_tx TEXT,
    created_at INTEGER NOT NULL,
    decided_at INTEGER
  );
  CREATE INDEX access_requests_patient ON access_requests(patient_id, status);
  CREATE INDEX access_requests_requester ON access_requests(requester_id, status);
  CREATE TABLE shares (
    share_id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES accounts(id),
    grantee_id TEXT REFERENCES accounts(id),
    token_hash TEXT UNIQUE,
    record_ids TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    once INTEGER NOT NULL,
    used_at INTEGER,
    revoked_at INTEGER,
    envelopes TEXT NOT NULL,
    tx_hash TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX shares_patient ON shares(patient_id);
  CREATE INDEX shares_grantee ON shares(grantee_id);
  CREATE TABLE emergencies (
    emergency_id TEXT PRIMARY KEY,
    doctor_id TEXT NOT NULL REFERENCES accounts(id),
    patient_id TEXT NOT NULL REFERENCES accounts(id),
    reason TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    envelopes TEXT,
    declare_tx TEXT,
    release_tx TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX emergencies_patient ON emergencies(patient_id);
  `,
  // 4: consortium — the records this node keeps a replica of. Records, accounts and hospitals of
  // other members are mirrored into the existing tables with state 'remote' (pseudonymous facts
  // from the ledger only).
  `
  CREATE TABLE replicas (
    record_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('wanted', 'pinned')),
    attempts INTEGER NOT NULL,
    error TEXT,
    seen_at INTEGER NOT NULL,
    pinned_at INTEGER,
    next_at INTEGER NOT NULL
  );
  CREATE INDEX replicas_state ON replicas(state, next_at);
  CREATE INDEX records_hospital ON records(hospital_id, state);
  `,
  // 5: the audit log of changes to accounts' sign-in factors (TOTP on, reset by staff or the
  // admin or by recovery, password recovered, wallet linked): who, whose, what, when.
  `
  CREATE TABLE account_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    kind TEXT NOT NULL,
    actor_id TEXT REFERENCES accounts(id),
    created_at INTEGER NOT NULL
  );
  CREATE INDEX account_events_account ON account_events(account_id, id);
  `,
  // 6: ledger events the follower could not apply, kept aside so that one event never stalls it:
  // where it was mined and why it failed (an error code or kind, nothing personal). A row is
  // retried in the background until `next_at` is null, and deleted once applied.
  `
  CREATE TABLE quarantined_events (
    tx_hash TEXT NOT NULL,
    log_index INTEGER NOT NULL,
    block_number INTEGER NOT NULL,
    contract TEXT NOT NULL,
    event_name TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tx_hash, log_index)
  );
  CREATE INDEX quarantined_events_next ON quarantined_events(next_at);
  `,
  // 7: group-committed anchors — a record anchored in a batch keeps its leaf's author signature
  // (EIP-712), the batch's Merkle root, its inclusion proof (JSON array of hex hashes) and the
  // digest of the batch manifest block. Written before the batch's transaction is journaled, so
  // recovery at start finds the root a pending record waits for. No row: a lone anchor.
  `
  CREATE TABLE record_proofs (
    record_id TEXT PRIMARY KEY REFERENCES records(record_id) ON DELETE CASCADE,
    root TEXT NOT NULL,
    proof TEXT NOT NULL,
    signature TEXT NOT NULL,
    manifest TEXT NOT NULL
  );
  CREATE INDEX record_proofs_root ON record_proofs(root);
  `,
  // 8: group-committed audit — one row per read logged through `Consent.logAccessBatch`: the
  // entry the reader signed (EIP-712; addresses, ids, codes and a time only) and where it stands:
  // `pending` (durable here, the read may be served), `mined` (its batch's transaction), or
  // `refused` (the chain would not take it; `reason` is the contract's error).
  `
  CREATE TABLE audit_entries (
    entry_id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    patient TEXT NOT NULL,
    reader TEXT NOT NULL,
    purpose INTEGER NOT NULL,
    ref TEXT NOT NULL,
    read_at INTEGER NOT NULL,
    signature TEXT NOT NULL,
    state TEXT NOT NULL,
    tx_hash TEXT,
    block_number INTEGER,
    reason TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX audit_entries_state ON audit_entries(state, created_at);
  CREATE INDEX audit_entries_patient ON audit_entries(patient, state);
  CREATE INDEX audit_entries_record ON audit_entries(record_id, state);
  `,
  // 9: a hospital's archive (issue 14, bench key scale): GET /status counts anchored records and
  // active accounts from an index of their state alone instead of reading every row; listing a
  // patient's records already goes by records_patient.
  `
  CREATE INDEX records_state ON records(state);
  CREATE INDEX accounts_state ON accounts(state);
  `,
  // 10: keyword search (issue 12) — a blind index. search_keys holds each patient's random search
  // key wrapped for the patient and the hospital's emergency key (never in clear), record_tokens
  // the keyed tokens of each record's terms (HMAC-SHA-256 under that key, 16 bytes), and
  // record_terms each record's term list sealed under the same key, so that a rotation can
  // re-index without reading the records again. No term, code or prefix is stored in clear.
  `
  CREATE TABLE search_keys (
    patient_id TEXT PRIMARY KEY REFERENCES accounts(id),
    version INTEGER NOT NULL,
    wrapped TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE record_tokens (
    patient_id TEXT NOT NULL,
    token BLOB NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (patient_id, token, record_id)
  );
  CREATE INDEX record_tokens_record ON record_tokens(record_id);
  CREATE TABLE record_terms (
    record_id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    sealed TEXT NOT NULL
  );
  CREATE INDEX record_terms_patient ON record_terms(patient_id);
  `,
  // 11: the researcher role (issue 12, research part). SQLite cannot change a CHECK constraint in
  // place: the accounts table is rebuilt (the columns of migrations 1 and 2, the same indexes),
  // foreign keys off while migrating (open-sqlite.ts) and checked after; PostgreSQL swaps the
  // constraint.
  {
    sqlite: `
    CREATE TABLE accounts_new (
      id TEXT PRIMARY KEY,
      email TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'doctor', 'patient', 'researcher')),
      hospital_id TEXT REFERENCES hospitals(id),
      address TEXT NOT NULL UNIQUE,
      key_scheme TEXT NOT NULL,
      public_key BLOB NOT NULL,
      keystore TEXT NOT NULL,
      state TEXT NOT NULL,
      tx_hash TEXT,
      created_at INTEGER NOT NULL,
      wallet_address TEXT,
      licence TEXT,
      rejection_reason TEXT
    );
    INSERT INTO accounts_new (id, email, name, role, hospital_id, address, key_scheme, public_key, keystore, state, tx_hash, created_at, wallet_address, licence, rejection_reason)
      SELECT id, email, name, role, hospital_id, address, key_scheme, public_key, keystore, state, tx_hash, created_at, wallet_address, licence, rejection_reason FROM accounts;
    DROP TABLE accounts;
    ALTER TABLE accounts_new RENAME TO accounts;
    CREATE INDEX accounts_hospital ON accounts(hospital_id, role);
    CREATE UNIQUE INDEX accounts_wallet ON accounts(wallet_address) WHERE wallet_address IS NOT NULL;
    CREATE INDEX accounts_state ON accounts(state);
    `,
    postgres: `
    ALTER TABLE accounts DROP CONSTRAINT accounts_role_check;
    ALTER TABLE accounts ADD CONSTRAINT accounts_role_check CHECK (role IN ('admin', 'staff', 'doctor', 'patient', 'researcher'));
    `,
  },
  // 12: research (issue 12) — studies (the protocol text off chain, its hash and the decision on
  // chain), this node's copy of its patients' research consents (the chain decides at export
  // time), and each export: its counts, k, manifest hash, and whose data went into it (for their
  // timelines; never sent anywhere).
  `
  CREATE TABLE studies (
    id TEXT PRIMARY KEY,
    researcher_id TEXT NOT NULL REFERENCES accounts(id),
    title TEXT NOT NULL,
    purpose TEXT NOT NULL,
    protocol_hash TEXT NOT NULL,
    min_k INTEGER,
    state TEXT NOT NULL CHECK (state IN ('proposed', 'approved', 'rejected')),
    tx_hash TEXT,
    decided_at INTEGER,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX studies_researcher ON studies(researcher_id);
  CREATE TABLE research_consents (
    study_id TEXT NOT NULL REFERENCES studies(id),
    patient_id TEXT NOT NULL REFERENCES accounts(id),
    state TEXT NOT NULL CHECK (state IN ('given', 'withdrawn')),
    tx_hash TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (study_id, patient_id)
  );
  CREATE INDEX research_consents_patient ON research_consents(patient_id);
  CREATE TABLE study_exports (
    study_id TEXT NOT NULL REFERENCES studies(id),
    export_number INTEGER NOT NULL,
    patients INTEGER NOT NULL,
    resources INTEGER NOT NULL,
    k INTEGER NOT NULL,
    manifest_hash TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (study_id, export_number)
  );
  CREATE TABLE study_export_patients (
    study_id TEXT NOT NULL,
    export_number INTEGER NOT NULL,
    patient_id TEXT NOT NULL REFERENCES accounts(id),
    PRIMARY KEY (study_id, export_number, patient_id)
  );
  CREATE INDEX study_export_patients_patient ON study_export_patients(patient_id);
  `,
  // 13: audit entry ids come in blocks of 256 (one bitmap word on chain): row n hands out
  // n * 256 … n * 256 + 255, each id once, to the node process that took it.
  `
  CREATE TABLE audit_id_blocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL
  );
  `,
  // 14: research consents to every approved study of a hospital's researchers (issue 12): this
  // node's copy; the chain decides at export time.
  `
  CREATE TABLE research_hospital_consents (
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    patient_id TEXT NOT NULL REFERENCES accounts(id),
    state TEXT NOT NULL CHECK (state IN ('given', 'withdrawn')),
    tx_hash TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (hospital_id, patient_id)
  );
  `,
  // 15: the journal looked up by what a transaction is for: a lone audit entry's `logAccess`
  // (purpose 'audit-entry', ref the entry id) when the replay and the sweep settle pending
  // entries, and a hospital's last mined transaction by its ref at start; without it each
  // lookup scans the whole journal.
  `
  CREATE INDEX journal_ref ON journal(ref, purpose);
  `,
  // 16: the blind index made cheaper to write (issue 12): search_keys.node_sealed holds each
  // patient's search key sealed under the node key as well (the node key already opens the
  // hospital's emergency key it is wrapped for), so indexing an upload or answering a query opens
  // it without HPKE; record_tokens loses its index by record id (a record's tokens are removed by
  // patient and record, through the primary key) and, in SQLite, its rowid: the rows are the
  // primary key's B-tree alone, one B-tree written per token instead of three.
  {
    sqlite: `
    ALTER TABLE search_keys ADD COLUMN node_sealed TEXT;
    CREATE TABLE record_tokens_16 (
      patient_id TEXT NOT NULL,
      token BLOB NOT NULL,
      record_id TEXT NOT NULL,
      PRIMARY KEY (patient_id, token, record_id)
    ) WITHOUT ROWID;
    INSERT INTO record_tokens_16 (patient_id, token, record_id) SELECT patient_id, token, record_id FROM record_tokens;
    DROP TABLE record_tokens;
    ALTER TABLE record_tokens_16 RENAME TO record_tokens;
    `,
    postgres: `
    ALTER TABLE search_keys ADD COLUMN node_sealed TEXT;
    DROP INDEX record_tokens_record;
    `,
  },
  // 17: erasure by crypto-shredding (issue 13 item 3). erasures: a patient's request to erase one
  // record and the staff's decision (the reason texts stay here, only their keyed hashes go on
  // chain; a request mirrored from another node has none). erased_records: the tombstone of an
  // erased record as this node knows it (ids, parties and the anchored digests only; the records
  // row, its keys and its blocks are gone). erased_blocks: the CIDs its blocks had here, so that
  // a backup import does not bring them back.
  `
  CREATE TABLE erasures (
    erasure_id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    patient_id TEXT NOT NULL REFERENCES accounts(id),
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'rejected')),
    reason TEXT,
    decision_reason TEXT,
    decided_by TEXT,
    request_tx TEXT,
    decision_tx TEXT,
    created_at INTEGER NOT NULL,
    decided_at INTEGER
  );
  CREATE INDEX erasures_record ON erasures(record_id);
  CREATE INDEX erasures_hospital ON erasures(hospital_id, status);
  CREATE TABLE erased_records (
    record_id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    author_id TEXT NOT NULL,
    hospital_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    envelopes TEXT NOT NULL,
    erasure_id TEXT,
    tx_hash TEXT,
    erased_at INTEGER NOT NULL
  );
  CREATE INDEX erased_records_digest ON erased_records(digest);
  CREATE TABLE erased_blocks (
    cid TEXT PRIMARY KEY,
    record_id TEXT NOT NULL
  );
  `,
  // 18: threshold break-glass (issue 13 item 1). emergency_shares: each member hospital's release
  // of its Shamir shares for an emergency (its EmergencyShareReleased event): the digest of the
  // block holding its shares re-wrapped for the doctor; one row per emergency and hospital.
  `
  CREATE TABLE emergency_shares (
    emergency_id TEXT NOT NULL,
    hospital TEXT NOT NULL,
    shares TEXT NOT NULL,
    tx_hash TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (emergency_id, hospital)
  );
  `,
  // 19: re-keying (issue 13 item 2). superseded_records: a record replaced by its re-keyed version
  // (RecordSuperseded on chain): its id, the new id, its parties and anchored digests; its records
  // row, blocks and envelopes are gone, so a read of the old id answers 410 with the new one.
  `
  CREATE TABLE superseded_records (
    record_id TEXT PRIMARY KEY,
    superseded_by TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    author_id TEXT NOT NULL,
    hospital_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    envelopes TEXT NOT NULL,
    tx_hash TEXT,
    superseded_at INTEGER NOT NULL
  );
  CREATE INDEX superseded_records_by ON superseded_records(superseded_by);
  `,
  // 20: care teams (issue 13 item 5). teams: a hospital's team (its name stays here, off chain);
  // team_members: who is a member now (removed_at set on removal); team_keys: the team's X25519 key
  // of each epoch, its private key sealed under the node key (so staff can add a member with no
  // member present) and wrapped for each member in team_key_wraps; team_grants: a patient's grant
  // to a team (TeamAccessGranted), its envelopes block (data keys wrapped for the epoch's team key).
  `
  CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    hospital_id TEXT NOT NULL,
    name TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    tx_hash TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE team_members (
    team_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    removed_at INTEGER,
    PRIMARY KEY (team_id, account_id)
  );
  CREATE TABLE team_keys (
    team_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    sealed_private_key TEXT NOT NULL,
    PRIMARY KEY (team_id, epoch)
  );
  CREATE TABLE team_key_wraps (
    team_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    PRIMARY KEY (team_id, epoch, account_id)
  );
  CREATE TABLE team_grants (
    team_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    envelopes TEXT NOT NULL,
    revoked_at INTEGER,
    tx_hash TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, patient_id)
  );
  CREATE INDEX team_grants_patient ON team_grants(patient_id);
  `,
  // 21: records stored before threshold break-glass, moved to shares (issue 13 item 1,
  // `record rekey --all-emergency`). emergency_moved: a record's shares block, as its hospital
  // published it (EmergencySharesMoved). retired_emergency_keys: a hospital's emergency key being
  // retired, kept sealed under the node key only until every old record of it is moved.
  `
  CREATE TABLE emergency_moved (
    record_id TEXT PRIMARY KEY,
    shares TEXT NOT NULL,
    tx_hash TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE retired_emergency_keys (
    hospital_id TEXT PRIMARY KEY REFERENCES hospitals(id),
    sealed_secrets TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  `,
  // 22: the blind index keyed by patient, record, token (issue 12): an upload's ~460 tokens then
  // go into one run of the primary key's B-tree (a few pages) instead of ~460 random places among
  // the patient's tokens (hundreds of pages written to the WAL at each commit: ~12 ms of CPU per
  // upload against ~3 ms, measured); a query probes the key per record of the patient
  // (match-records.ts), and a record's tokens are removed by its prefix.
  {
    sqlite: `
    CREATE TABLE record_tokens_22 (
      patient_id TEXT NOT NULL,
      token BLOB NOT NULL,
      record_id TEXT NOT NULL,
      PRIMARY KEY (patient_id, record_id, token)
    ) WITHOUT ROWID;
    INSERT INTO record_tokens_22 (patient_id, token, record_id) SELECT patient_id, token, record_id FROM record_tokens;
    DROP TABLE record_tokens;
    ALTER TABLE record_tokens_22 RENAME TO record_tokens;
    `,
    postgres: `
    ALTER TABLE record_tokens DROP CONSTRAINT record_tokens_pkey;
    ALTER TABLE record_tokens ADD PRIMARY KEY (patient_id, record_id, token);
    `,
  },
  // 23: a care team's creation cut off by a crash (issue 13 item 5): the row is written first as
  // 'creating' with its sealed key, then the transaction; at start one whose team is on chain
  // becomes 'active', one never mined is dropped. Existing teams were all mined.
  `
  ALTER TABLE teams ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
  `,
  // 24: care teams of other hospitals, mirrored by the follower from CareTeams events (issue 13
  // item 5, teams across nodes): remote_teams holds what the chain says (team id, hospital address,
  // key epoch and digest) and the epoch's public key fetched from IPFS and checked against it; no
  // name. remote_team_members: members' addresses (removed_at set on TeamMemberRemoved).
  `
  CREATE TABLE remote_teams (
    id TEXT PRIMARY KEY,
    hospital TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    key_digest TEXT NOT NULL,
    public_key BLOB NOT NULL,
    tx_hash TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE remote_team_members (
    team_id TEXT NOT NULL,
    address TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    removed_at INTEGER,
    PRIMARY KEY (team_id, address)
  );
  `,
  // 25: recovery of a patient who lost every secret (issue 13 item 4): the new keys, sealed under a
  // one-time code, wait here for the second approval; recovered_records names the retired address
  // each record was anchored for (its anchor's patient), re-wrapped for the new key in `envelopes`.
  `
  CREATE TABLE patient_recoveries (
    recovery_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    old_address TEXT NOT NULL,
    new_address TEXT NOT NULL UNIQUE,
    key_scheme TEXT NOT NULL,
    public_key BLOB NOT NULL,
    keystore TEXT NOT NULL,
    proposer_id TEXT NOT NULL,
    approver_id TEXT,
    envelopes TEXT,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    approved_at INTEGER
  );
  CREATE TABLE recovered_records (
    record_id TEXT PRIMARY KEY,
    recovery_id TEXT NOT NULL,
    patient_address TEXT NOT NULL
  );
  `,
  // 26: recovery of a patient whose records' data keys are split into threshold shares: those
  // records are kept as recovered (split = 1) and read once k member hospitals released their
  // shares for the new key (Consent.RecoveryShareReleased, one row per hospital).
  `
  ALTER TABLE recovered_records ADD COLUMN split INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE recovery_shares (
    recovery_id TEXT NOT NULL,
    hospital TEXT NOT NULL,
    shares TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (recovery_id, hospital)
  );
  `,
  // 27: care-team keys leave the node key's custody (issue 13: a stolen node key opens no team
  // key): a team key's private key is wrapped only for its members and the hospital's staff and
  // admin (team_key_wraps), so team_keys.sealed_private_key may be NULL; at start, keys sealed
  // before are wrapped for those holders and their sealed copy set to NULL (unsealTeamKeys).
  {
    sqlite: `
    CREATE TABLE team_keys_27 (
      team_id TEXT NOT NULL,
      epoch INTEGER NOT NULL,
      public_key BLOB NOT NULL,
      sealed_private_key TEXT,
      PRIMARY KEY (team_id, epoch)
    );
    INSERT INTO team_keys_27 (team_id, epoch, public_key, sealed_private_key) SELECT team_id, epoch, public_key, sealed_private_key FROM team_keys;
    DROP TABLE team_keys;
    ALTER TABLE team_keys_27 RENAME TO team_keys;
    `,
    postgres: `
    ALTER TABLE team_keys ALTER COLUMN sealed_private_key DROP NOT NULL;
    `,
  },
  // 28: study exports across nodes (issue 12): an export the researcher asked for on chain, on
  // the researcher's node with the hospitals expected to answer (study_export_requests); each part
  // this node's hospitals submitted (study_export_parts), and whose data went into it
  // (study_export_part_patients: for their timelines only; never sent anywhere).
  `
  CREATE TABLE study_export_requests (
    export_id TEXT PRIMARY KEY,
    study_id TEXT NOT NULL,
    researcher_id TEXT NOT NULL,
    hospitals TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE study_export_parts (
    export_id TEXT NOT NULL,
    hospital_id TEXT NOT NULL,
    study_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    patients INTEGER NOT NULL,
    resources INTEGER NOT NULL,
    tx_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (export_id, hospital_id)
  );
  CREATE TABLE study_export_part_patients (
    export_id TEXT NOT NULL,
    hospital_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    PRIMARY KEY (export_id, hospital_id, patient_id)
  );
  CREATE INDEX study_export_part_patients_patient ON study_export_part_patients(patient_id);
  `,
  // 29: listing at scale (issue 14): a reader's copy of a record's manifest, sealed under a key
  // derived from the reader's own encryption private key (src/records/list-meta.ts), written once
  // their listing opened the record; later listings open it instead of the record's envelope.
  // Gone with the record (erasure, re-key) or the account.
  {
    sqlite: `
    CREATE TABLE record_list_meta (
      record_id TEXT NOT NULL REFERENCES records(record_id) ON DELETE CASCADE,
      account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      sealed TEXT NOT NULL,
      PRIMARY KEY (record_id, account_id)
    ) WITHOUT ROWID;
    `,
    postgres: `
    CREATE TABLE record_list_meta (
      record_id TEXT NOT NULL REFERENCES records(record_id) ON DELETE CASCADE,
      account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      sealed TEXT NOT NULL,
      PRIMARY KEY (record_id, account_id)
    );
    `,
  },
  // 30: research consent on a patient's home node (issue 12): each of the patient's records' data
  // keys wrapped for their home hospital's key while a research consent of theirs is given, so the
  // node de-identifies records whose key is split among member hospitals; dropped at withdrawal.
  `
  CREATE TABLE research_record_keys (
    patient_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    hospital_id TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (patient_id, record_id)
  );
  `,
  // 31: study exports across nodes answered off the follower's path (issue 12): each export this
  // node was asked for, queued until its hospitals' parts are submitted (next_at NULL: done, or
  // given up after its retries; reason: the last error's code).
  `
  CREATE TABLE study_export_jobs (
    export_id TEXT PRIMARY KEY,
    study_id TEXT NOT NULL,
    researcher TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER,
    reason TEXT,
    created_at INTEGER NOT NULL,
    done_at INTEGER
  );
  `,
  // 32: an export across nodes is collected once (issue 12): the export number it was recorded on
  // chain as, on the researcher's node; a second collect is refused (EXPORT_ALREADY_COLLECTED).
  `
  ALTER TABLE study_export_requests ADD COLUMN export_number INTEGER;
  `,
  // 33: a patient's hospital-wide research consents looked up by patient (issue 12): every upload
  // asks whether its patient has a research consent given (research-keys.ts wrapResearchKey).
  `
  CREATE INDEX research_hospital_consents_patient ON research_hospital_consents(patient_id);
  `,
]

/** One migration: the same SQL for both dialects (translated for PostgreSQL), or one text each. */
export type Migration = string | { readonly sqlite: string; readonly postgres: string }

/**
 * A migration's SQL for `dialect`. Postgres gets `BIGINT` for every integer (millisecond
 * timestamps exceed int4), `BYTEA` for blobs and identity columns for `AUTOINCREMENT`.
 */
export function migrationSql(migration: Migration, dialect: 'sqlite' | 'postgres'): string {
  if (typeof migration !== 'string') return migration[dialect]
  const sql = migration
  if (dialect === 'sqlite') return sql
  return sql
    .replace(/\bINTEGER PRIMARY KEY AUTOINCREMENT\b/g, 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY')
    .replace(/\bINTEGER\b/g, 'BIGINT')
    .replace(/\bBLOB\b/g, 'BYTEA')
}
