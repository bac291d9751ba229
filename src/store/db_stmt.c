/*
 * db_stmt.c - the statement table: the SQL text of every statement the
 * store runs, by id (db_stmt.h), written once for every dialect.
 *
 * The text is portable SQL: parameters are $1, $2, ...; a NULL test on a
 * parameter casts it (CAST($3 AS TEXT) IS NULL) so no database is left
 * with an untyped parameter; new ids come back by RETURNING id, not by a
 * dialect's last-insert function; a set of ids bound by db_bind_id_set is
 * written {ids $N}, which the dialect turns into its own set expression
 * (db_sqlite.c: json_each).  Anything a dialect cannot take as written is
 * a bug in this table, not an exception in the dialect.
 */
#include <stddef.h>

#include "db_stmt.h"

/* The organisations in the subtrees of the ids bound as the set $1, walked
 * down with the depth bound of store_org_in_subtree (a corrupt cycle stays
 * finite): the common table "scope(id, depth)" that a reader-scoped list
 * filters on before its LIMIT.  Follows WITH RECURSIVE. */
#define SCOPE_CTE(set) \
    "scope(id, depth) AS (" \
    "  SELECT id, 0 FROM organisations WHERE id IN {ids " set "} " \
    "  UNION ALL " \
    "  SELECT o.id, scope.depth + 1 FROM organisations o " \
    "  JOIN scope ON o.parent_id = scope.id WHERE scope.depth < 64) "

/* store_sign.c: the columns of a signing request and of a signature. */
#define SREQ_COLS "id, seal_id, submitter_id, coalesce(deputy_id, 0), " \
    "title, purpose, copies, coalesce(resubmits_id, 0), " \
    "coalesce(extra_for_id, 0), state, coalesce(state_reason, ''), " \
    "coalesce(approver_id, 0), coalesce(approved_ms, 0), " \
    "coalesce(expires_ms, 0), created_ms, updated_ms, " \
    "coalesce(document_type, '')"

#define SIG_COLS "id, request_id, document_id, seal_id, org_id, signer_id, " \
    "approver_id, client_addr, coalesce(request_rid, ''), data_sm3, ts_ms, " \
    "token_checked, token_suspect"

/* store_event.c: the columns of an event (plain, and as e.), and of a
 * delivery (as d.), in the order event_row and delivery_row read them. */
#define EVENT_COLS "seq, event_id, ts_ms, type, target_type, target_id, " \
    "coalesce(org_id, 0), data"
#define EVENT_COLS_E "e.seq, e.event_id, e.ts_ms, e.type, e.target_type, " \
    "e.target_id, coalesce(e.org_id, 0), e.data"
#define DELIVERY_COLS "d.id, d.dest, d.state, d.attempts, d.next_ms, " \
    "d.last_status, d.last_reply, d.updated_ms"

/* store_seal.c: the columns of an application (app_row) and of a seal
 * (seal_row), in the order those read them. */
#define APP_COLS "id, org_id, applicant_id, purpose, " \
    "coalesce(replaces_seal_id, 0), kind, coalesce(subkind, ''), " \
    "coalesce(business, ''), coalesce(position, ''), seal_name, " \
    "custodian_id, image_type, image_sm3, image_width_px, image_height_px, " \
    "width_mm, height_mm, coalesce(reason, ''), state, " \
    "coalesce(state_reason, ''), coalesce(reviewer_id, 0), revision, " \
    "created_ms, updated_ms, coalesce(holder_key, '')"

/* The seals of the status list: neither active nor made, and not expired
 * before $1 (ms; a seal without a validity end stays). */
#define STATUS_LIST_TERMS \
    "state <> 'active' AND state <> 'made' AND " \
    "(valid_end_ms IS NULL OR valid_end_ms >= $1)"
#define SEAL_COLS "id, esid, lineage_esid, application_id, org_id, kind, " \
    "name, custodian_id, state, state_since_ms, coalesce(reason_code, ''), " \
    "version, coalesce(holder_key, ''), coalesce(valid_start_ms, 0), " \
    "coalesce(valid_end_ms, 0), coalesce(predecessor_id, 0), " \
    "coalesce(made_by, 0), coalesce(made_ms, 0), coalesce(confirmed_ms, 0), " \
    "filing_state, coalesce(filed_ms, 0), coalesce(last_used_ms, 0), " \
    "coalesce(hold, ''), coalesce(state_before_loss, ''), " \
    "coalesce(change_required_ms, 0)"

/* the columns org_row and account_row (store.c) read, in order */
#define ORG_COLS "id, parent_id, name, kind, credit_code, disabled, created_ms"

#define ACCOUNT_COLS "id, name, kind, display_name, org_id, " \
    "coalesce(cert_subject, ''), coalesce(cert_issuer, ''), disabled, " \
    "created_ms, coalesce(held_by, 0), coalesce(held_ms, 0)"

#define DEPUTY_COLS "id, custodian_id, deputy_id, scope_org_id, start_ms, " \
    "end_ms, reason, state, created_ms, approved_by, approved_ms"

#define AUDIT_COLS "seq, ts_ms, account_id, role, client_addr, request_id, " \
    "action, target_type, target_id, outcome, reason, details, hash, " \
    "via_account_id"

#define CP_COLS "id, seq, head_hash, ts_ms, key_ref, public_key, signature"

/* store_copy.c: every column of each table, in the schema's order (the
 * copy's READ and WRITE of that table name the same list). */
#define COPY_ORG_COLS \
    "id, parent_id, name, kind, credit_code, disabled, created_ms"

#define COPY_ACCOUNT_COLS \
    "id, name, kind, display_name, org_id, cert_subject, cert_issuer, " \
    "disabled, created_ms, created_by, held_by, held_ms"

#define COPY_ROLE_COLS \
    "id, account_id, role, scope_org_id, granted_ms, granted_by, " \
    "removed_ms, removed_by"

#define COPY_DEPUTY_COLS \
    "id, custodian_id, deputy_id, scope_org_id, start_ms, end_ms, reason, " \
    "state, created_ms, approved_by, approved_ms"

#define COPY_AUTHFAIL_COLS \
    "kind, subject, failures, window_ms, locked_until"

#define COPY_CREDENTIAL_COLS \
    "id, account_id, key_id, mac, initial, created_ms, expires_ms, " \
    "revoked_ms"

#define COPY_AUDIT_COLS \
    "seq, ts_ms, account_id, role, client_addr, request_id, action, " \
    "target_type, target_id, outcome, reason, details, hash, via_account_id"

#define COPY_IDENTITY_COLS \
    "id, issuer, claim, subject, account_id, created_ms, created_by, " \
    "removed_ms, removed_by"

#define COPY_CHECKPOINT_COLS \
    "id, seq, head_hash, ts_ms, key_ref, public_key, signature"

#define COPY_HEAD_COLS \
    "id, seq, hash"

#define COPY_SEAL_COLS \
    "id, esid, lineage_esid, application_id, org_id, kind, name, " \
    "custodian_id, state, state_since_ms, reason_code, version, seal_der, " \
    "cert_der, holder_key, valid_start_ms, valid_end_ms, predecessor_id, " \
    "made_by, made_ms, confirmed_ms, filing_state, filed_ms, last_used_ms, " \
    "hold, state_before_loss, change_required_ms, seal_sm3"

#define COPY_APP_COLS \
    "id, org_id, applicant_id, purpose, replaces_seal_id, kind, subkind, " \
    "business, position, seal_name, custodian_id, image, image_type, " \
    "image_sm3, image_width_px, image_height_px, width_mm, height_mm, " \
    "reason, state, state_reason, reviewer_id, holder_key, revision, " \
    "created_ms, updated_ms, impression_code, impression_outcome, " \
    "impression_filed_sm3, impression_compared_sm3, impression_checked_by, " \
    "impression_checked_ms"

#define COPY_MATERIAL_COLS \
    "id, application_id, revision, name, media_type, size_bytes, sm3, data, " \
    "created_ms, type"

#define COPY_HISTORY_COLS \
    "id, subject_type, subject_id, from_state, to_state, actor_id, ts_ms, " \
    "reason"

#define COPY_AUTHORITY_COLS \
    "role, key_ref, cert_der, created_ms"

#define COPY_ESID_COLS \
    "region, next"

#define COPY_EVHEAD_COLS "id, seq"
#define COPY_EVENT_COLS \
    "seq, event_id, ts_ms, type, target_type, target_id, org_id, data"
#define COPY_DCURSOR_COLS "dest, seq"
#define COPY_DELIVERY_COLS \
    "id, dest, seq, state, attempts, next_ms, last_status, last_reply, " \
    "updated_ms"
#define COPY_NOTICE_COLS "seal_id, days"

#define COPY_SREQ_COLS \
    "id, seal_id, submitter_id, deputy_id, title, purpose, copies, " \
    "resubmits_id, extra_for_id, state, state_reason, approver_id, " \
    "approved_ms, expires_ms, created_ms, updated_ms, document_type"

