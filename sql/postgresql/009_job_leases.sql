-- 009_job_leases.sql: one lease row per periodic job, so that with several
-- nodes on one database each job runs on one node per period.
--
-- A node claims a job with one conditional statement (store_lease.c:
-- UPDATE job_leases SET holder = <node>, until_ms = <now + period> WHERE
-- job = ... AND (until_ms <= <now> OR holder = <node>) RETURNING holder):
-- it wins when the lease has run out or is already its own, and only the
-- winner runs the job.  A node that stops gives its leases back (until_ms
-- = 0); one that dies loses them when they run out.  With one node (the
-- SQLite case) the claim is always won.

CREATE TABLE job_leases (
    job       TEXT    PRIMARY KEY,         -- 'seals', 'audit_checkpoint'
    holder    TEXT    NOT NULL,            -- node id ('' : never held)
    until_ms  BIGINT  NOT NULL             -- the lease runs out then
);

INSERT INTO job_leases (job, holder, until_ms) VALUES ('seals', '', 0);
INSERT INTO job_leases (job, holder, until_ms)
VALUES ('audit_checkpoint', '', 0);
