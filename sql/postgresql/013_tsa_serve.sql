-- 013_tsa_serve.sql: seald as a TSA (POST /tsa, RFC 3161).
--
-- The timestamps seald issues are signed by a TSA key of its own, whose
-- certificate from the local CA (extendedKeyUsage timeStamping, critical)
-- is kept in authority under the role 'tsa' (seald init makes it; an
-- instance made before gets it from `seald tsa-key`).  Serial numbers are
-- random: nothing is written per timestamp.

-- dialect: PostgreSQL.  The CHECK is replaced in place.
ALTER TABLE authority DROP CONSTRAINT authority_role_check;
ALTER TABLE authority ADD CONSTRAINT authority_role_check
    CHECK (role IN ('ca', 'maker', 'status', 'tsa'));
