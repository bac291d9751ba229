-- 002_audit_chain.sql: the tamper-evident audit chain (docs/design.md,
-- "Audit chain").  Each audit_log row gets hash = SM3(previous hash ||
-- canonical encoding of the row), computed by src/audit.c when the row is
-- appended; rows written before this migration keep hash NULL and are
-- covered by the first chained row (the chain always starts at seq 1).
-- Checkpoints are signed chain heads, append-only like the log.

ALTER TABLE audit_log ADD COLUMN hash BLOB;

CREATE TABLE audit_checkpoints (
    id           INTEGER PRIMARY KEY,
    seq          INTEGER NOT NULL,          -- last audit_log.seq covered
    head_hash    BLOB    NOT NULL,          -- chain hash at seq (32 bytes)
    ts_ms        INTEGER NOT NULL,
    key_ref      TEXT    NOT NULL,          -- token/hex-id of the audit key
    public_key   BLOB    NOT NULL,          -- SubjectPublicKeyInfo DER
    signature    BLOB    NOT NULL           -- DER SM2 signature
);
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints(seq);
CREATE INDEX audit_log_ts ON audit_log(ts_ms);
CREATE INDEX audit_log_account ON audit_log(account_id);
CREATE INDEX audit_log_target ON audit_log(target_type, target_id);

-- dialect: SQLite.  Checkpoints are append-only for every code path.
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
