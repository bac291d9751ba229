-- 014_identity.sql: persons who log in through the identity platform
-- (统一身份认证), and portals acting for them (issue 18, items 1-2).
--
-- identity_bindings maps an identity, as an issuer's token names it (the
-- issuer's iss, the claim the issuer's section names, that claim's value),
-- to a seald account.  Nothing else does: never a display name.  A
-- binding is ended (removed_ms), never deleted; at most one binding in
-- force per identity.
--
-- audit_log.via_account_id: the portal a person acted through (NULL for
-- every other entry, and for every entry older than this migration).  An
-- entry with a via is hashed with encoding version 2 (audit.h), one
-- without with version 1 as before, so old chains verify unchanged.

CREATE TABLE identity_bindings (
    id          INTEGER PRIMARY KEY,
    issuer      TEXT    NOT NULL,
    claim       TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    created_ms  INTEGER NOT NULL,
    created_by  INTEGER REFERENCES accounts(id),
    removed_ms  INTEGER,
    removed_by  INTEGER REFERENCES accounts(id)
);
CREATE UNIQUE INDEX identity_bindings_identity
    ON identity_bindings(issuer, claim, subject) WHERE removed_ms IS NULL;
CREATE INDEX identity_bindings_account ON identity_bindings(account_id);

ALTER TABLE audit_log ADD COLUMN via_account_id INTEGER;
