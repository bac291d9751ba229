-- 010_seal_status.sql: the signed seal status statements (GET /status/...).
--
-- The statements are signed by a status key of their own, whose
-- certificate from the local CA is kept in authority under the role
-- 'status' (seald init makes it; an instance made before has none and
-- refuses the status routes until one is added).  And a seal is found by
-- the SM3 of its file: seal_sm3 is the lowercase hex SM3 of seal_der,
-- written when the seal is made; seals made before are filled in by the
-- daemon at start-up (SQL has no SM3).

-- dialect: PostgreSQL.  The CHECK is replaced in place.
ALTER TABLE authority DROP CONSTRAINT authority_role_check;
ALTER TABLE authority ADD CONSTRAINT authority_role_check
    CHECK (role IN ('ca', 'maker', 'status'));

ALTER TABLE seals ADD COLUMN seal_sm3 TEXT;
CREATE UNIQUE INDEX seals_sm3 ON seals(seal_sm3);
