-- 011_status_list.sql: the seal status list in parts (issue 17 item 2).
--
-- A part of the list is a page of the seals that are neither active nor
-- made, in esID byte order, without those whose validity ended more than
-- status.list_expired_grace_days ago.  The partial index holds exactly
-- those seals with every column a list entry needs, so that counting them,
-- skipping to a part and reading it touch the index alone, however many
-- active seals there are.

-- dialect: PostgreSQL.  esIDs compare bytewise ("C"), as in SQLite, and as
-- the list's entries are sorted (strcmp): under a database's linguistic
-- collation ORDER BY esid would not give the order a verifier checks.
ALTER TABLE seals ALTER COLUMN esid TYPE TEXT COLLATE "C";
CREATE INDEX seals_status_list
    ON seals(esid, valid_end_ms, state, state_since_ms, reason_code)
    WHERE state <> 'active' AND state <> 'made';