#define COPY_DATA_KEY_COLS \
    "id, key_ref, wrapped, state, created_ms, retired_ms, plaintext_refused"

#define COPY_SDOC_COLS \
    "id, request_id, name, size_bytes, sm3, data, signatures"

#define COPY_SEALED_COLS \
    "id, request_id, document_id, signature_id, base_id, size_bytes, sm3, " \
    "data, created_ms"

#define COPY_SIG_COLS \
    "id, request_id, document_id, seal_id, org_id, signer_id, approver_id, " \
    "client_addr, request_rid, data_sm3, ts_ms, signature, token_checked, " \
    "token_suspect"

#define COPY_REPORT_COLS \
    "id, org_id, month, from_ms, to_ms, created_ms, body_json, body_csv"

/* store_stats.c: each organisation with its region, the nearest
 * organisation of kind 'region' from it up (itself if it is one; a root
 * is always a region, account.c), walked down from the roots with the
 * depth bound of SCOPE_CTE: the common table "reg(id, region_id, depth)".
 * Follows WITH RECURSIVE ... , */
#define REGION_CTE \
    "reg(id, region_id, depth) AS (" \
    "  SELECT id, id, 0 FROM organisations WHERE parent_id IS NULL " \
    "  UNION ALL " \
    "  SELECT o.id, CASE WHEN o.kind = 'region' THEN o.id " \
    "  ELSE reg.region_id END, reg.depth + 1 FROM organisations o " \
    "  JOIN reg ON o.parent_id = reg.id WHERE reg.depth < 64) "

