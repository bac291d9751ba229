-- 017_stats_scope.sql: the supervising department's monthly statistics
-- reports, and the document type a signing request names (issue 18 items
-- 9 and 10).
--
-- A signing request names the type of its documents (a contract, an
-- invoice, ...: lowercase letters, digits and '_'), checked against the
-- scope of the seal's kind ([scope] in the configuration).  NULL: the
-- request named none (every request before this migration), which only a
-- seal of an unlimited kind accepts.
ALTER TABLE sign_requests ADD COLUMN document_type TEXT;

-- One report per region organisation (kind 'region') and calendar month
-- (UTC), covering the region's subtree: made by the maintenance job once
-- the month is over (the node holding the seal job's lease; the unique key
-- keeps it to one however many nodes try) and kept.  Both forms are stored
-- as made, so that a download is the report as it was, not the state of
-- the records today.
CREATE TABLE stats_reports (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      BIGINT  NOT NULL REFERENCES organisations(id),
    month       TEXT    NOT NULL,         -- 'YYYY-MM'
    from_ms     BIGINT  NOT NULL,         -- the month's first instant
    to_ms       BIGINT  NOT NULL,         -- the next month's first instant
    created_ms  BIGINT  NOT NULL,
    body_json   TEXT    NOT NULL,
    body_csv    TEXT    NOT NULL,
    UNIQUE (org_id, month)
);

-- The statistics read a period: decisions by their time in the history,
-- applications by their submission.
CREATE INDEX history_period ON history(subject_type, ts_ms);
CREATE INDEX applications_created ON applications(created_ms);
