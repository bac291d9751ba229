-- 003_seals.sql: seal applications, their materials, seals, and the state
-- history of both.  Nothing here is ever deleted: states end things.

CREATE TABLE seals (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    esid           TEXT    NOT NULL UNIQUE,     -- seal code (esID)
    lineage_esid   TEXT    NOT NULL,            -- first esID of a renewal line
    application_id BIGINT  NOT NULL,
    org_id         BIGINT  NOT NULL REFERENCES organisations(id),
    kind           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    custodian_id   BIGINT  NOT NULL REFERENCES accounts(id),
    state          TEXT    NOT NULL CHECK (state IN ('made', 'active',
                               'suspended', 'lost', 'revoked', 'expired')),
    state_since_ms BIGINT  NOT NULL,
    reason_code    TEXT,
    version        BIGINT  NOT NULL,            -- 4 or 5
    seal_der       BYTEA,
    cert_der       BYTEA,
    holder_key     TEXT,                        -- token/hex-id
    valid_start_ms BIGINT,
    valid_end_ms   BIGINT,
    predecessor_id BIGINT  REFERENCES seals(id),
    made_by        BIGINT  REFERENCES accounts(id),
    made_ms        BIGINT,
    confirmed_ms   BIGINT,
    filing_state   TEXT    NOT NULL DEFAULT 'pending'
                           CHECK (filing_state IN ('pending', 'filed')),
    filed_ms       BIGINT,
    last_used_ms   BIGINT
);
CREATE INDEX seals_org ON seals(org_id, state);

CREATE TABLE applications (
    id               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id           BIGINT  NOT NULL REFERENCES organisations(id),
    applicant_id     BIGINT  NOT NULL REFERENCES accounts(id),
    purpose          TEXT    NOT NULL CHECK (purpose IN ('new', 'renewal',
                                 'change', 'revocation')),
    replaces_seal_id BIGINT  REFERENCES seals(id),
    kind             TEXT    NOT NULL CHECK (kind IN ('official', 'position',
                                                      'personal')),
    subkind          TEXT,       -- official: legal_name, department, branch,
                                 -- business
    business         TEXT,       -- business seals: contract, finance, invoice,
                                 -- customs, inspection, other
    position         TEXT,       -- position seals: the holder's position
    seal_name        TEXT    NOT NULL,
    custodian_id     BIGINT  NOT NULL REFERENCES accounts(id),
    image            BYTEA   NOT NULL,
    image_type       TEXT    NOT NULL,
    image_sm3        BYTEA   NOT NULL,
    image_width_px   BIGINT  NOT NULL,
    image_height_px  BIGINT  NOT NULL,
    width_mm         BIGINT  NOT NULL,
    height_mm        BIGINT  NOT NULL,
    reason           TEXT,
    state            TEXT    NOT NULL CHECK (state IN ('submitted',
                         'under_review', 'returned', 'rejected', 'approved',
                         'made')),
    state_reason     TEXT,
    reviewer_id      BIGINT  REFERENCES accounts(id),
    holder_key       TEXT,       -- token/hex-id once generated for making
    revision         BIGINT  NOT NULL DEFAULT 1,
    created_ms       BIGINT  NOT NULL,
    updated_ms       BIGINT  NOT NULL
);
CREATE INDEX applications_org ON applications(org_id, state);

-- Identity materials: each file with its hash, type and size.
CREATE TABLE application_materials (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id BIGINT  NOT NULL REFERENCES applications(id),
    revision       BIGINT  NOT NULL,
    name           TEXT    NOT NULL,
    media_type     TEXT    NOT NULL,
    size_bytes     BIGINT  NOT NULL,
    sm3            BYTEA   NOT NULL,
    data           BYTEA   NOT NULL,
    created_ms     BIGINT  NOT NULL
);
CREATE INDEX application_materials_app ON application_materials(application_id);

-- Every state change of an application or a seal: who, when, from, to, why.
CREATE TABLE history (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_type TEXT    NOT NULL CHECK (subject_type IN ('application',
                                                          'seal')),
    subject_id   BIGINT  NOT NULL,
    from_state   TEXT,
    to_state     TEXT    NOT NULL,
    actor_id     BIGINT  REFERENCES accounts(id),
    ts_ms        BIGINT  NOT NULL,
    reason       TEXT
);
CREATE INDEX history_subject ON history(subject_type, subject_id);

-- The instance's own certificates: its local CA and its seal maker (制章者),
-- with the token keys they belong to.  Kept here so every node sees them.
CREATE TABLE authority (
    role       TEXT    PRIMARY KEY CHECK (role IN ('ca', 'maker')),
    key_ref    TEXT    NOT NULL,
    cert_der   BYTEA   NOT NULL,
    created_ms BIGINT  NOT NULL
);

-- esID sequence per region code.
CREATE TABLE esid_counters (
    region TEXT    PRIMARY KEY,
    next   BIGINT  NOT NULL
);