static const char *const stmt_text[DB_STMT__COUNT] = {
    /* store.c */
    [DB_SCHEMA_CREATE] =
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_ms BIGINT NOT NULL)",
    [DB_SCHEMA_VERSION] =
        "SELECT coalesce(max(version), 0) FROM schema_version",
    [DB_SCHEMA_INSERT] =
        "INSERT INTO schema_version (version, name, applied_ms) "
        "VALUES ($1, $2, $3)",
    [DB_PING] = "SELECT count(*) FROM schema_version",
    /* store.c: organisations, accounts, roles */
    [DB_ORG_INSERT] =
        "INSERT INTO organisations (parent_id, name, kind, credit_code, "
        "created_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    [DB_ORG_GET] =
        "SELECT " ORG_COLS " FROM organisations WHERE id = $1",
    /* the reader's subtrees: SCOPE_CTE */
    [DB_ORG_LIST] =
        "WITH RECURSIVE " SCOPE_CTE("$1")
        "SELECT " ORG_COLS " FROM organisations WHERE id > $2 AND "
        "id IN (SELECT id FROM scope) AND "
        "(CAST($3 AS BIGINT) = -1 OR coalesce(parent_id, 0) = $3) "
        "ORDER BY id LIMIT $4",
    [DB_ORG_UPDATE] =
        "UPDATE organisations SET name = coalesce($1, name), "
        "credit_code = coalesce($2, credit_code) WHERE id = $3",
    /* Walk down from id; the depth bound keeps a corrupt cycle finite. */
    [DB_ORG_SET_DISABLED] =
        "WITH RECURSIVE down(id, depth) AS ("
        "  SELECT id, 0 FROM organisations WHERE id = $1 "
        "  UNION ALL "
        "  SELECT o.id, down.depth + 1 FROM organisations o "
        "  JOIN down ON o.parent_id = down.id WHERE down.depth < 64) "
        "UPDATE organisations SET disabled = 1 "
        "WHERE disabled = 0 AND id IN (SELECT id FROM down)",
    [DB_ORG_DISABLED_WITHIN] =
        "WITH RECURSIVE up(id, depth) AS ("
        "  SELECT id, 0 FROM organisations WHERE id = $1 "
        "  UNION ALL "
        "  SELECT o.parent_id, up.depth + 1 FROM organisations o "
        "  JOIN up ON o.id = up.id "
        "  WHERE o.parent_id IS NOT NULL AND up.depth < 64) "
        "SELECT count(*) FROM up JOIN organisations o ON o.id = up.id "
        "WHERE o.disabled <> 0",
    /* Walk up from org; the depth bound keeps a corrupt cycle finite. */
    [DB_ORG_IN_SUBTREE] =
        "WITH RECURSIVE up(id, depth) AS ("
        "  SELECT id, 0 FROM organisations WHERE id = $1 "
        "  UNION ALL "
        "  SELECT o.parent_id, up.depth + 1 FROM organisations o "
        "  JOIN up ON o.id = up.id "
        "  WHERE o.parent_id IS NOT NULL AND up.depth < 64) "
        "SELECT count(*) FROM up WHERE id = $2",
    [DB_ACCOUNT_INSERT] =
        "INSERT INTO accounts (name, kind, display_name, org_id, "
        "cert_subject, cert_issuer, created_by, created_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    [DB_ACCOUNT_GET] =
        "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = $1",
    [DB_ACCOUNT_BY_CERT] =
        "SELECT " ACCOUNT_COLS " FROM accounts WHERE kind = 'system' AND "
        "cert_subject = $1 AND cert_issuer = $2",
    /* the reader's subtrees: SCOPE_CTE */
    [DB_ACCOUNT_LIST] =
        "WITH RECURSIVE " SCOPE_CTE("$1")
        "SELECT " ACCOUNT_COLS " FROM accounts WHERE id > $2 AND "
        "org_id IN (SELECT id FROM scope) AND "
        "(CAST($3 AS BIGINT) = 0 OR org_id = $3) "
        "ORDER BY id LIMIT $4",
    [DB_ACCOUNT_SET_DISABLED] =
        "UPDATE accounts SET disabled = 1 WHERE id = $1",
    [DB_ACCOUNT_SET_HELD] =
        "UPDATE accounts SET held_by = nullif(CAST($1 AS BIGINT), 0), "
        "held_ms = CASE WHEN CAST($2 AS BIGINT) = 0 THEN NULL "
        "ELSE CAST($3 AS BIGINT) END WHERE id = $4",
    [DB_ROLE_INSERT] =
        "INSERT INTO role_assignments (account_id, role, scope_org_id, "
        "granted_by, granted_ms) SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS ("
        "SELECT 1 FROM role_assignments WHERE account_id = $6 AND role = $7 "
        "AND scope_org_id = $8 AND removed_ms IS NULL)",
    [DB_ROLE_REMOVE] =
        "UPDATE role_assignments SET removed_ms = $1, removed_by = $2 "
        "WHERE account_id = $3 AND role = $4 AND scope_org_id = $5 "
        "AND removed_ms IS NULL",
    [DB_ACCOUNT_ROLES] =
        "SELECT role, scope_org_id, 0 FROM role_assignments "
        "WHERE account_id = $1 AND removed_ms IS NULL "
        "UNION ALL "
        "SELECT 'custodian', scope_org_id, id FROM deputies "
        "WHERE deputy_id = $1 AND state = 'approved' AND start_ms <= $2 "
        "AND end_ms > $2 "
        "ORDER BY 1, 2, 3",
    [DB_ACCOUNT_ROLES_AHEAD] =
        "SELECT role, scope_org_id, 0 FROM role_assignments "
        "WHERE account_id = $1 AND removed_ms IS NULL "
        "UNION ALL "
        "SELECT 'custodian', scope_org_id, id FROM deputies "
        "WHERE deputy_id = $1 AND state IN ('requested', 'approved') "
        "AND end_ms > $2 "
        "ORDER BY 1, 2, 3",
    [DB_ROLE_COUNT_IN_FORCE] =
        "SELECT count(DISTINCT r.account_id) FROM role_assignments r "
        "JOIN accounts a ON a.id = r.account_id "
        "WHERE r.role = $1 AND r.removed_ms IS NULL AND a.disabled = 0 "
        "AND a.held_by IS NULL AND a.id <> $2",
    [DB_ROLE_COUNT] =
        "SELECT count(DISTINCT r.account_id) FROM role_assignments r "
        "JOIN accounts a ON a.id = r.account_id "
        "WHERE r.role = $1 AND r.removed_ms IS NULL AND a.disabled = 0",

    /* store.c: deputies, authentication failures, credentials */
    [DB_DEPUTY_INSERT] =
        "INSERT INTO deputies (custodian_id, deputy_id, scope_org_id, "
        "start_ms, end_ms, reason, state, created_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, 'requested', $7) RETURNING id",
    [DB_DEPUTY_GET] =
        "SELECT " DEPUTY_COLS " FROM deputies WHERE id = $1",
    [DB_DEPUTY_TRANSITION] =
        "UPDATE deputies SET state = $1, approved_by = $2, approved_ms = $3 "
        "WHERE id = $4 AND state = $5",
    /* the reader's subtrees: SCOPE_CTE */
    [DB_DEPUTY_LIST] =
        "WITH RECURSIVE " SCOPE_CTE("$1")
        "SELECT " DEPUTY_COLS " FROM deputies WHERE id > $2 AND "
        "(custodian_id = $3 OR deputy_id = $3 OR "
        " scope_org_id IN (SELECT id FROM scope)) ORDER BY id LIMIT $4",
    /* INSERT ... ON CONFLICT DO UPDATE is shared by SQLite (3.24+) and
     * PostgreSQL.  A failure outside the window starts a new window.  The
     * stored row's columns are qualified by the table: PostgreSQL refuses
     * a bare one as ambiguous with the excluded row's (SQLite reads both
     * forms as the stored row). */
    [DB_AUTHFAIL_UPSERT] =
        "INSERT INTO auth_failures (kind, subject, failures, window_ms) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (kind, subject) DO UPDATE SET "
        "failures = CASE WHEN auth_failures.window_ms < $5 "
        "THEN excluded.failures "
        "ELSE auth_failures.failures + excluded.failures END, "
        "window_ms = CASE WHEN auth_failures.window_ms < $6 THEN $7 "
        "ELSE auth_failures.window_ms END",
    [DB_AUTHFAIL_LOCK] =
        "UPDATE auth_failures SET locked_until = $1, failures = 0 "
        "WHERE kind = $2 AND subject = $3 AND failures >= $4",
    [DB_AUTHFAIL_GET] =
        "SELECT CASE WHEN window_ms < $1 THEN 0 ELSE failures END, "
        "locked_until FROM auth_failures WHERE kind = $2 AND subject = $3",
    [DB_AUTHFAIL_LOCKED_UNTIL] =
        "SELECT locked_until FROM auth_failures WHERE kind = $1 AND "
        "subject = $2",
    [DB_AUTHFAIL_CLEAR] =
        "DELETE FROM auth_failures WHERE kind = $1 AND subject = $2 AND "
        "locked_until = 0",
    [DB_CREDENTIAL_INSERT] =
        "INSERT INTO credentials (account_id, key_id, mac, initial, "
        "created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    [DB_CREDENTIAL_REVOKE] =
        "UPDATE credentials SET revoked_ms = $1 "
        "WHERE id = $2 AND revoked_ms IS NULL",
    [DB_CREDENTIAL_REVOKE_ALL] =
        "UPDATE credentials SET revoked_ms = $1 "
        "WHERE account_id = $2 AND revoked_ms IS NULL",
    /* store_identity.c: one binding in force per identity (the partial
     * unique index of migration 014 refuses a second) */
    [DB_IDENTITY_INSERT] =
        "INSERT INTO identity_bindings (issuer, claim, subject, account_id, "
        "created_ms, created_by) VALUES ($1, $2, $3, $4, $5, $6) "
        "RETURNING id",
    [DB_IDENTITY_LOOKUP] =
        "SELECT id, account_id FROM identity_bindings WHERE issuer = $1 "
        "AND claim = $2 AND subject = $3 AND removed_ms IS NULL",
    [DB_IDENTITY_LIST] =
        "SELECT id, issuer, claim, subject, account_id, created_ms, "
        "coalesce(created_by, 0) FROM identity_bindings "
        "WHERE account_id = $1 AND removed_ms IS NULL ORDER BY id",
    [DB_IDENTITY_REMOVE] =
        "UPDATE identity_bindings SET removed_ms = $1, removed_by = $2 "
        "WHERE id = $3 AND account_id = $4 AND removed_ms IS NULL",
    [DB_CREDENTIAL_BY_KEY_ID] =
        "SELECT id, account_id, mac, initial, created_ms, expires_ms, "
        "coalesce(revoked_ms, 0) FROM credentials WHERE key_id = $1",

    /* store_seal.c */
    [DB_APP_INSERT] =
        "INSERT INTO applications (org_id, applicant_id, purpose, "
        "replaces_seal_id, kind, subkind, business, position, seal_name, "
        "custodian_id, image, image_type, image_sm3, image_width_px, "
        "image_height_px, width_mm, height_mm, reason, state, revision, "
        "created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
        "$9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, "
        "$22) RETURNING id",
    [DB_APP_REPLACE] =
        "UPDATE applications SET kind = $1, subkind = $2, business = $3, "
        "position = $4, seal_name = $5, custodian_id = $6, image = $7, "
        "image_type = $8, image_sm3 = $9, image_width_px = $10, "
        "image_height_px = $11, width_mm = $12, height_mm = $13, "
        "reason = $14, revision = revision + 1, updated_ms = $15 "
        "WHERE id = $16",
    [DB_APP_GET] =
        "SELECT " APP_COLS " FROM applications WHERE id = $1",
    [DB_APP_IMAGE] = "SELECT image FROM applications WHERE id = $1",
    [DB_APP_TRANSITION] =
        "UPDATE applications SET state = $1, state_reason = $2, "
        "reviewer_id = coalesce($3, reviewer_id), updated_ms = $4 "
        "WHERE id = $5 AND state = $6",
    /* the reader's subtrees: SCOPE_CTE */
    [DB_APP_LIST] =
        "WITH RECURSIVE " SCOPE_CTE("$1")
        "SELECT " APP_COLS " FROM applications WHERE id > $2 AND "
        "(applicant_id = $3 OR org_id IN (SELECT id FROM scope)) AND "
        "(CAST($4 AS BIGINT) = 0 OR org_id = $4) AND "
        "(CAST($5 AS TEXT) IS NULL OR state = $5) "
        "ORDER BY id LIMIT $6",
    [DB_MATERIAL_INSERT] =
        "INSERT INTO application_materials (application_id, revision, name, "
        "media_type, size_bytes, sm3, data, created_ms, type) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    [DB_MATERIAL_LIST] =
        "SELECT id, revision, name, media_type, size_bytes, sm3, type, "
        "application_id FROM application_materials WHERE application_id = $1 "
        "ORDER BY id",
    /* one material with its bytes (the column list of DB_MATERIAL_LIST,
     * then data) */
    [DB_MATERIAL_GET] =
        "SELECT id, revision, name, media_type, size_bytes, sm3, type, "
        "application_id, data FROM application_materials WHERE id = $1",
    [DB_HISTORY_INSERT] =
        "INSERT INTO history (subject_type, subject_id, from_state, "
        "to_state, actor_id, ts_ms, reason) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [DB_HISTORY_LIST] =
        "SELECT id, coalesce(from_state, ''), to_state, "
        "coalesce(actor_id, 0), ts_ms, coalesce(reason, '') FROM history "
        "WHERE subject_type = $1 AND subject_id = $2 ORDER BY id",
    [DB_AUTHORITY_PUT] =
        "INSERT INTO authority (role, key_ref, cert_der, created_ms) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (role) DO UPDATE SET "
        "key_ref = excluded.key_ref, cert_der = excluded.cert_der, "
        "created_ms = excluded.created_ms",
    [DB_AUTHORITY_GET] =
        "SELECT key_ref, cert_der FROM authority WHERE role = $1",
    [DB_SEAL_INSERT] =
        "INSERT INTO seals (esid, lineage_esid, application_id, org_id, "
        "kind, name, custodian_id, state, state_since_ms, version, "
        "seal_der, cert_der, holder_key, valid_start_ms, valid_end_ms, "
        "predecessor_id, made_by, made_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
        "$14, $15, $16, $17, $18) RETURNING id",
    [DB_SEAL_GET] = "SELECT " SEAL_COLS " FROM seals WHERE esid = $1",
    [DB_SEAL_GET_ID] = "SELECT " SEAL_COLS " FROM seals WHERE id = $1",
    [DB_SEAL_BLOB] =
        "SELECT CASE WHEN CAST($1 AS TEXT) = 'cert' THEN cert_der "
        "ELSE seal_der END FROM seals WHERE id = $2",
    [DB_SEAL_TRANSITION] =
        "UPDATE seals SET state = $1, state_since_ms = $2, "
        "reason_code = $3, hold = $4, state_before_loss = $5 "
        "WHERE id = $6 AND state = $7",
    [DB_SEAL_FLAG_CHANGE] =
        "UPDATE seals SET change_required_ms = $1 "
        "WHERE id = $2 AND change_required_ms IS NULL",
    [DB_SEAL_CONFIRMED] =
        "UPDATE seals SET confirmed_ms = $1 WHERE id = $2",
    [DB_SEAL_FILED] =
        "UPDATE seals SET filing_state = 'filed', filed_ms = $1 "
        "WHERE id = $2 AND filing_state = 'pending'",
    /* the reader's subtrees: SCOPE_CTE, applied before the LIMIT */
    [DB_SEAL_LIST] =
        "WITH RECURSIVE " SCOPE_CTE("$1")
        "SELECT " SEAL_COLS " FROM seals WHERE id > $2 AND "
        "(custodian_id = $3 OR org_id IN (SELECT id FROM scope)) AND "
        "(CAST($4 AS BIGINT) = 0 OR org_id = $4) AND "
        "(CAST($5 AS TEXT) IS NULL OR kind = $5) AND "
        "(CAST($6 AS TEXT) IS NULL OR state = $6) AND "
        "(CAST($7 AS BIGINT) = 0 OR valid_end_ms < $7) "
        "ORDER BY id LIMIT $8",
    /* the status list (migration 011): its terms are those of the
     * partial index seals_status_list, so that count, offset and page are
     * read from that index alone, in esID byte order ($1: the cut-off of
     * validity ends, ms) */
    [DB_STATUS_LIST_COUNT] =
        "SELECT count(*) FROM seals WHERE " STATUS_LIST_TERMS,
    [DB_STATUS_LIST_NTH] =
        "SELECT esid FROM seals WHERE " STATUS_LIST_TERMS
        " ORDER BY esid LIMIT 1 OFFSET $2",
    [DB_STATUS_LIST_PAGE] =
        "SELECT esid, state, state_since_ms, reason_code, valid_end_ms "
        "FROM seals WHERE " STATUS_LIST_TERMS " AND esid > $2 "
        "ORDER BY esid LIMIT $3",
    /* the status statements (migration 010): a seal with the SM3 of its
     * file, found by esID or by that SM3 */
    /* the metrics' seals by state (cached by the caller: api_metrics.c) */
    [DB_SEAL_COUNT_BY_STATE] =
        "SELECT state, count(*) FROM seals GROUP BY state",
    [DB_SEAL_STATUS_BY_ESID] =
        "SELECT " SEAL_COLS ", coalesce(seal_sm3, '') FROM seals "
        "WHERE esid = $1",
    [DB_SEAL_STATUS_BY_SM3] =
        "SELECT " SEAL_COLS ", coalesce(seal_sm3, '') FROM seals "
        "WHERE seal_sm3 = $1",
    [DB_SEAL_SET_SM3] =
        "UPDATE seals SET seal_sm3 = $2 WHERE id = $1",
    [DB_SEAL_LIST_NO_SM3] =
        "SELECT id, seal_der FROM seals WHERE seal_sm3 IS NULL AND "
        "seal_der IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
    /* down from $1; the depth bound keeps a corrupt cycle finite */
    [DB_SEAL_LIST_ACTIVE_SUBTREE] =
        "WITH RECURSIVE down(id, depth) AS ("
        "  SELECT id, 0 FROM organisations WHERE id = $1 "
        "  UNION ALL "
        "  SELECT o.id, down.depth + 1 FROM organisations o "
        "  JOIN down ON o.parent_id = down.id WHERE down.depth < 64) "
        "SELECT " SEAL_COLS " FROM seals WHERE state = 'active' AND "
        "org_id IN (SELECT id FROM down) ORDER BY id",
    [DB_SEAL_LIST_LEGAL_NAME] =
        "SELECT " SEAL_COLS " FROM seals WHERE org_id = $1 AND "
        "kind = 'official' AND state NOT IN ('revoked', 'expired') AND "
        "application_id IN (SELECT id FROM applications WHERE "
        "subkind = 'legal_name') ORDER BY id",
    [DB_SEAL_LIST_STALE] =
        "SELECT " SEAL_COLS " FROM seals WHERE state = 'active' AND "
        "(coalesce(last_used_ms, confirmed_ms, made_ms) < $1 OR "
        "valid_end_ms < $2) ORDER BY id",
    /* the counter qualified by its table: a bare "next" in the SET of an
     * upsert could be the excluded row's as well */
    [DB_ESID_BUMP] =
        "INSERT INTO esid_counters (region, next) VALUES ($1, 2) "
        "ON CONFLICT (region) DO UPDATE SET next = esid_counters.next + 1",
    [DB_ESID_GET] =
        "SELECT next - 1 FROM esid_counters WHERE region = $1",
    [DB_APP_SET_HOLDER_KEY] =
        "UPDATE applications SET holder_key = $1 WHERE id = $2",
    [DB_APP_IMPRESSION_SET] =
        "UPDATE applications SET impression_code = $1, "
        "impression_outcome = $2, impression_filed_sm3 = $3, "
        "impression_compared_sm3 = $4, impression_checked_by = $5, "
        "impression_checked_ms = $6 WHERE id = $7",
    [DB_APP_IMPRESSION_GET] =
        "SELECT coalesce(impression_code, ''), "
        "coalesce(impression_outcome, ''), "
        "coalesce(impression_filed_sm3, ''), "
        "coalesce(impression_compared_sm3, ''), "
        "coalesce(impression_checked_by, 0), "
        "coalesce(impression_checked_ms, 0) FROM applications WHERE id = $1",
    [DB_APP_COPY] =
        "INSERT INTO applications (org_id, applicant_id, purpose, "
        "replaces_seal_id, kind, subkind, business, position, seal_name, "
        "custodian_id, image, image_type, image_sm3, image_width_px, "
        "image_height_px, width_mm, height_mm, reason, state, revision, "
        "created_ms, updated_ms) SELECT org_id, $1, $2, $3, kind, subkind, "
        "business, position, seal_name, custodian_id, image, image_type, "
        "image_sm3, image_width_px, image_height_px, width_mm, height_mm, "
        "$4, 'submitted', 1, $5, $6 FROM applications WHERE id = $7 "
        "RETURNING id",

    /* store_sign.c */
    [DB_SREQ_INSERT] =
        "INSERT INTO sign_requests (seal_id, submitter_id, deputy_id, title, "
        "purpose, copies, resubmits_id, extra_for_id, state, created_ms, "
        "updated_ms, document_type) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
        "'submitted', $9, $10, $11) RETURNING id",
    [DB_SREQ_GET] =
        "SELECT " SREQ_COLS " FROM sign_requests WHERE id = $1",
    /* GET /api/v1/sign-requests: what the reader may read (sign_may_read:
     * the submitter, the seal's custodian, an approver or auditor over the
     * seal's organisation: the set $1 is the scopes of both permissions),
     * filtered, before the LIMIT.  waiting_for=me ($9 non-zero): submitted
     * requests of a seal in the reader's approval scopes (the set $2) that
     * the reader neither submitted nor keeps (SOD-6, sod.c, which decides
     * again at the approval itself). */
    [DB_SREQ_LIST] =
        "WITH RECURSIVE " SCOPE_CTE("$1") ", "
        "ascope(id, depth) AS ("
        "  SELECT id, 0 FROM organisations WHERE id IN {ids $2} "
        "  UNION ALL "
        "  SELECT o.id, ascope.depth + 1 FROM organisations o "
        "  JOIN ascope ON o.parent_id = ascope.id WHERE ascope.depth < 64) "
        "SELECT " SREQ_COLS " FROM sign_requests WHERE id > $3 AND "
        "(submitter_id = $4 OR seal_id IN (SELECT s.id FROM seals s WHERE "
        " s.custodian_id = $4 OR s.org_id IN (SELECT id FROM scope))) AND "
        "(CAST($5 AS TEXT) IS NULL OR state = $5) AND "
        "(CAST($6 AS BIGINT) = 0 OR seal_id IN (SELECT s.id FROM seals s "
        " WHERE s.org_id = $6)) AND "
        "(CAST($7 AS TEXT) IS NULL OR seal_id IN (SELECT s.id FROM seals s "
        " WHERE s.esid = $7)) AND "
        "(CAST($8 AS BIGINT) = 0 OR submitter_id = $4) AND "
        "(CAST($9 AS BIGINT) = 0 OR (state = 'submitted' AND "
        " submitter_id <> $4 AND seal_id IN (SELECT s.id FROM seals s WHERE "
        " s.custodian_id <> $4 AND s.org_id IN (SELECT id FROM ascope)))) "
        "ORDER BY id LIMIT $10",
    /* a sealed OFD kept with the signature that sealed it, found by its
     * DER among the document's signatures: the one just inserted in this
     * transaction (so that in a batch nothing waits for its id) */
    [DB_SEALED_INSERT] =
        "INSERT INTO sealed_ofds (request_id, document_id, signature_id, "
        "base_id, size_bytes, sm3, data, created_ms) "
        "SELECT $1, $2, id, $3, $4, $5, $6, $7 FROM signatures "
        "WHERE request_id = $1 AND document_id = $2 AND signature = $8 "
        "RETURNING id",
    [DB_SEALED_GET] =
        "SELECT id, request_id, document_id, signature_id, "
        "coalesce(base_id, 0), size_bytes, sm3, created_ms, data "
        "FROM sealed_ofds WHERE id = $1",
    [DB_SREQ_TRANSITION] =
        "UPDATE sign_requests SET state = $1, state_reason = $2, "
        "approver_id = coalesce($3, approver_id), "
        "approved_ms = coalesce($4, approved_ms), "
        "expires_ms = coalesce($5, expires_ms), updated_ms = $6 "
        "WHERE id = $7 AND state = $8",
    [DB_SDOC_INSERT] =
        "INSERT INTO sign_documents (request_id, name, size_bytes, sm3, "
        "data) VALUES ($1, $2, $3, $4, $5)",
    [DB_SDOC_LIST] =
        "SELECT id, request_id, name, size_bytes, sm3, CASE WHEN data IS NULL THEN 0 ELSE 1 END, "
        "signatures FROM sign_documents WHERE request_id = $1 ORDER BY id",
    [DB_SDOC_GET] =
        "SELECT id, request_id, name, size_bytes, sm3, CASE WHEN data IS NULL THEN 0 ELSE 1 END, "
        "signatures, data FROM sign_documents WHERE id = $1",
    [DB_SDOC_SET_DATA] =
        "UPDATE sign_documents SET data = $1 WHERE id = $2 AND data IS NULL",
    /* the grant checked in the write that spends it: the request still
     * approved and unexpired, a copy of this document left */
    [DB_SDOC_TAKE] =
        "UPDATE sign_documents SET signatures = signatures + 1 "
        "WHERE id = $1 AND request_id = $2 AND signatures < ("
        "SELECT copies FROM sign_requests WHERE id = $2 AND "
        "state = 'approved' AND expires_ms > $3)",
    [DB_SREQ_SIGNED] =
        "SELECT count(*) FROM signatures WHERE request_id = $1",
    [DB_SIG_INSERT] =
        "INSERT INTO signatures (request_id, document_id, seal_id, org_id, "
        "signer_id, approver_id, client_addr, request_rid, data_sm3, ts_ms, "
        "signature, token_checked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
        "$9, $10, $11, $12) RETURNING id",
    [DB_SIG_MARK_SUSPECT] =
        "UPDATE signatures SET token_suspect = 1 WHERE seal_id = $1 AND "
        "token_checked = 0 AND token_suspect = 0 AND id > coalesce(("
        "SELECT max(id) FROM signatures WHERE seal_id = $1 AND "
        "token_checked = 1), 0)",
    [DB_SIG_FIND] =
        "SELECT " SIG_COLS " FROM signatures WHERE seal_id = $1 AND "
        "data_sm3 = $2 AND signature = $3 LIMIT 1",
    [DB_SIG_FIND_NEAR] =
        "SELECT " SIG_COLS " FROM signatures WHERE seal_id = $1 AND "
        "ts_ms >= $2 AND ts_ms <= $3 AND signature = $4 LIMIT 1",
    [DB_SIG_GET] =
        "SELECT " SIG_COLS ", signature FROM signatures WHERE id = $1",
    [DB_SIG_LIST] =
        "SELECT " SIG_COLS " FROM signatures WHERE id > $1 AND "
        "(CAST($2 AS BIGINT) = 0 OR seal_id = $3) AND "
        "(CAST($4 AS BIGINT) = 0 OR org_id = $5) AND "
        "ts_ms >= $6 AND ts_ms < $7 ORDER BY id LIMIT $8",
    [DB_USAGE_SUMMARY] =
        "SELECT s.id, s.esid, s.name, s.org_id, count(g.id), min(g.ts_ms), "
        "max(g.ts_ms) FROM signatures g JOIN seals s ON s.id = g.seal_id "
        "WHERE (CAST($1 AS BIGINT) = 0 OR g.seal_id = $2) AND "
        "(CAST($3 AS BIGINT) = 0 OR g.org_id = $4) AND "
        "g.ts_ms >= $5 AND g.ts_ms < $6 GROUP BY s.id, s.esid, s.name, "
        "s.org_id ORDER BY s.org_id, s.esid",
    /* conditional, and so a row lock against a concurrent change of the
     * seal's state (store_sign.h) */
    /* the seal checked in the write that records its use: active, within
     * its validity, no organisation from its own up disabled */
    [DB_SEAL_TOUCH] =
        "UPDATE seals SET last_used_ms = $1 WHERE id = $2 AND "
        "state = 'active' AND coalesce(valid_start_ms, 0) <= $1 AND "
        "coalesce(valid_end_ms, 0) > $1 AND NOT EXISTS ("
        "WITH RECURSIVE up(id, depth) AS ("
        "  SELECT org_id, 0 FROM seals WHERE id = $2 "
        "  UNION ALL "
        "  SELECT o.parent_id, up.depth + 1 FROM organisations o "
        "  JOIN up ON o.id = up.id "
        "  WHERE o.parent_id IS NOT NULL AND up.depth < 64) "
        "SELECT 1 FROM up JOIN organisations o ON o.id = up.id "
        "WHERE o.disabled <> 0)",

    /* store_stats.c.  Each is one grouped query over the reader's
     * subtrees (SCOPE_CTE, the set $1), bounded by a LIMIT the caller sets
     * one past what it accepts.  The state of a seal at a time ($2, ms) is
     * the newest move of its history at or before it (one pass over the
     * seals' history, numbered per seal: a correlated "newest move"
     * subquery per seal was evaluated per history row and took over 30 s
     * for 20000 seals); a seal without one (made after) is not counted. */
    [DB_STATS_SEALS] =
        "WITH RECURSIVE " SCOPE_CTE("$1") ", " REGION_CTE ", "
        "last(seal_id, state) AS ("
        "  SELECT subject_id, to_state FROM ("
        "    SELECT subject_id, to_state, row_number() OVER (PARTITION BY "
        "    subject_id ORDER BY ts_ms DESC, id DESC) AS rn FROM history "
        "    WHERE subject_type = 'seal' AND ts_ms <= $2) x WHERE rn = 1) "
        "SELECT reg.region_id, r.name, s.org_id, o.name, s.kind, last.state, "
        "count(*) FROM last "
        "JOIN seals s ON s.id = last.seal_id "
        "JOIN reg ON reg.id = s.org_id "
        "JOIN organisations o ON o.id = s.org_id "
        "JOIN organisations r ON r.id = reg.region_id "
        "WHERE s.org_id IN (SELECT id FROM scope) "
        "GROUP BY reg.region_id, r.name, s.org_id, o.name, s.kind, "
        "last.state ORDER BY 1, 3, 5, 6 LIMIT $3",
    /* Applications received (submitted, created_ms) and decided (the
     * history's move to approved or rejected) in [$2, $3), per
     * organisation, or as one row (key 0) when $4 = 1.  Turnaround: from
     * submission to the decision, ms; median and p90 by the nearest rank
     * (the value at rank ceil(p * n / 100) in ascending order: integer
     * arithmetic, which both dialects share), max the largest. */
    [DB_STATS_APPS] =
        "WITH RECURSIVE " SCOPE_CTE("$1") ", " REGION_CTE ", "
        "dec(k, t, approved) AS ("
        "  SELECT CASE WHEN CAST($4 AS BIGINT) = 1 THEN 0 ELSE a.org_id END, "
        "  h.ts_ms - a.created_ms, "
        "  CASE WHEN h.to_state = 'approved' THEN 1 ELSE 0 END "
        "  FROM history h JOIN applications a ON a.id = h.subject_id "
        "  WHERE h.subject_type = 'application' AND "
        "  h.to_state IN ('approved', 'rejected') AND h.ts_ms >= $2 AND "
        "  h.ts_ms < $3 AND a.org_id IN (SELECT id FROM scope)), "
        "ranked(k, t, approved, rn, n) AS ("
        "  SELECT k, t, approved, row_number() OVER (PARTITION BY k "
        "  ORDER BY t), count(*) OVER (PARTITION BY k) FROM dec), "
        "rec(k, c) AS ("
        "  SELECT CASE WHEN CAST($4 AS BIGINT) = 1 THEN 0 ELSE a.org_id END, "
        "  count(*) FROM applications a WHERE a.created_ms >= $2 AND "
        "  a.created_ms < $3 AND a.org_id IN (SELECT id FROM scope) "
        "  GROUP BY 1), "
        "per(k, received, decided, approved, rejected, median, p90, tmax) "
        "AS ("
        "  SELECT k, CAST(sum(received) AS BIGINT), "
        "  CAST(sum(decided) AS BIGINT), CAST(sum(approved) AS BIGINT), "
        "  CAST(sum(rejected) AS BIGINT), max(median), max(p90), max(tmax) "
        "  FROM ("
        "    SELECT k, c AS received, 0 AS decided, 0 AS approved, "
        "    0 AS rejected, CAST(NULL AS BIGINT) AS median, "
        "    CAST(NULL AS BIGINT) AS p90, CAST(NULL AS BIGINT) AS tmax "
        "    FROM rec "
        "    UNION ALL "
        "    SELECT k, 0, count(*), sum(approved), count(*) - sum(approved), "
        "    max(CASE WHEN rn = (50 * n + 99) / 100 THEN t END), "
        "    max(CASE WHEN rn = (90 * n + 99) / 100 THEN t END), max(t) "
        "    FROM ranked GROUP BY k) x GROUP BY k) "
        "SELECT per.k, coalesce(reg.region_id, 0), coalesce(o.name, ''), "
        "per.received, per.decided, per.approved, per.rejected, "
        "coalesce(per.median, -1), coalesce(per.p90, -1), "
        "coalesce(per.tmax, -1) FROM per "
        "LEFT JOIN reg ON reg.id = per.k "
        "LEFT JOIN organisations o ON o.id = per.k "
        "ORDER BY per.k LIMIT $5",
    /* Signatures in [$2, $3) per organisation, seal and UTC day (the day
     * number since the epoch) */
    [DB_STATS_SIGS] =
        "WITH RECURSIVE " SCOPE_CTE("$1")
        "SELECT g.org_id, g.seal_id, s.esid, g.ts_ms / 86400000, count(*) "
        "FROM signatures g JOIN seals s ON s.id = g.seal_id "
        "WHERE g.org_id IN (SELECT id FROM scope) AND g.ts_ms >= $2 AND "
        "g.ts_ms < $3 "
        "GROUP BY g.org_id, g.seal_id, s.esid, g.ts_ms / 86400000 "
        "ORDER BY 1, 3, 4 LIMIT $4",
    /* the regions a monthly report is made for, a page at a time */
    [DB_STATS_REGIONS] =
        "SELECT id FROM organisations WHERE kind = 'region' AND id > $1 "
        "ORDER BY id LIMIT $2",
    [DB_STATS_REPORT_EXISTS] =
        "SELECT count(*) FROM stats_reports WHERE org_id = $1 AND month = $2",
    /* a second node that made the same report loses quietly: the first
     * one's is kept */
    [DB_STATS_REPORT_INSERT] =
        "INSERT INTO stats_reports (org_id, month, from_ms, to_ms, "
        "created_ms, body_json, body_csv) VALUES ($1, $2, $3, $4, $5, $6, "
        "$7) ON CONFLICT (org_id, month) DO NOTHING",
    [DB_STATS_REPORT_LIST] =
        "WITH RECURSIVE " SCOPE_CTE("$1")
        "SELECT id, org_id, month, from_ms, to_ms, created_ms "
        "FROM stats_reports WHERE id > $2 AND "
        "org_id IN (SELECT id FROM scope) ORDER BY id LIMIT $3",
    [DB_STATS_REPORT_GET] =
        "SELECT id, org_id, month, from_ms, to_ms, created_ms, body_json, "
        "body_csv FROM stats_reports WHERE id = $1",

    /* store_audit.c */
    [DB_AUDIT_HEAD] =
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
    /* The chain's head row (migration 008): an append claims the next
     * seq and reads the hash it links to in one statement, which on a
     * database with row locks is the chain's serialisation point. */
    [DB_AUDIT_HEAD_CLAIM] =
        "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 "
        "RETURNING seq, hash",
    /* a no-op UPDATE: the row lock of store_audit_head_lock, portable
     * (SQLite has no SELECT ... FOR UPDATE) */
    [DB_AUDIT_HEAD_LOCK] =
        "UPDATE audit_head SET seq = seq WHERE id = 1",
    [DB_AUDIT_HEAD_SET] =
        "UPDATE audit_head SET hash = $2 WHERE id = 1 AND seq = $1",
    /* claim and set at once, for an append whose claim came from the
     * batch's own copy of the head (store_int.h) */
    [DB_AUDIT_HEAD_ADVANCE] =
        "UPDATE audit_head SET seq = $1, hash = $2 "
        "WHERE id = 1 AND seq = $1 - 1",
    [DB_AUDIT_HEAD_ROW] = "SELECT seq, hash FROM audit_head WHERE id = 1",
    [DB_AUDIT_INSERT_CHAINED] =
        "INSERT INTO audit_log (seq, ts_ms, account_id, role, client_addr, "
        "request_id, action, target_type, target_id, outcome, reason, "
        "details, hash, via_account_id) VALUES ($1, $2, $3, $4, $5, $6, $7, "
        "$8, $9, $10, $11, $12, $13, $14)",
    [DB_AUDIT_WALK] =
        "SELECT " AUDIT_COLS " FROM audit_log WHERE seq > $1 ORDER BY seq",
    /* the walk of a database from before via_account_id (migration 014):
     * `seald audit verify` checks an old backup without migrating it */
    [DB_AUDIT_WALK_V1] =
        "SELECT seq, ts_ms, account_id, role, client_addr, request_id, "
        "action, target_type, target_id, outcome, reason, details, hash, "
        "NULL FROM audit_log WHERE seq > $1 ORDER BY seq",
    /* One statement for every combination: a NULL parameter does not
     * filter.  The organisation filter takes the actor accounts of the
     * organisation's subtree (depth-bounded like store_org_in_subtree). */
    [DB_AUDIT_QUERY] =
        "WITH RECURSIVE sub(id, depth) AS ("
        "  SELECT id, 0 FROM organisations WHERE id = $1 "
        "  UNION ALL SELECT o.id, sub.depth + 1 FROM organisations o "
        "  JOIN sub ON o.parent_id = sub.id WHERE sub.depth < 64), "
        SCOPE_CTE("$11")
        "SELECT " AUDIT_COLS " FROM audit_log WHERE seq > $2 "
        "AND (CAST($12 AS BIGINT) = 0 "
        "     OR account_id IN (SELECT a.id FROM accounts a "
        "        WHERE a.org_id IN (SELECT id FROM scope)) "
        "     OR (account_id IS NULL AND EXISTS (SELECT 1 FROM "
        "        organisations r WHERE r.parent_id IS NULL AND "
        "        r.id IN (SELECT id FROM scope)))) "
        "AND (CAST($3 AS BIGINT) IS NULL OR ts_ms >= $3) "
        "AND (CAST($4 AS BIGINT) IS NULL OR ts_ms < $4) "
        "AND (CAST($5 AS BIGINT) IS NULL OR account_id = $5) "
        "AND (CAST($1 AS BIGINT) IS NULL OR account_id IN "
        "     (SELECT a.id FROM accounts a "
        "      WHERE a.org_id IN (SELECT id FROM sub))) "
        "AND (CAST($6 AS TEXT) IS NULL OR action = $6) "
        "AND (CAST($7 AS TEXT) IS NULL OR outcome = $7) "
        "AND (CAST($8 AS TEXT) IS NULL OR target_type = $8) "
        "AND (CAST($9 AS TEXT) IS NULL OR target_id = $9) "
        "ORDER BY seq LIMIT $10",
    [DB_AUDIT_CHECKPOINT_INSERT] =
        "INSERT INTO audit_checkpoints (seq, head_hash, ts_ms, key_ref, "
        "public_key, signature) VALUES ($1, $2, $3, $4, $5, $6)",
    [DB_AUDIT_CHECKPOINT_LATEST] =
        "SELECT " CP_COLS " FROM audit_checkpoints ORDER BY id DESC LIMIT 1",
    [DB_AUDIT_CHECKPOINT_LIST] =
        "SELECT " CP_COLS " FROM audit_checkpoints ORDER BY seq, id",

