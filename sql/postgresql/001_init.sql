-- 001_init.sql: organisations, accounts, roles, credentials and the audit log.
-- The PostgreSQL series (docs/design.md "Dialects"): the same steps as
-- sql/sqlite/, the same tables, columns, constraints and indexes.  Ids that
-- the database assigns are BIGINT identities (the code never writes them;
-- new ids come back by RETURNING id); times are BIGINT milliseconds since
-- the epoch (UTC), text is TEXT, bytes are BYTEA; a 0/1 flag is INTEGER,
-- read as a number as on SQLite.  Dialect-specific statements (trigger
-- functions and triggers) are marked.

CREATE TABLE organisations (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id    BIGINT  REFERENCES organisations(id),
    name         TEXT    NOT NULL,
    kind         TEXT    NOT NULL,           -- region, agency, department, branch
    credit_code  TEXT,                       -- unified social credit code
    disabled     INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_ms   BIGINT  NOT NULL
);

CREATE TABLE accounts (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL CHECK (kind IN ('person', 'system')),
    display_name TEXT    NOT NULL,
    org_id       BIGINT  NOT NULL REFERENCES organisations(id),
    -- system accounts: the client certificate's subject and issuer DNs
    -- (RFC 4514 text), matched exactly; NULL for people
    cert_subject TEXT,
    cert_issuer  TEXT,
    disabled     INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_ms   BIGINT  NOT NULL,
    created_by   BIGINT  REFERENCES accounts(id)
);
CREATE UNIQUE INDEX accounts_cert ON accounts(cert_subject, cert_issuer);

-- Role grants are never deleted: removal sets removed_ms.
CREATE TABLE role_assignments (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   BIGINT  NOT NULL REFERENCES accounts(id),
    role         TEXT    NOT NULL,
    scope_org_id BIGINT  NOT NULL REFERENCES organisations(id),
    granted_ms   BIGINT  NOT NULL,
    granted_by   BIGINT  REFERENCES accounts(id),
    removed_ms   BIGINT,
    removed_by   BIGINT  REFERENCES accounts(id)
);
CREATE INDEX role_assignments_account ON role_assignments(account_id);

-- A custodian's deputy for an absence: valid only once approved, and only
-- between start_ms and end_ms.
CREATE TABLE deputies (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    custodian_id  BIGINT  NOT NULL REFERENCES accounts(id),
    deputy_id     BIGINT  NOT NULL REFERENCES accounts(id),
    scope_org_id  BIGINT  NOT NULL REFERENCES organisations(id),
    start_ms      BIGINT  NOT NULL,
    end_ms        BIGINT  NOT NULL,
    reason        TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('requested', 'approved',
                                                    'rejected', 'revoked')),
    created_ms    BIGINT  NOT NULL,
    approved_by   BIGINT  REFERENCES accounts(id),
    approved_ms   BIGINT
);

-- Failed authentications per account and per client address, for lockout.
CREATE TABLE auth_failures (
    kind          TEXT    NOT NULL CHECK (kind IN ('account', 'address')),
    subject       TEXT    NOT NULL,
    failures      BIGINT  NOT NULL,
    window_ms     BIGINT  NOT NULL,   -- start of the counting window
    locked_until  BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, subject)
);

-- An API credential is "seald_<key_id>_<secret>"; only HMAC-SM3 of the
-- secret under the server secret is stored (docs/design.md, Credentials).
CREATE TABLE credentials (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   BIGINT  NOT NULL REFERENCES accounts(id),
    key_id       TEXT    NOT NULL UNIQUE,
    mac          BYTEA   NOT NULL,
    initial      INTEGER NOT NULL DEFAULT 1 CHECK (initial IN (0, 1)),
    created_ms   BIGINT  NOT NULL,
    expires_ms   BIGINT  NOT NULL,
    revoked_ms   BIGINT
);
CREATE INDEX credentials_account ON credentials(account_id);

-- seq is written by the code (store_audit.c claims it from the chain's
-- head), so it is a plain key, not an identity.
CREATE TABLE audit_log (
    seq          BIGINT  PRIMARY KEY,
    ts_ms        BIGINT  NOT NULL,
    account_id   BIGINT,
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

-- dialect: PostgreSQL.  The audit log is append-only for every code path.
-- seald_refuse() is the body of every such rule: it raises the message its
-- trigger names with SQLSTATE 23000 (integrity_constraint_violation), a
-- constraint failure as SQLite's RAISE(ABORT) in a trigger is, so the
-- dialects put a refused change in the same failure class.  TRUNCATE fires
-- no row trigger, so it has a statement trigger of its own (SQLite has no
-- TRUNCATE, and its DELETE without WHERE runs the row triggers).
CREATE FUNCTION seald_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = TG_ARGV[0],
                          ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
FOR EACH ROW EXECUTE FUNCTION seald_refuse('audit_log is append-only');
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION seald_refuse('audit_log is append-only');
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION seald_refuse('audit_log is append-only');
