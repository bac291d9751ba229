-- 018_data_keys.sql: encryption at rest (issue 18 item 11).
--
-- The data keys that encrypt the stored blobs (application materials,
-- impression images, uploaded documents): each row a 32-byte random key,
-- wrapped (SM2-encrypted, GM/T 0003.4) to a decryption key in a token,
-- never stored in the clear.  A blob names the id of the key that sealed
-- it (its header, docs/design.md "Encryption at rest"); the active key with
-- the highest id seals new blobs; a retired key still opens its blobs.
-- Rotation adds a row and retires the others in one transaction; a re-wrap
-- replaces wrapped and key_ref of a row, never the key inside.  Rows are
-- never deleted: a blob that names a missing key could not be read.
--
-- plaintext_refused: once any row has it, a stored blob that is not sealed
-- is refused instead of read as a row from before this migration.  Set on
-- the first key of an instance that has no blobs yet, and by `seald
-- data-key encrypt` when no plaintext row is left.
CREATE TABLE data_keys (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_ref     TEXT    NOT NULL,           -- token/hex-id of the wrap key
    wrapped     BYTEA   NOT NULL,           -- DER SM2Cipher of the key
    state       TEXT    NOT NULL CHECK (state IN ('active', 'retired')),
    created_ms  BIGINT  NOT NULL,
    retired_ms  BIGINT,
    plaintext_refused BIGINT  NOT NULL DEFAULT 0
                CHECK (plaintext_refused IN (0, 1))
);
