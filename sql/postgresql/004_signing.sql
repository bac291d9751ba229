-- 004_signing.sql: signing requests (用印申请), their documents, and the
-- usage record of every signature made.

CREATE TABLE sign_requests (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seal_id       BIGINT  NOT NULL REFERENCES seals(id),
    submitter_id  BIGINT  NOT NULL REFERENCES accounts(id),
    deputy_id     BIGINT  REFERENCES deputies(id),   -- submitted as deputy
    title         TEXT    NOT NULL,
    purpose       TEXT    NOT NULL,
    copies        BIGINT  NOT NULL,
    resubmits_id  BIGINT  REFERENCES sign_requests(id), -- 重签 of a rejected one
    extra_for_id  BIGINT  REFERENCES sign_requests(id), -- 加印: more copies
    state         TEXT    NOT NULL CHECK (state IN ('submitted', 'approved',
                              'rejected', 'cancelled')),
    state_reason  TEXT,
    approver_id   BIGINT  REFERENCES accounts(id),
    approved_ms   BIGINT,
    expires_ms    BIGINT,                           -- end of the grant
    created_ms    BIGINT  NOT NULL,
    updated_ms    BIGINT  NOT NULL
);
CREATE INDEX sign_requests_seal ON sign_requests(seal_id, state);

-- A document named by a request; its hash is pinned from submission, and
-- the approval grants `copies` signatures of it.
CREATE TABLE sign_documents (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id     BIGINT  NOT NULL REFERENCES sign_requests(id),
    name           TEXT    NOT NULL,
    size_bytes     BIGINT  NOT NULL,
    sm3            BYTEA   NOT NULL,
    data           BYTEA,                  -- NULL when only the hash was given
    signatures     BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX sign_documents_request ON sign_documents(request_id);

-- The usage record of each signature: who, when, from where, which seal,
-- which document hash, which request and approval.
CREATE TABLE signatures (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id   BIGINT  NOT NULL REFERENCES sign_requests(id),
    document_id  BIGINT  NOT NULL REFERENCES sign_documents(id),
    seal_id      BIGINT  NOT NULL REFERENCES seals(id),
    org_id       BIGINT  NOT NULL REFERENCES organisations(id),
    signer_id    BIGINT  NOT NULL REFERENCES accounts(id),
    approver_id  BIGINT  NOT NULL REFERENCES accounts(id),
    client_addr  TEXT    NOT NULL,
    request_rid  TEXT,
    data_sm3     BYTEA   NOT NULL,
    ts_ms        BIGINT  NOT NULL,
    signature    BYTEA   NOT NULL
);
CREATE INDEX signatures_seal ON signatures(seal_id, ts_ms);
CREATE INDEX signatures_org ON signatures(org_id, ts_ms);
