-- 007_seal_holds.sql: a seal remembers why it is held and where it was
-- before a loss report, so that resolving the loss returns it there and only
-- the authority that suspended it lifts the suspension (seal.c has the
-- rules); and a rename of its organisation flags a legal-name seal for
-- change.  The data moves are the SQLite step's, word for word: both
-- dialects read them alike.

-- Why a suspended seal is held, kept through a loss report:
--   secadmin      suspended by a security administrator (who lifts it)
--   organisation  suspended by its organisation (which lifts it)
--   unused        suspended by the maintenance job (a new application only)
--   org_disabled  its organisation was disabled (never lifted)
ALTER TABLE seals ADD COLUMN hold TEXT CHECK (hold IN ('secadmin',
    'organisation', 'unused', 'org_disabled'));
-- The state a lost seal was in when the loss was reported.
ALTER TABLE seals ADD COLUMN state_before_loss TEXT
    CHECK (state_before_loss IN ('active', 'suspended'));
-- When a rename of the organisation made a legal-name seal's name stale.
ALTER TABLE seals ADD COLUMN change_required_ms BIGINT;

-- Seals held before this migration.  The history says where a lost seal
-- was before its loss (the newest move into 'lost'); a seal whose
-- suspension is not known to be the job's counts as held by the security
-- administrator, the stricter authority.
UPDATE seals SET state_before_loss = coalesce(
    (SELECT h.from_state FROM history h
      WHERE h.subject_type = 'seal' AND h.subject_id = seals.id
        AND h.to_state = 'lost' AND h.from_state IN ('active', 'suspended')
      ORDER BY h.id DESC LIMIT 1), 'suspended')
 WHERE state = 'lost';
UPDATE seals SET hold = CASE
    WHEN (SELECT h.actor_id FROM history h
           WHERE h.subject_type = 'seal' AND h.subject_id = seals.id
             AND h.to_state = 'suspended'
           ORDER BY h.id DESC LIMIT 1) IS NULL
         AND EXISTS (SELECT 1 FROM history h
           WHERE h.subject_type = 'seal' AND h.subject_id = seals.id
             AND h.to_state = 'suspended')
    THEN 'unused' ELSE 'secadmin' END
 WHERE state = 'suspended'
    OR (state = 'lost' AND state_before_loss = 'suspended');
