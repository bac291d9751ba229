-- 020_sealed_at_rest.sql: kept sealed OFDs (sealed_ofds.data, migration
-- 016) are stored sealed too, like the three columns of migration 018.
--
-- Every kept package written before this migration is plaintext (nothing
-- sealed them), so an instance that has any, and whose `seald data-key
-- encrypt` had already set plaintext_refused, would refuse to serve them.
-- The flag is cleared for such an instance: they are read as they are
-- until `seald data-key encrypt` seals them, which sets it again.  An
-- instance without a kept package keeps its flag.
UPDATE data_keys SET plaintext_refused = 0
    WHERE EXISTS (SELECT 1 FROM sealed_ofds);
