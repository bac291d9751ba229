-- 003_seals.sql: seal applications, their materials, seals, and the state
-- history of both.  Nothing here is ever deleted: states end things.

CREATE TABLE seals (
    id             INTEGER PRIMARY KEY,
    esid           TEXT    NOT NULL UNIQUE,     -- seal code (esID)
    lineage_esid   TEXT    NOT NULL,            -- first esID of a renewal line
    application_id INTEGER NOT NULL,
    org_id         INTEGER NOT NULL REFERENCES organisations(id),
    kind           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    custodian_id   INTEGER NOT NULL REFERENCES accounts(id),
    state          TEXT    NOT NULL CHECK (state IN ('made', 'active',
                               'suspended', 'lost', 'revoked', 'expired')),
    state_since_ms INTEGER NOT NULL,
    reason_code    TEXT,
    version        INTEGER NOT NULL,            -- 4 or 5
    seal_der       BLOB,
    cert_der       BLOB,
    holder_key     TEXT,                        -- token/hex-id
    valid_start_ms INTEGER,
    valid_end_ms   INTEGER,
    predecessor_id INTEGER REFERENCES seals(id),
    made_by        INTEGER REFERENCES accounts(id),
    made_ms        INTEGER,
    confirmed_ms   INTEGER,
    filing_state   TEXT    NOT NULL DEFAULT 'pending'
                           CHECK (filing_state IN ('pending', 'filed')),
    filed_ms       INTEGER,
    last_used_ms   INTEGER
);
CREATE INDEX seals_org ON seals(org_id, state);

CREATE TABLE applications (
    id               INTEGER PRIMARY KEY,
    org_id           INTEGER NOT NULL REFERENCES organisations(id),
    applicant_id     INTEGER NOT NULL REFERENCES accounts(id),
    purpose          TEXT    NOT NULL CHECK (purpose IN ('new', 'renewal',
                                 'change', 'revocation')),
    replaces_seal_id INTEGER REFERENCES seals(id),
    kind             TEXT    NOT NULL CHECK (kind IN ('official', 'position',
                                                      'personal')),
    subkind          TEXT,       -- official: legal_name, department, branch,
                                 -- business
    business         TEXT,       -- business seals: contract, finance, invoice,
                                 -- customs, inspection, other
    position         TEXT,       -- position seals: the holder's position
    seal_name        TEXT    NOT NULL,
    custodian_id     INTEGER NOT NULL REFERENCES accounts(id),
    image            BLOB    NOT NULL,
    image_type       TEXT    NOT NULL,
    image_sm3        BLOB    NOT NULL,
    image_width_px   INTEGER NOT NULL,
    image_height_px  INTEGER NOT NULL,
    width_mm         INTEGER NOT NULL,
    height_mm        INTEGER NOT NULL,
    reason           TEXT,
    state            TEXT    NOT NULL CHECK (state IN ('submitted',
                         'under_review', 'returned', 'rejected', 'approved',
                         'made')),
    state_reason     TEXT,
    reviewer_id      INTEGER REFERENCES accounts(id),
    holder_key       TEXT,       -- token/hex-id once generated for making
    revision         INTEGER NOT NULL DEFAULT 1,
    created_ms       INTEGER NOT NULL,
    updated_ms       INTEGER NOT NULL
);
CREATE INDEX applications_org ON applications(org_id, state);

-- Identity materials: each file with its hash, type and size.
CREATE TABLE application_materials (
    id             INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    revision       INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    media_type     TEXT    NOT NULL,
    size_bytes     INTEGER NOT NULL,
    sm3            BLOB    NOT NULL,
    data           BLOB    NOT NULL,
    created_ms     INTEGER NOT NULL
);
CREATE INDEX application_materials_app ON application_materials(application_id);

-- Every state change of an application or a seal: who, when, from, to, why.
CREATE TABLE history (
    id           INTEGER PRIMARY KEY,
    subject_type TEXT    NOT NULL CHECK (subject_type IN ('application',
                                                          'seal')),
    subject_id   INTEGER NOT NULL,
    from_state   TEXT,
    to_state     TEXT    NOT NULL,
    actor_id     INTEGER REFERENCES accounts(id),
    ts_ms        INTEGER NOT NULL,
    reason       TEXT
);
CREATE INDEX history_subject ON history(subject_type, subject_id);

-- The instance's own certificates: its local CA and its seal maker (制章者),
-- with the token keys they belong to.  Kept here so every node sees them.
CREATE TABLE authority (
    role       TEXT    PRIMARY KEY CHECK (role IN ('ca', 'maker')),
    key_ref    TEXT    NOT NULL,
    cert_der   BLOB    NOT NULL,
    created_ms INTEGER NOT NULL
);

-- esID sequence per region code.
CREATE TABLE esid_counters (
    region TEXT    PRIMARY KEY,
    next   INTEGER NOT NULL
);
