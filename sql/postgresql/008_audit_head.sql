-- 008_audit_head.sql: the head of the audit chain as a row of its own.
--
-- Every append claims the head in its own transaction (store_audit.c:
-- UPDATE audit_head SET seq = seq + 1 ... RETURNING), links the new entry to
-- the hash it read and writes the new hash back.  Here, with row locks, the
-- claimed row is the one serialisation point of the chain: concurrent
-- appenders from several nodes queue on it.  `seald audit verify` checks
-- that the row and the log's newest entry agree.

CREATE TABLE audit_head (
    id    BIGINT  PRIMARY KEY CHECK (id = 1),
    seq   BIGINT  NOT NULL,              -- newest audit_log.seq (0: empty)
    hash  BYTEA                          -- its chain hash (NULL: unchained)
);

-- An existing log keeps its head: its newest entry, and that entry's hash
-- (NULL for an entry older than the chain, which audit.c then rebuilds).
INSERT INTO audit_head (id, seq, hash)
SELECT 1, coalesce((SELECT max(seq) FROM audit_log), 0),
       (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1);

-- dialect: PostgreSQL.  The row is never removed and never re-created
-- (seald_refuse: 001_init.sql).
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
FOR EACH ROW EXECUTE FUNCTION seald_refuse('audit_head is kept');
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
FOR EACH STATEMENT EXECUTE FUNCTION seald_refuse('audit_head is kept');
CREATE TRIGGER audit_head_no_insert BEFORE INSERT ON audit_head
FOR EACH ROW EXECUTE FUNCTION seald_refuse('audit_head has one row');
CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
FOR EACH ROW WHEN (NEW.seq < OLD.seq OR NEW.id <> OLD.id)
EXECUTE FUNCTION seald_refuse('audit_head only moves forward');
