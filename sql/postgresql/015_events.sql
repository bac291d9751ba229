-- 015_events.sql: the transactional outbox (issue 18 items 4-6).
--
-- Every lifecycle event is a row of `events`, written in the transaction
-- of the change it reports (unit.c -> event.c), so an event exists exactly
-- when its change committed.  Its seq comes from the one row of
-- `event_head`, bumped in the same transaction: the row's lock is held to
-- the commit, so seqs are assigned in commit order and a reader that has
-- seen seq N has seen every seq below it (design.md, "Events and
-- deliveries").  Rolled-back changes take their seq with them: no gaps.
--
-- `deliveries` is one row per (destination, event) that a destination's
-- filter takes: pending until the destination answers 2xx (delivered),
-- failed (the dead letter) after the configured attempts; an operator's
-- replay makes it pending again.  `delivery_cursors` is how far each
-- destination's rows have been made.  `seal_expiry_notices` makes the
-- expiring-in-N-days events once per seal per threshold.

CREATE TABLE event_head (
    id   BIGINT  PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL                -- newest events.seq (0: none)
);
INSERT INTO event_head (id, seq) VALUES (1, 0);

CREATE TABLE events (
    seq          BIGINT  PRIMARY KEY,
    event_id     TEXT    NOT NULL UNIQUE,   -- the idempotency key
    ts_ms        BIGINT  NOT NULL,
    type         TEXT    NOT NULL,          -- e.g. seal.revoked
    target_type  TEXT    NOT NULL,          -- seal, application, sign_request
    target_id    TEXT    NOT NULL,
    org_id       BIGINT,                    -- whose it is (readers' scope)
    data         TEXT    NOT NULL           -- JSON object
);
CREATE INDEX events_org ON events(org_id, seq);

CREATE TABLE delivery_cursors (
    dest  TEXT    PRIMARY KEY,              -- [destination.NAME]
    seq   BIGINT  NOT NULL                  -- events up to here are queued
);

CREATE TABLE deliveries (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dest         TEXT    NOT NULL,
    seq          BIGINT  NOT NULL REFERENCES events(seq),
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'delivered',
                                                   'failed')),
    attempts     BIGINT  NOT NULL,
    next_ms      BIGINT  NOT NULL,          -- next attempt not before
    last_status  BIGINT  NOT NULL,          -- HTTP status (0: none)
    last_reply   TEXT    NOT NULL,          -- the destination's words
    updated_ms   BIGINT  NOT NULL,
    UNIQUE (dest, seq)
);
CREATE INDEX deliveries_state ON deliveries(state, dest, seq);

CREATE TABLE seal_expiry_notices (
    seal_id  BIGINT  NOT NULL REFERENCES seals(id),
    days     BIGINT  NOT NULL,
    PRIMARY KEY (seal_id, days)
);

INSERT INTO job_leases (job, holder, until_ms) VALUES ('deliveries', '', 0);
