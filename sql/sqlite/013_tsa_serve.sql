-- 013_tsa_serve.sql: seald as a TSA (POST /tsa, RFC 3161).
--
-- The timestamps seald issues are signed by a TSA key of its own, whose
-- certificate from the local CA (extendedKeyUsage timeStamping, critical)
-- is kept in authority under the role 'tsa' (seald init makes it; an
-- instance made before gets it from `seald tsa-key`).  Serial numbers are
-- random: nothing is written per timestamp.

-- dialect: SQLite.  A CHECK cannot be altered: the table is rebuilt, with
-- its rows.
CREATE TABLE authority_new (
    role       TEXT    PRIMARY KEY
                       CHECK (role IN ('ca', 'maker', 'status', 'tsa')),
    key_ref    TEXT    NOT NULL,
    cert_der   BLOB    NOT NULL,
    created_ms INTEGER NOT NULL
);
INSERT INTO authority_new (role, key_ref, cert_der, created_ms)
SELECT role, key_ref, cert_der, created_ms FROM authority;
DROP TABLE authority;
ALTER TABLE authority_new RENAME TO authority;
