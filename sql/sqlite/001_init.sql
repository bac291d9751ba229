-- 001_init.sql: organisations, accounts, roles, credentials and the audit log.
-- Portable SQL: INTEGER primary keys, times as INTEGER milliseconds since the
-- epoch (UTC), text as TEXT, bytes as BLOB.  Dialect-specific statements
-- (triggers) are marked; see docs/design.md "Database dialects".

CREATE TABLE organisations (
    id           INTEGER PRIMARY KEY,
    parent_id    INTEGER REFERENCES organisations(id),
    name         TEXT    NOT NULL,
    kind         TEXT    NOT NULL,           -- region, agency, department, branch
    credit_code  TEXT,                       -- unified social credit code
    disabled     INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL
);

CREATE TABLE accounts (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL CHECK (kind IN ('person', 'system')),
    display_name TEXT    NOT NULL,
    org_id       INTEGER NOT NULL REFERENCES organisations(id),
    -- system accounts: the client certificate's subject and issuer DNs
    -- (RFC 4514 text), matched exactly; NULL for people
    cert_subject TEXT,
    cert_issuer  TEXT,
    disabled     INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL,
    created_by   INTEGER REFERENCES accounts(id)
);
CREATE UNIQUE INDEX accounts_cert ON accounts(cert_subject, cert_issuer);

-- Role grants are never deleted: removal sets removed_ms.
CREATE TABLE role_assignments (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    role         TEXT    NOT NULL,
    scope_org_id INTEGER NOT NULL REFERENCES organisations(id),
    granted_ms   INTEGER NOT NULL,
    granted_by   INTEGER REFERENCES accounts(id),
    removed_ms   INTEGER,
    removed_by   INTEGER REFERENCES accounts(id)
);
CREATE INDEX role_assignments_account ON role_assignments(account_id);

-- A custodian's deputy for an absence: valid only once approved, and only
-- between start_ms and end_ms.
CREATE TABLE deputies (
    id            INTEGER PRIMARY KEY,
    custodian_id  INTEGER NOT NULL REFERENCES accounts(id),
    deputy_id     INTEGER NOT NULL REFERENCES accounts(id),
    scope_org_id  INTEGER NOT NULL REFERENCES organisations(id),
    start_ms      INTEGER NOT NULL,
    end_ms        INTEGER NOT NULL,
    reason        TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('requested', 'approved',
                                                    'rejected', 'revoked')),
    created_ms    INTEGER NOT NULL,
    approved_by   INTEGER REFERENCES accounts(id),
    approved_ms   INTEGER
);

-- Failed authentications per account and per client address, for lockout.
CREATE TABLE auth_failures (
    kind          TEXT    NOT NULL CHECK (kind IN ('account', 'address')),
    subject       TEXT    NOT NULL,
    failures      INTEGER NOT NULL,
    window_ms     INTEGER NOT NULL,   -- start of the counting window
    locked_until  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, subject)
);

-- An API credential is "seald_<key_id>_<secret>"; only HMAC-SM3 of the
-- secret under the server secret is stored (docs/design.md, Credentials).
CREATE TABLE credentials (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    key_id       TEXT    NOT NULL UNIQUE,
    mac          BLOB    NOT NULL,
    initial      INTEGER NOT NULL DEFAULT 1,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    revoked_ms   INTEGER
);
CREATE INDEX credentials_account ON credentials(account_id);

CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    ts_ms        INTEGER NOT NULL,
    account_id   INTEGER,
    role         TEXT,
    client_addr  TEXT,
    request_id   TEXT,
    action       TEXT    NOT NULL,
    target_type  TEXT,
    target_id    TEXT,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
    reason       TEXT,
    details      TEXT
);
CREATE INDEX audit_log_request ON audit_log(request_id);

-- dialect: SQLite.  The audit log is append-only for every code path.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
