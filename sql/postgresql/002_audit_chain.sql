-- 002_audit_chain.sql: the tamper-evident audit chain (docs/design.md,
-- "Audit chain").  Each audit_log row gets hash = SM3(previous hash ||
-- canonical encoding of the row), computed by src/audit.c when the row is
-- appended; rows written before this migration keep hash NULL and are
-- covered by the first chained row (the chain always starts at seq 1).
-- Checkpoints are signed chain heads, append-only like the log.

ALTER TABLE audit_log ADD COLUMN hash BYTEA;

CREATE TABLE audit_checkpoints (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq          BIGINT  NOT NULL,          -- last audit_log.seq covered
    head_hash    BYTEA   NOT NULL,          -- chain hash at seq (32 bytes)
    ts_ms        BIGINT  NOT NULL,
    key_ref      TEXT    NOT NULL,          -- token/hex-id of the audit key
    public_key   BYTEA   NOT NULL,          -- SubjectPublicKeyInfo DER
    signature    BYTEA   NOT NULL           -- DER SM2 signature
);
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints(seq);
CREATE INDEX audit_log_ts ON audit_log(ts_ms);
CREATE INDEX audit_log_account ON audit_log(account_id);
CREATE INDEX audit_log_target ON audit_log(target_type, target_id);

-- dialect: PostgreSQL.  Checkpoints are append-only for every code path
-- (seald_refuse: 001_init.sql).
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
FOR EACH ROW EXECUTE FUNCTION seald_refuse('audit_checkpoints is append-only');
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
FOR EACH ROW EXECUTE FUNCTION seald_refuse('audit_checkpoints is append-only');
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION seald_refuse('audit_checkpoints is append-only');
