-- 006_token_check.sql: which signature values the token's fault check
-- verified before they were given out (issue 14, item 15).
-- token_checked: 1 when seald verified the value the token returned before
-- answering; 0 when the check was sampled out ([signing] verify_token_every
-- above 1).  token_suspect: 1 when a later check on the same seal failed
-- and this value had not been checked: it may be wrong, and whoever holds it
-- should have it verified.  Rows from before this step were sampled.
ALTER TABLE signatures ADD COLUMN token_checked INTEGER NOT NULL DEFAULT 0
    CHECK (token_checked IN (0, 1));
ALTER TABLE signatures ADD COLUMN token_suspect INTEGER NOT NULL DEFAULT 0
    CHECK (token_suspect IN (0, 1));
-- verification finds a signature's record by its seal and document hash
CREATE INDEX signatures_document ON signatures(seal_id, data_sm3);