/* store_copy.c: seald migrate's copy, one table at a time (the table list
 * and its column types are store_copy.c's).  Each READ names every column
 * in the table's own order (unit.test_store_copy and pg.migrate compare
 * them with the schema), each WRITE the same columns; ids are written as
 * they were ({explicit ids}), so references need no mapping. */
    [DB_COPY_ORG_READ] =
        "SELECT " COPY_ORG_COLS " FROM organisations ORDER BY id",
    [DB_COPY_ORG_WRITE] =
        "INSERT INTO organisations (" COPY_ORG_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [DB_COPY_ORG_COUNT] = "SELECT count(*) FROM organisations",
    [DB_COPY_ACCOUNT_READ] =
        "SELECT " COPY_ACCOUNT_COLS " FROM accounts ORDER BY id",
    [DB_COPY_ACCOUNT_WRITE] =
        "INSERT INTO accounts (" COPY_ACCOUNT_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    [DB_COPY_ACCOUNT_COUNT] = "SELECT count(*) FROM accounts",
    [DB_COPY_ROLE_READ] =
        "SELECT " COPY_ROLE_COLS " FROM role_assignments ORDER BY id",
    [DB_COPY_ROLE_WRITE] =
        "INSERT INTO role_assignments (" COPY_ROLE_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    [DB_COPY_ROLE_COUNT] = "SELECT count(*) FROM role_assignments",
    [DB_COPY_DEPUTY_READ] =
        "SELECT " COPY_DEPUTY_COLS " FROM deputies ORDER BY id",
    [DB_COPY_DEPUTY_WRITE] =
        "INSERT INTO deputies (" COPY_DEPUTY_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    [DB_COPY_DEPUTY_COUNT] = "SELECT count(*) FROM deputies",
    [DB_COPY_AUTHFAIL_READ] =
        "SELECT " COPY_AUTHFAIL_COLS " FROM auth_failures "
        "ORDER BY kind, subject",
    [DB_COPY_AUTHFAIL_WRITE] =
        "INSERT INTO auth_failures (" COPY_AUTHFAIL_COLS ") "
        "VALUES ($1, $2, $3, $4, $5)",
    [DB_COPY_AUTHFAIL_COUNT] = "SELECT count(*) FROM auth_failures",
    [DB_COPY_CREDENTIAL_READ] =
        "SELECT " COPY_CREDENTIAL_COLS " FROM credentials ORDER BY id",
    [DB_COPY_CREDENTIAL_WRITE] =
        "INSERT INTO credentials (" COPY_CREDENTIAL_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    [DB_COPY_CREDENTIAL_COUNT] = "SELECT count(*) FROM credentials",
    [DB_COPY_IDENTITY_READ] =
        "SELECT " COPY_IDENTITY_COLS " FROM identity_bindings ORDER BY id",
    [DB_COPY_IDENTITY_WRITE] =
        "INSERT INTO identity_bindings (" COPY_IDENTITY_COLS ") "
        "{explicit ids} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    [DB_COPY_IDENTITY_COUNT] = "SELECT count(*) FROM identity_bindings",
    [DB_COPY_AUDIT_READ] =
        "SELECT " COPY_AUDIT_COLS " FROM audit_log ORDER BY seq",
    [DB_COPY_AUDIT_WRITE] =
        "INSERT INTO audit_log (" COPY_AUDIT_COLS ") "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
        "$14)",
    [DB_COPY_AUDIT_COUNT] = "SELECT count(*) FROM audit_log",
    [DB_COPY_CHECKPOINT_READ] =
        "SELECT " COPY_CHECKPOINT_COLS " FROM audit_checkpoints ORDER BY id",
    [DB_COPY_CHECKPOINT_WRITE] =
        "INSERT INTO audit_checkpoints (" COPY_CHECKPOINT_COLS ") "
        "{explicit ids} VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [DB_COPY_CHECKPOINT_COUNT] = "SELECT count(*) FROM audit_checkpoints",
    [DB_COPY_HEAD_READ] =
        "SELECT " COPY_HEAD_COLS " FROM audit_head ORDER BY id",
    /* the migrations made the one row (seq 0); the copy moves it forward
     * to the source's head, as an append does (audit_head_forward) */
    [DB_COPY_HEAD_WRITE] =
        "UPDATE audit_head SET seq = $2, hash = $3 WHERE id = $1",
    [DB_COPY_HEAD_COUNT] = "SELECT count(*) FROM audit_head",
    [DB_COPY_SEAL_READ] =
        "SELECT " COPY_SEAL_COLS " FROM seals ORDER BY id",
    [DB_COPY_SEAL_WRITE] =
        "INSERT INTO seals (" COPY_SEAL_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
        "$14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, "
        "$27, $28)",
    [DB_COPY_SEAL_COUNT] = "SELECT count(*) FROM seals",
    [DB_COPY_APP_READ] =
        "SELECT " COPY_APP_COLS " FROM applications ORDER BY id",
    [DB_COPY_APP_WRITE] =
        "INSERT INTO applications (" COPY_APP_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
        "$14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, "
        "$27, $28, $29, $30, $31, $32)",
    [DB_COPY_APP_COUNT] = "SELECT count(*) FROM applications",
    [DB_COPY_MATERIAL_READ] =
        "SELECT " COPY_MATERIAL_COLS " FROM application_materials ORDER BY id",
    [DB_COPY_MATERIAL_WRITE] =
        "INSERT INTO application_materials (" COPY_MATERIAL_COLS ") "
        "{explicit ids} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    [DB_COPY_MATERIAL_COUNT] = "SELECT count(*) FROM application_materials",
    [DB_COPY_HISTORY_READ] =
        "SELECT " COPY_HISTORY_COLS " FROM history ORDER BY id",
    [DB_COPY_HISTORY_WRITE] =
        "INSERT INTO history (" COPY_HISTORY_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    [DB_COPY_HISTORY_COUNT] = "SELECT count(*) FROM history",
    [DB_COPY_AUTHORITY_READ] =
        "SELECT " COPY_AUTHORITY_COLS " FROM authority ORDER BY role",
    [DB_COPY_AUTHORITY_WRITE] =
        "INSERT INTO authority (" COPY_AUTHORITY_COLS ") "
        "VALUES ($1, $2, $3, $4)",
    [DB_COPY_AUTHORITY_COUNT] = "SELECT count(*) FROM authority",
    [DB_COPY_ESID_READ] =
        "SELECT " COPY_ESID_COLS " FROM esid_counters ORDER BY region",
    [DB_COPY_ESID_WRITE] =
        "INSERT INTO esid_counters (" COPY_ESID_COLS ") "
        "VALUES ($1, $2)",
    [DB_COPY_ESID_COUNT] = "SELECT count(*) FROM esid_counters",
    [DB_COPY_SREQ_READ] =
        "SELECT " COPY_SREQ_COLS " FROM sign_requests ORDER BY id",
    [DB_COPY_SREQ_WRITE] =
        "INSERT INTO sign_requests (" COPY_SREQ_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
        "$14, $15, $16, $17)",
    [DB_COPY_SREQ_COUNT] = "SELECT count(*) FROM sign_requests",
    [DB_COPY_SDOC_READ] =
        "SELECT " COPY_SDOC_COLS " FROM sign_documents ORDER BY id",
    [DB_COPY_SDOC_WRITE] =
        "INSERT INTO sign_documents (" COPY_SDOC_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [DB_COPY_SDOC_COUNT] = "SELECT count(*) FROM sign_documents",
    [DB_COPY_SIG_READ] =
        "SELECT " COPY_SIG_COLS " FROM signatures ORDER BY id",
    [DB_COPY_SIG_WRITE] =
        "INSERT INTO signatures (" COPY_SIG_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
        "$14)",
    [DB_COPY_SIG_COUNT] = "SELECT count(*) FROM signatures",
    /* the outbox (015): the event head moves forward as audit_head does */
    [DB_COPY_EVHEAD_READ] =
        "SELECT " COPY_EVHEAD_COLS " FROM event_head ORDER BY id",
    [DB_COPY_EVHEAD_WRITE] =
        "UPDATE event_head SET seq = $2 WHERE id = $1",
    [DB_COPY_EVHEAD_COUNT] = "SELECT count(*) FROM event_head",
    [DB_COPY_EVENT_READ] =
        "SELECT " COPY_EVENT_COLS " FROM events ORDER BY seq",
    [DB_COPY_EVENT_WRITE] =
        "INSERT INTO events (" COPY_EVENT_COLS ") "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    [DB_COPY_EVENT_COUNT] = "SELECT count(*) FROM events",
    [DB_COPY_DCURSOR_READ] =
        "SELECT " COPY_DCURSOR_COLS " FROM delivery_cursors ORDER BY dest",
    [DB_COPY_DCURSOR_WRITE] =
        "INSERT INTO delivery_cursors (" COPY_DCURSOR_COLS ") "
        "VALUES ($1, $2)",
    [DB_COPY_DCURSOR_COUNT] = "SELECT count(*) FROM delivery_cursors",
    [DB_COPY_DELIVERY_READ] =
        "SELECT " COPY_DELIVERY_COLS " FROM deliveries ORDER BY id",
    [DB_COPY_DELIVERY_WRITE] =
        "INSERT INTO deliveries (" COPY_DELIVERY_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    [DB_COPY_DELIVERY_COUNT] = "SELECT count(*) FROM deliveries",
    [DB_COPY_NOTICE_READ] =
        "SELECT " COPY_NOTICE_COLS " FROM seal_expiry_notices "
        "ORDER BY seal_id, days",
    [DB_COPY_NOTICE_WRITE] =
        "INSERT INTO seal_expiry_notices (" COPY_NOTICE_COLS ") "
        "VALUES ($1, $2)",
    [DB_COPY_NOTICE_COUNT] = "SELECT count(*) FROM seal_expiry_notices",
    [DB_COPY_DATA_KEY_READ] =
        "SELECT " COPY_DATA_KEY_COLS " FROM data_keys ORDER BY id",
    [DB_COPY_DATA_KEY_WRITE] =
        "INSERT INTO data_keys (" COPY_DATA_KEY_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [DB_COPY_DATA_KEY_COUNT] = "SELECT count(*) FROM data_keys",
    [DB_COPY_REPORT_READ] =
        "SELECT " COPY_REPORT_COLS " FROM stats_reports ORDER BY id",
    [DB_COPY_REPORT_WRITE] =
        "INSERT INTO stats_reports (" COPY_REPORT_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    [DB_COPY_REPORT_COUNT] = "SELECT count(*) FROM stats_reports",
    [DB_COPY_SEALED_READ] =
        "SELECT " COPY_SEALED_COLS " FROM sealed_ofds ORDER BY id",
    [DB_COPY_SEALED_WRITE] =
        "INSERT INTO sealed_ofds (" COPY_SEALED_COLS ") {explicit ids} "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    [DB_COPY_SEALED_COUNT] = "SELECT count(*) FROM sealed_ofds",
    [DB_COPY_ORG_FIX_PARENT] =
        "UPDATE organisations SET parent_id = $2 WHERE id = $1",
    [DB_COPY_ACCOUNT_FIX_CREATED_BY] =
        "UPDATE accounts SET created_by = $2 WHERE id = $1",
    [DB_COPY_ACCOUNT_FIX_HELD_BY] =
        "UPDATE accounts SET held_by = $2 WHERE id = $1",
    [DB_COPY_SEAL_FIX_PREDECESSOR] =
        "UPDATE seals SET predecessor_id = $2 WHERE id = $1",
    [DB_COPY_SREQ_FIX_RESUBMITS] =
        "UPDATE sign_requests SET resubmits_id = $2 WHERE id = $1",
    [DB_COPY_SREQ_FIX_EXTRA_FOR] =
        "UPDATE sign_requests SET extra_for_id = $2 WHERE id = $1",
    /* store_lease.c.  One statement decides: a node wins the lease when
     * it has run out or is its own already.  On PostgreSQL (read
     * committed) a second claim waits for the first's row lock and then
     * re-checks the WHERE against the row the first wrote, so of several
     * nodes claiming at once exactly one gets a row back.  The times are
     * the nodes' clocks (ms since the epoch): they must agree (NTP) to
     * well within a job's period. */
    [DB_LEASE_CLAIM] =
        "UPDATE job_leases SET holder = $1, until_ms = $2 "
        "WHERE job = $3 AND (until_ms <= $4 OR holder = $1) "
        "RETURNING holder",
    [DB_LEASE_RELEASE] =
        "UPDATE job_leases SET until_ms = 0 WHERE job = $1 AND holder = $2",
    /* store_event.c.  The seq of an event is the event head's, bumped in
     * the event's own transaction: the row's lock, held to the commit,
     * orders seqs as commits (design.md, "Events and deliveries").  Both
     * statements are sent without waiting (db_step_later), the insert
     * reading the head its transaction just moved.  Whose the event is
     * comes from the row it names: $7 the organisation itself, or $8 a
     * seal's esID, $9 an application's id, $10 a signing request's id
     * (the others NULL). */
    [DB_EVENT_HEAD_BUMP] =
        "UPDATE event_head SET seq = seq + 1 WHERE id = 1",
    [DB_EVENT_INSERT] =
        "INSERT INTO events (seq, event_id, ts_ms, type, target_type, "
        "target_id, org_id, data) "
        "SELECT h.seq, $1, $2, $3, $4, $5, coalesce(CAST($7 AS BIGINT), "
        "(SELECT s.org_id FROM seals s WHERE s.esid = CAST($8 AS TEXT)), "
        "(SELECT a.org_id FROM applications a "
        " WHERE a.id = CAST($9 AS BIGINT)), "
        "(SELECT s.org_id FROM sign_requests r JOIN seals s "
        " ON s.id = r.seal_id WHERE r.id = CAST($10 AS BIGINT))), $6 "
        "FROM event_head h WHERE h.id = 1",
    [DB_EVENT_HEAD_READ] =
        "SELECT seq FROM event_head WHERE id = 1",
    /* the reader's subtrees: SCOPE_CTE */
    [DB_EVENT_LIST] =
        "WITH RECURSIVE " SCOPE_CTE("$1")
        "SELECT " EVENT_COLS " FROM events WHERE seq > $2 AND "
        "org_id IN (SELECT id FROM scope) ORDER BY seq LIMIT $3",
    [DB_EVENT_LIST_ALL] =
        "SELECT " EVENT_COLS " FROM events WHERE seq > $1 "
        "ORDER BY seq LIMIT $2",
    [DB_DELIVERY_CURSOR_ENSURE] =
        "INSERT INTO delivery_cursors (dest, seq) VALUES ($1, 0) "
        "ON CONFLICT (dest) DO NOTHING",
    [DB_DELIVERY_CURSOR_READ] =
        "SELECT seq FROM delivery_cursors WHERE dest = $1",
    [DB_DELIVERY_CURSOR_SET] =
        "UPDATE delivery_cursors SET seq = $2 WHERE dest = $1 AND seq < $2",
    [DB_DELIVERY_INSERT] =
        "INSERT INTO deliveries (dest, seq, state, attempts, next_ms, "
        "last_status, last_reply, updated_ms) "
        "VALUES ($1, $2, 'pending', 0, $3, 0, '', $3) "
        "ON CONFLICT (dest, seq) DO NOTHING",
    /* a destination's oldest pending delivery: it goes first (in order) */
    [DB_DELIVERY_NEXT] =
        "SELECT " DELIVERY_COLS ", " EVENT_COLS_E " FROM deliveries d "
        "JOIN events e ON e.seq = d.seq "
        "WHERE d.dest = $1 AND d.state = 'pending' ORDER BY d.seq LIMIT 1",
    [DB_DELIVERY_SEAL_DELIVERED] =
        "SELECT count(*) FROM deliveries d JOIN events ev ON ev.seq = d.seq "
        "WHERE d.dest = $1 AND d.state = 'delivered' AND "
        "ev.target_type = 'seal' AND ev.target_id = $2",
    [DB_DELIVERY_SET] =
        "UPDATE deliveries SET state = $2, attempts = attempts + 1, "
        "next_ms = $3, last_status = $4, last_reply = $5, updated_ms = $6 "
        "WHERE id = $1 AND state = 'pending' AND attempts = $7",
    [DB_DELIVERY_LIST] =
        "SELECT " DELIVERY_COLS ", " EVENT_COLS_E " FROM deliveries d "
        "JOIN events e ON e.seq = d.seq "
        "WHERE d.id > $1 AND (CAST($2 AS TEXT) IS NULL OR d.state = $2) "
        "AND (CAST($3 AS TEXT) IS NULL OR d.dest = $3) "
        "AND (CAST($4 AS TEXT) IS NULL OR e.target_id = $4) "
        "ORDER BY d.id LIMIT $5",
    /* /metrics: deliveries not yet made (pending, retries included) */
    [DB_DELIVERY_BACKLOG] =
        "SELECT count(*) FROM deliveries WHERE state = 'pending'",
    [DB_DELIVERY_REPLAY] =
        "UPDATE deliveries SET state = 'pending', attempts = 0, "
        "next_ms = $2, updated_ms = $2 WHERE id = $1 AND state = 'failed' "
        "RETURNING dest, seq",
    /* seals whose validity ends within the threshold and that have not
     * had its notice: once per seal per threshold */
    [DB_EXPIRY_DUE] =
        "SELECT id, esid, org_id, valid_end_ms FROM seals "
        "WHERE state IN ('made', 'active', 'suspended') "
        "AND valid_end_ms > $1 AND valid_end_ms <= $2 AND NOT EXISTS "
        "(SELECT 1 FROM seal_expiry_notices n WHERE n.seal_id = seals.id "
        " AND n.days = $3) ORDER BY id LIMIT $4",
    [DB_EXPIRY_NOTE] =
        "INSERT INTO seal_expiry_notices (seal_id, days) VALUES ($1, $2) "
        "ON CONFLICT (seal_id, days) DO NOTHING",

    /* store_datakey.c */
    [DB_DATA_KEY_INSERT] =
        "INSERT INTO data_keys (key_ref, wrapped, state, created_ms) "
        "VALUES ($1, $2, 'active', $3) RETURNING id",
    [DB_DATA_KEY_RETIRE_OTHERS] =
        "UPDATE data_keys SET state = 'retired', retired_ms = $1 "
        "WHERE state = 'active' AND id <> $2",
    [DB_DATA_KEY_REWRAP] =
        "UPDATE data_keys SET key_ref = $1, wrapped = $2 WHERE id = $3",
    [DB_DATA_KEY_LIST] =
        "SELECT id, key_ref, wrapped, state, created_ms, "
        "coalesce(retired_ms, 0), plaintext_refused FROM data_keys "
        "ORDER BY id",
    [DB_DATA_KEY_REFUSE_PLAINTEXT] =
        "UPDATE data_keys SET plaintext_refused = 1",
    /* the walk of blobcrypt's commands: one row at a time, after an id */
    [DB_BLOB_MATERIAL_NEXT] =
        "SELECT id, application_id, sm3, data FROM application_materials "
        "WHERE id > $1 ORDER BY id LIMIT 1",
    [DB_BLOB_MATERIAL_REPLACE] =
        "UPDATE application_materials SET data = $1 WHERE id = $2 AND "
        "data = $3",
    [DB_BLOB_IMAGE_NEXT] =
        "SELECT id, 0, image_sm3, image FROM applications "
        "WHERE id > $1 ORDER BY id LIMIT 1",
    [DB_BLOB_IMAGE_REPLACE] =
        "UPDATE applications SET image = $1 WHERE id = $2 AND image = $3",
    [DB_BLOB_DOCUMENT_NEXT] =
        "SELECT id, request_id, sm3, data FROM sign_documents "
        "WHERE id > $1 AND data IS NOT NULL ORDER BY id LIMIT 1",
    [DB_BLOB_DOCUMENT_REPLACE] =
        "UPDATE sign_documents SET data = $1 WHERE id = $2 AND data = $3",
    [DB_BLOB_SEALED_NEXT] =
        "SELECT id, document_id, sm3, data FROM sealed_ofds "
        "WHERE id > $1 ORDER BY id LIMIT 1",
    [DB_BLOB_SEALED_REPLACE] =
        "UPDATE sealed_ofds SET data = $1 WHERE id = $2 AND data = $3",
};

const char *
db_stmt_text(enum db_stmt_id id)
{
    if ((unsigned)id >= DB_STMT__COUNT)
        return NULL;
    return stmt_text[id];
}
