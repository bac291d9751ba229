-- 004_signing.sql: signing requests (用印申请), their documents, and the
-- usage record of every signature made.

CREATE TABLE sign_requests (
    id            INTEGER PRIMARY KEY,
    seal_id       INTEGER NOT NULL REFERENCES seals(id),
    submitter_id  INTEGER NOT NULL REFERENCES accounts(id),
    deputy_id     INTEGER REFERENCES deputies(id),   -- submitted as deputy
    title         TEXT    NOT NULL,
    purpose       TEXT    NOT NULL,
    copies        INTEGER NOT NULL,
    resubmits_id  INTEGER REFERENCES sign_requests(id), -- 重签 of a rejected one
    extra_for_id  INTEGER REFERENCES sign_requests(id), -- 加印: more copies
    state         TEXT    NOT NULL CHECK (state IN ('submitted', 'approved',
                              'rejected', 'cancelled')),
    state_reason  TEXT,
    approver_id   INTEGER REFERENCES accounts(id),
    approved_ms   INTEGER,
    expires_ms    INTEGER,                          -- end of the grant
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);
CREATE INDEX sign_requests_seal ON sign_requests(seal_id, state);

-- A document named by a request; its hash is pinned from submission, and
-- the approval grants `copies` signatures of it.
CREATE TABLE sign_documents (
    id             INTEGER PRIMARY KEY,
    request_id     INTEGER NOT NULL REFERENCES sign_requests(id),
    name           TEXT    NOT NULL,
    size_bytes     INTEGER NOT NULL,
    sm3            BLOB    NOT NULL,
    data           BLOB,                   -- NULL when only the hash was given
    signatures     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sign_documents_request ON sign_documents(request_id);

-- The usage record of each signature: who, when, from where, which seal,
-- which document hash, which request and approval.
CREATE TABLE signatures (
    id           INTEGER PRIMARY KEY,
    request_id   INTEGER NOT NULL REFERENCES sign_requests(id),
    document_id  INTEGER NOT NULL REFERENCES sign_documents(id),
    seal_id      INTEGER NOT NULL REFERENCES seals(id),
    org_id       INTEGER NOT NULL REFERENCES organisations(id),
    signer_id    INTEGER NOT NULL REFERENCES accounts(id),
    approver_id  INTEGER NOT NULL REFERENCES accounts(id),
    client_addr  TEXT    NOT NULL,
    request_rid  TEXT,
    data_sm3     BLOB    NOT NULL,
    ts_ms        INTEGER NOT NULL,
    signature    BLOB    NOT NULL
);
CREATE INDEX signatures_seal ON signatures(seal_id, ts_ms);
CREATE INDEX signatures_org ON signatures(org_id, ts_ms);
