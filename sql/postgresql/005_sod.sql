-- 005_sod.sql: separation of duties on every path (issue 14, rule SOD-7).
-- A credential that someone else issues to an account (a reset) holds the
-- account: it keeps no role and sees nothing until a security
-- administrator other than the one who reset it re-confirms the account.
-- held_by is who reset it, held_ms when; both NULL while not held.
ALTER TABLE accounts ADD COLUMN held_by BIGINT REFERENCES accounts(id);
ALTER TABLE accounts ADD COLUMN held_ms BIGINT;
