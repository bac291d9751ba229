-- 010_seal_status.sql: the signed seal status statements (GET /status/...).
--
-- The statements are signed by a status key of their own, whose
-- certificate from the local CA is kept in authority under the role
-- 'status' (seald init makes it; an instance made before has none and
-- refuses the status routes until one is added).  And a seal is found by
-- the SM3 of its file: seal_sm3 is the lowercase hex SM3 of seal_der,
-- written when the seal is made; seals made before are filled in by the
-- daemon at start-up (SQL has no SM3).

-- dialect: SQLite.  A CHECK cannot be altered: the table is rebuilt, with
-- its rows.
CREATE TABLE authority_new (
    role       TEXT    PRIMARY KEY CHECK (role IN ('ca', 'maker', 'status')),
    key_ref    TEXT    NOT NULL,
    cert_der   BLOB    NOT NULL,
    created_ms INTEGER NOT NULL
);
INSERT INTO authority_new (role, key_ref, cert_der, created_ms)
SELECT role, key_ref, cert_der, created_ms FROM authority;
DROP TABLE authority;
ALTER TABLE authority_new RENAME TO authority;

ALTER TABLE seals ADD COLUMN seal_sm3 TEXT;
CREATE UNIQUE INDEX seals_sm3 ON seals(seal_sm3);
