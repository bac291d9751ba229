-- 016_reads.sql: the reads an approval screen needs (issue 18, items 7-8).
--
-- Application materials carry a type, so that the materials a seal kind
-- requires (application.c, material_rules) can be checked; those stored
-- before this migration are 'other'.  A sealed OFD that seald returns is
-- kept (sealed_ofds) so that it can be downloaded again and sealed a
-- second time (a 骑缝章 and a 落款章 on one file) without being uploaded.
-- The sign_requests indexes serve GET /api/v1/sign-requests (keyset by
-- id, filtered by submitter or by state).

ALTER TABLE application_materials ADD COLUMN type TEXT NOT NULL
    DEFAULT 'other' CHECK (type IN ('business_licence', 'id_card',
                                    'authorisation_letter', 'other'));

-- One row per sealing of an OFD document of a signing request: the
-- package returned, the signature that sealed it, and the kept package it
-- was made from (NULL: the uploaded document itself).
CREATE TABLE sealed_ofds (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    BIGINT  NOT NULL REFERENCES sign_requests(id),
    document_id   BIGINT  NOT NULL REFERENCES sign_documents(id),
    signature_id  BIGINT  NOT NULL REFERENCES signatures(id),
    base_id       BIGINT  REFERENCES sealed_ofds(id),
    size_bytes    BIGINT  NOT NULL,
    sm3           BYTEA   NOT NULL,
    data          BYTEA   NOT NULL,
    created_ms    BIGINT  NOT NULL
);
CREATE INDEX sealed_ofds_document ON sealed_ofds(document_id);
CREATE INDEX signatures_by_document ON signatures(document_id);
CREATE INDEX sign_requests_submitter ON sign_requests(submitter_id, id);
CREATE INDEX sign_requests_state ON sign_requests(state, id);
