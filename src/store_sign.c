/*
 * store_sign.c - the SQL of signing requests, their documents, and the
 * usage records of signatures.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define SREQ_COLS "id, seal_id, submitter_id, coalesce(deputy_id, 0), " \
    "title, purpose, copies, coalesce(resubmits_id, 0), " \
    "coalesce(extra_for_id, 0), state, coalesce(state_reason, ''), " \
    "coalesce(approver_id, 0), coalesce(approved_ms, 0), " \
    "coalesce(expires_ms, 0), created_ms, updated_ms"

static void
sreq_row(sqlite3_stmt *st, struct store_sreq *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    r->seal_id = sqlite3_column_int64(st, 1);
    r->submitter_id = sqlite3_column_int64(st, 2);
    r->deputy_id = sqlite3_column_int64(st, 3);
    st_copy_col(st, 4, r->title, sizeof(r->title));
    st_copy_col(st, 5, r->purpose, sizeof(r->purpose));
    r->copies = sqlite3_column_int(st, 6);
    r->resubmits_id = sqlite3_column_int64(st, 7);
    r->extra_for_id = sqlite3_column_int64(st, 8);
    st_copy_col(st, 9, r->state, sizeof(r->state));
    st_copy_col(st, 10, r->state_reason, sizeof(r->state_reason));
    r->approver_id = sqlite3_column_int64(st, 11);
    r->approved_ms = sqlite3_column_int64(st, 12);
    r->expires_ms = sqlite3_column_int64(st, 13);
    r->created_ms = sqlite3_column_int64(st, 14);
    r->updated_ms = sqlite3_column_int64(st, 15);
}

err_code
store_sreq_insert(struct store_conn *c, const struct store_sreq *r,
                  int64_t *id_out, struct err *e)
{
    static const char sql[] =
        "INSERT INTO sign_requests (seal_id, submitter_id, deputy_id, title, "
        "purpose, copies, resubmits_id, extra_for_id, state, created_ms, "
        "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'submitted', ?, ?)";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, r->seal_id);
    sqlite3_bind_int64(st, 2, r->submitter_id);
    st_bind_id(st, 3, r->deputy_id);
    st_bind_text(st, 4, r->title);
    st_bind_text(st, 5, r->purpose);
    sqlite3_bind_int(st, 6, r->copies);
    st_bind_id(st, 7, r->resubmits_id);
    st_bind_id(st, 8, r->extra_for_id);
    sqlite3_bind_int64(st, 9, r->created_ms);
    sqlite3_bind_int64(st, 10, r->created_ms);
    if ((rc = st_step_done(c, st, e)) != ERR_OK)
        return rc;
    *id_out = sqlite3_last_insert_rowid(c->db);
    return ERR_OK;
}

err_code
store_sreq_get(struct store_conn *c, int64_t id, struct store_sreq *out,
               struct err *e)
{
    static const char sql[] =
        "SELECT " SREQ_COLS " FROM sign_requests WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = st_step_row(c, st, "signing request", e)) != ERR_OK)
        return rc;
    sreq_row(st, out);
    st_release(c, st);
    return ERR_OK;
}

err_code
store_sreq_transition(struct store_conn *c, int64_t id, const char *from,
                      const char *to, const char *reason, int64_t approver_id,
                      int64_t approved_ms, int64_t expires_ms, int64_t now_ms,
                      struct err *e)
{
    static const char sql[] =
        "UPDATE sign_requests SET state = ?, state_reason = ?, "
        "approver_id = coalesce(?, approver_id), "
        "approved_ms = coalesce(?, approved_ms), "
        "expires_ms = coalesce(?, expires_ms), updated_ms = ? "
        "WHERE id = ? AND state = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, to);
    st_bind_text(st, 2, reason);
    st_bind_id(st, 3, approver_id);
    st_bind_id(st, 4, approved_ms);
    st_bind_id(st, 5, expires_ms);
    sqlite3_bind_int64(st, 6, now_ms);
    sqlite3_bind_int64(st, 7, id);
    st_bind_text(st, 8, from);
    return st_step_changed(c, st, e, ERR_CONFLICT, "signing request %lld is not %s",
                       (long long)id, from);
}

err_code
store_sdoc_insert(struct store_conn *c, int64_t request_id, const char *name,
                  int64_t size, const uint8_t sm3[32], const void *data,
                  size_t data_len, struct err *e)
{
    static const char sql[] =
        "INSERT INTO sign_documents (request_id, name, size_bytes, sm3, "
        "data) VALUES (?, ?, ?, ?, ?)";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, request_id);
    st_bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, size);
    sqlite3_bind_blob(st, 4, sm3, 32, SQLITE_STATIC);
    if (data != NULL)
        sqlite3_bind_blob(st, 5, data, (int)data_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    return st_step_done(c, st, e);
}

err_code
store_sdoc_list(struct store_conn *c, int64_t request_id, store_sdoc_fn fn,
                void *ctx, struct err *e)
{
    static const char sql[] =
        "SELECT id, request_id, name, size_bytes, sm3, data IS NOT NULL, "
        "signatures FROM sign_documents WHERE request_id = ? ORDER BY id";
    sqlite3_stmt *st = st_prep(c, sql, e);
    struct store_sdoc d;
    err_code out = ERR_OK;
    int rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, request_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&d, 0, sizeof(d));
        d.id = sqlite3_column_int64(st, 0);
        d.request_id = sqlite3_column_int64(st, 1);
        st_copy_col(st, 2, d.name, sizeof(d.name));
        d.size_bytes = sqlite3_column_int64(st, 3);
        if (sqlite3_column_bytes(st, 4) == 32)
            memcpy(d.sm3, sqlite3_column_blob(st, 4), 32);
        d.has_data = sqlite3_column_int(st, 5);
        d.signatures = sqlite3_column_int(st, 6);
        if ((out = fn(ctx, &d)) != ERR_OK)
            break;
    }
    if (out == ERR_OK && rc != SQLITE_DONE)
        out = st_db_err(c, e, "documents");
    st_release(c, st);
    return out;
}

err_code
store_sdoc_get(struct store_conn *c, int64_t id, struct store_sdoc *out,
               uint8_t **data, size_t *len, struct err *e)
{
    static const char sql[] =
        "SELECT id, request_id, name, size_bytes, sm3, data IS NOT NULL, "
        "signatures, data FROM sign_documents WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = st_step_row(c, st, "document", e)) != ERR_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    out->id = sqlite3_column_int64(st, 0);
    out->request_id = sqlite3_column_int64(st, 1);
    st_copy_col(st, 2, out->name, sizeof(out->name));
    out->size_bytes = sqlite3_column_int64(st, 3);
    if (sqlite3_column_bytes(st, 4) == 32)
        memcpy(out->sm3, sqlite3_column_blob(st, 4), 32);
    out->has_data = sqlite3_column_int(st, 5);
    out->signatures = sqlite3_column_int(st, 6);
    rc = ERR_OK;
    if (data != NULL) {
        *data = NULL;
        *len = 0;
        if (out->has_data)
            rc = st_column_dup(st, 7, data, len, e);
    }
    st_release(c, st);
    return rc;
}

err_code
store_sdoc_set_data(struct store_conn *c, int64_t id, const void *data,
                    size_t len, struct err *e)
{
    static const char sql[] =
        "UPDATE sign_documents SET data = ? WHERE id = ? AND data IS NULL";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_blob(st, 1, data, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    return st_step_changed(c, st, e, ERR_CONFLICT, "the document's bytes are already "
                       "there");
}

err_code
store_sdoc_take(struct store_conn *c, int64_t id, int copies, struct err *e)
{
    static const char sql[] =
        "UPDATE sign_documents SET signatures = signatures + 1 "
        "WHERE id = ? AND signatures < ?";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, copies);
    return st_step_changed(c, st, e, ERR_CONFLICT, "the approval's %d signature(s) of "
                       "this document are used up", copies);
}

err_code
store_sreq_signed(struct store_conn *c, int64_t request_id, int64_t *n,
                  struct err *e)
{
    static const char sql[] =
        "SELECT count(*) FROM signatures WHERE request_id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, request_id);
    if ((rc = st_step_row(c, st, "signatures", e)) != ERR_OK)
        return rc;
    *n = sqlite3_column_int64(st, 0);
    st_release(c, st);
    return ERR_OK;
}

err_code
store_sig_insert(struct store_conn *c, const struct store_sig *s,
                 const uint8_t *der, size_t len, int64_t *id_out,
                 struct err *e)
{
    static const char sql[] =
        "INSERT INTO signatures (request_id, document_id, seal_id, org_id, "
        "signer_id, approver_id, client_addr, request_rid, data_sm3, ts_ms, "
        "signature, token_checked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?)";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, s->request_id);
    sqlite3_bind_int64(st, 2, s->document_id);
    sqlite3_bind_int64(st, 3, s->seal_id);
    sqlite3_bind_int64(st, 4, s->org_id);
    sqlite3_bind_int64(st, 5, s->signer_id);
    sqlite3_bind_int64(st, 6, s->approver_id);
    st_bind_text(st, 7, s->client_addr);
    st_bind_text(st, 8, s->request_rid);
    sqlite3_bind_blob(st, 9, s->data_sm3, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, s->ts_ms);
    sqlite3_bind_blob(st, 11, der, (int)len, SQLITE_STATIC);
    sqlite3_bind_int(st, 12, s->token_checked != 0);
    if ((rc = st_step_done(c, st, e)) != ERR_OK)
        return rc;
    *id_out = sqlite3_last_insert_rowid(c->db);
    return ERR_OK;
}

#define SIG_COLS "id, request_id, document_id, seal_id, org_id, signer_id, " \
    "approver_id, client_addr, coalesce(request_rid, ''), data_sm3, ts_ms, " \
    "token_checked, token_suspect"

static void
sig_row(sqlite3_stmt *st, struct store_sig *s)
{
    memset(s, 0, sizeof(*s));
    s->id = sqlite3_column_int64(st, 0);
    s->request_id = sqlite3_column_int64(st, 1);
    s->document_id = sqlite3_column_int64(st, 2);
    s->seal_id = sqlite3_column_int64(st, 3);
    s->org_id = sqlite3_column_int64(st, 4);
    s->signer_id = sqlite3_column_int64(st, 5);
    s->approver_id = sqlite3_column_int64(st, 6);
    st_copy_col(st, 7, s->client_addr, sizeof(s->client_addr));
    st_copy_col(st, 8, s->request_rid, sizeof(s->request_rid));
    if (sqlite3_column_bytes(st, 9) == 32)
        memcpy(s->data_sm3, sqlite3_column_blob(st, 9), 32);
    s->ts_ms = sqlite3_column_int64(st, 10);
    s->token_checked = sqlite3_column_int(st, 11);
    s->token_suspect = sqlite3_column_int(st, 12);
}

err_code
store_sig_mark_suspect(struct store_conn *c, int64_t seal_id, int64_t *n,
                       struct err *e)
{
    static const char sql[] =
        "UPDATE signatures SET token_suspect = 1 WHERE seal_id = ?1 AND "
        "token_checked = 0 AND token_suspect = 0 AND id > coalesce(("
        "SELECT max(id) FROM signatures WHERE seal_id = ?1 AND "
        "token_checked = 1), 0)";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, seal_id);
    if ((rc = st_step_done(c, st, e)) != ERR_OK)
        return rc;
    *n = sqlite3_changes(c->db);
    return ERR_OK;
}

err_code
store_sig_find(struct store_conn *c, int64_t seal_id,
               const uint8_t data_sm3[32], const uint8_t *der, size_t len,
               int *found, struct store_sig *out, struct err *e)
{
    static const char sql[] =
        "SELECT " SIG_COLS " FROM signatures WHERE seal_id = ? AND "
        "data_sm3 = ? AND signature = ? LIMIT 1";
    sqlite3_stmt *st = st_prep(c, sql, e);
    int rc;

    *found = 0;
    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, seal_id);
    sqlite3_bind_blob(st, 2, data_sm3, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, der, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        sig_row(st, out);
        *found = 1;
    }
    st_release(c, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return st_db_err(c, e, "signature");
    return ERR_OK;
}

err_code
store_sig_get(struct store_conn *c, int64_t id, struct store_sig *out,
              uint8_t **der, size_t *len, struct err *e)
{
    static const char sql[] =
        "SELECT " SIG_COLS ", signature FROM signatures WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = st_step_row(c, st, "signature", e)) != ERR_OK)
        return rc;
    sig_row(st, out);
    rc = der != NULL ? st_column_dup(st, 13, der, len, e) : ERR_OK;
    st_release(c, st);
    return rc;
}

err_code
store_sig_list(struct store_conn *c, int64_t seal_id, int64_t org_id,
               int64_t from_ms, int64_t to_ms, int64_t after, int limit,
               store_sig_fn fn, void *ctx, struct err *e)
{
    static const char sql[] =
        "SELECT " SIG_COLS " FROM signatures WHERE id > ? AND "
        "(? = 0 OR seal_id = ?) AND (? = 0 OR org_id = ?) AND "
        "ts_ms >= ? AND ts_ms < ? ORDER BY id LIMIT ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    struct store_sig s;
    err_code out = ERR_OK;
    int rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, seal_id);
    sqlite3_bind_int64(st, 3, seal_id);
    sqlite3_bind_int64(st, 4, org_id);
    sqlite3_bind_int64(st, 5, org_id);
    sqlite3_bind_int64(st, 6, from_ms);
    sqlite3_bind_int64(st, 7, to_ms);
    sqlite3_bind_int(st, 8, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sig_row(st, &s);
        if ((out = fn(ctx, &s)) != ERR_OK)
            break;
    }
    if (out == ERR_OK && rc != SQLITE_DONE)
        out = st_db_err(c, e, "signatures");
    st_release(c, st);
    return out;
}

err_code
store_usage_summary(struct store_conn *c, int64_t seal_id, int64_t org_id,
                    int64_t from_ms, int64_t to_ms, store_usage_fn fn,
                    void *ctx, struct err *e)
{
    static const char sql[] =
        "SELECT s.id, s.esid, s.name, s.org_id, count(g.id), min(g.ts_ms), "
        "max(g.ts_ms) FROM signatures g JOIN seals s ON s.id = g.seal_id "
        "WHERE (? = 0 OR g.seal_id = ?) AND (? = 0 OR g.org_id = ?) AND "
        "g.ts_ms >= ? AND g.ts_ms < ? GROUP BY s.id, s.esid, s.name, "
        "s.org_id ORDER BY s.org_id, s.esid";
    sqlite3_stmt *st = st_prep(c, sql, e);
    struct store_usage u;
    err_code out = ERR_OK;
    int rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, seal_id);
    sqlite3_bind_int64(st, 2, seal_id);
    sqlite3_bind_int64(st, 3, org_id);
    sqlite3_bind_int64(st, 4, org_id);
    sqlite3_bind_int64(st, 5, from_ms);
    sqlite3_bind_int64(st, 6, to_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&u, 0, sizeof(u));
        u.seal_id = sqlite3_column_int64(st, 0);
        st_copy_col(st, 1, u.esid, sizeof(u.esid));
        st_copy_col(st, 2, u.seal_name, sizeof(u.seal_name));
        u.org_id = sqlite3_column_int64(st, 3);
        u.count = sqlite3_column_int64(st, 4);
        u.first_ms = sqlite3_column_int64(st, 5);
        u.last_ms = sqlite3_column_int64(st, 6);
        if ((out = fn(ctx, &u)) != ERR_OK)
            break;
    }
    if (out == ERR_OK && rc != SQLITE_DONE)
        out = st_db_err(c, e, "usage");
    st_release(c, st);
    return out;
}

err_code
store_seal_touch(struct store_conn *c, int64_t seal_id, int64_t now_ms,
                 struct err *e)
{
    static const char sql[] =
        "UPDATE seals SET last_used_ms = ? WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, seal_id);
    return st_step_update_one(c, st, "seal", e);
}
