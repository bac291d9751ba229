/*
 * store_sign.c - the SQL of signing requests, their documents, and the
 * usage records of signatures.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "store_sign.h"

/* An SM3 column: copied when it has the 32 bytes, left zero otherwise. */
static void
col_sm3(struct db_stmt *st, int col, uint8_t dst[32])
{
    size_t n;
    const void *p = db_col_bytes(st, col, &n);

    if (n == 32)
        memcpy(dst, p, 32);
}

static void
sreq_row(struct db_stmt *st, struct store_sreq *r)
{
    memset(r, 0, sizeof(*r));
    r->id = db_col_i64(st, 0);
    r->seal_id = db_col_i64(st, 1);
    r->submitter_id = db_col_i64(st, 2);
    r->deputy_id = db_col_i64(st, 3);
    db_col_copy(st, 4, r->title, sizeof(r->title));
    db_col_copy(st, 5, r->purpose, sizeof(r->purpose));
    r->copies = db_col_int(st, 6);
    r->resubmits_id = db_col_i64(st, 7);
    r->extra_for_id = db_col_i64(st, 8);
    r->state = sreq_state_parse(db_col_text(st, 9));
    db_col_copy(st, 10, r->state_reason, sizeof(r->state_reason));
    r->approver_id = db_col_i64(st, 11);
    r->approved_ms = db_col_i64(st, 12);
    r->expires_ms = db_col_i64(st, 13);
    r->created_ms = db_col_i64(st, 14);
    r->updated_ms = db_col_i64(st, 15);
    db_col_copy(st, 16, r->document_type, sizeof(r->document_type));
}

err_code
store_sreq_insert(struct store_conn *c, const struct store_sreq *r,
                  int64_t *id_out, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SREQ_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, r->seal_id);
    db_bind_i64(st, 2, r->submitter_id);
    db_bind_id(st, 3, r->deputy_id);
    db_bind_text(st, 4, r->title);
    db_bind_text(st, 5, r->purpose);
    db_bind_int(st, 6, r->copies);
    db_bind_id(st, 7, r->resubmits_id);
    db_bind_id(st, 8, r->extra_for_id);
    db_bind_i64(st, 9, r->created_ms);
    db_bind_i64(st, 10, r->created_ms);
    db_bind_text(st, 11, r->document_type[0] ? r->document_type : NULL);
    return db_step_id(st, id_out, e);
}

err_code
store_sreq_get(struct store_conn *c, int64_t id, struct store_sreq *out,
               struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SREQ_GET, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "signing request", e)) != ERR_OK)
        return rc;
    sreq_row(st, out);
    db_release(st);
    return ERR_OK;
}

err_code
store_sreq_transition(struct store_conn *c, int64_t id, enum sreq_state from,
                      enum sreq_state to, const char *reason,
                      int64_t approver_id,
                      int64_t approved_ms, int64_t expires_ms, int64_t now_ms,
                      struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SREQ_TRANSITION, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, sreq_state_name(to));
    db_bind_text(st, 2, reason);
    db_bind_id(st, 3, approver_id);
    db_bind_id(st, 4, approved_ms);
    db_bind_id(st, 5, expires_ms);
    db_bind_i64(st, 6, now_ms);
    db_bind_i64(st, 7, id);
    db_bind_text(st, 8, sreq_state_name(from));
    return db_step_changed(st, e, ERR_CONFLICT, "signing request %lld is not %s",
                           (long long)id, sreq_state_name(from));
}

err_code
store_sreq_list(struct store_conn *c, int64_t reader_id,
                const int64_t *scope, size_t nscope,
                const int64_t *approve_scope, size_t napprove,
                const struct store_sreq_filter *f, int64_t after, int limit,
                store_sreq_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st;
    struct store_sreq r;
    enum db_row row;
    err_code rc;

    if (nscope > STORE_MAX_ROLES || napprove > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "request list: scope too large");
    if ((st = db_prep(c->dbc, DB_SREQ_LIST, e)) == NULL)
        return db_prep_failed(e);
    db_bind_id_set(st, 1, scope, nscope);
    db_bind_id_set(st, 2, approve_scope, napprove);
    db_bind_i64(st, 3, after);
    db_bind_i64(st, 4, reader_id);
    db_bind_text(st, 5, f->state != SREQ_NONE ? sreq_state_name(f->state)
                                              : NULL);
    db_bind_i64(st, 6, f->org_id);
    db_bind_text(st, 7, f->esid);
    db_bind_i64(st, 8, f->submitted_by_reader != 0);
    db_bind_i64(st, 9, f->waiting_for_reader != 0);
    db_bind_int(st, 10, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        sreq_row(st, &r);
        if ((rc = fn(ctx, &r)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_sealed_insert(struct store_conn *c, const struct store_sealed *s,
                    const uint8_t *sig_der, size_t sig_len,
                    const uint8_t *data, size_t len, int64_t *id_out,
                    struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEALED_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, s->request_id);
    db_bind_i64(st, 2, s->document_id);
    db_bind_id(st, 3, s->base_id);
    db_bind_i64(st, 4, s->size_bytes);
    db_bind_bytes(st, 5, s->sm3, sizeof(s->sm3));
    db_bind_bytes(st, 6, data, len);
    db_bind_i64(st, 7, s->created_ms);
    db_bind_bytes(st, 8, sig_der, sig_len);
    return db_step_later(st, id_out, e, ERR_OK, NULL);
}

err_code
store_sealed_get(struct store_conn *c, int64_t id, struct store_sealed *out,
                 uint8_t **data, size_t *len, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEALED_GET, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "sealed OFD", e)) != ERR_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    out->id = db_col_i64(st, 0);
    out->request_id = db_col_i64(st, 1);
    out->document_id = db_col_i64(st, 2);
    out->signature_id = db_col_i64(st, 3);
    out->base_id = db_col_i64(st, 4);
    out->size_bytes = db_col_i64(st, 5);
    col_sm3(st, 6, out->sm3);
    out->created_ms = db_col_i64(st, 7);
    rc = ERR_OK;
    if (data != NULL)
        rc = db_col_dup(st, 8, data, len, e);
    db_release(st);
    return rc;
}

err_code
store_sdoc_insert(struct store_conn *c, int64_t request_id, const char *name,
                  int64_t size, const uint8_t sm3[32], const void *data,
                  size_t data_len, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SDOC_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, request_id);
    db_bind_text(st, 2, name);
    db_bind_i64(st, 3, size);
    db_bind_bytes(st, 4, sm3, 32);
    if (data != NULL)
        db_bind_bytes(st, 5, data, data_len);
    else
        db_bind_null(st, 5);
    return db_step_done(st, e);
}

err_code
store_sdoc_list(struct store_conn *c, int64_t request_id, store_sdoc_fn fn,
                void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SDOC_LIST, e);
    struct store_sdoc d;
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, request_id);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        memset(&d, 0, sizeof(d));
        d.id = db_col_i64(st, 0);
        d.request_id = db_col_i64(st, 1);
        db_col_copy(st, 2, d.name, sizeof(d.name));
        d.size_bytes = db_col_i64(st, 3);
        col_sm3(st, 4, d.sm3);
        d.has_data = db_col_int(st, 5);
        d.signatures = db_col_int(st, 6);
        if ((rc = fn(ctx, &d)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_sdoc_get(struct store_conn *c, int64_t id, struct store_sdoc *out,
               uint8_t **data, size_t *len, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SDOC_GET, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "document", e)) != ERR_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    out->id = db_col_i64(st, 0);
    out->request_id = db_col_i64(st, 1);
    db_col_copy(st, 2, out->name, sizeof(out->name));
    out->size_bytes = db_col_i64(st, 3);
    col_sm3(st, 4, out->sm3);
    out->has_data = db_col_int(st, 5);
    out->signatures = db_col_int(st, 6);
    rc = ERR_OK;
    if (data != NULL) {
        *data = NULL;
        *len = 0;
        if (out->has_data)
            rc = db_col_dup(st, 7, data, len, e);
    }
    db_release(st);
    return rc;
}

err_code
store_sdoc_set_data(struct store_conn *c, int64_t id, const void *data,
                    size_t len, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SDOC_SET_DATA, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_bytes(st, 1, data, len);
    db_bind_i64(st, 2, id);
    return db_step_changed(st, e, ERR_CONFLICT, "the document's bytes are "
                           "already there");
}

err_code
store_sdoc_take(struct store_conn *c, int64_t id, int64_t request_id,
                int64_t now_ms, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SDOC_TAKE, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    db_bind_i64(st, 2, request_id);
    db_bind_i64(st, 3, now_ms);
    return db_step_later(st, NULL, e, ERR_CONFLICT, "the approval of "
                         "request %lld no longer covers a signature of "
                         "document %lld", (long long)request_id,
                         (long long)id);
}

err_code
store_sreq_signed(struct store_conn *c, int64_t request_id, int64_t *n,
                  struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SREQ_SIGNED, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, request_id);
    if ((rc = db_step_row(st, "signatures", e)) != ERR_OK)
        return rc;
    *n = db_col_i64(st, 0);
    db_release(st);
    return ERR_OK;
}

err_code
store_sig_insert(struct store_conn *c, const struct store_sig *s,
                 const uint8_t *der, size_t len, int64_t *id_out,
                 struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SIG_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, s->request_id);
    db_bind_i64(st, 2, s->document_id);
    db_bind_i64(st, 3, s->seal_id);
    db_bind_i64(st, 4, s->org_id);
    db_bind_i64(st, 5, s->signer_id);
    db_bind_i64(st, 6, s->approver_id);
    db_bind_text(st, 7, s->client_addr);
    db_bind_text(st, 8, s->request_rid);
    db_bind_bytes(st, 9, s->data_sm3, 32);
    db_bind_i64(st, 10, s->ts_ms);
    db_bind_bytes(st, 11, der, len);
    db_bind_int(st, 12, s->token_checked != 0);
    return db_step_later(st, id_out, e, ERR_OK, NULL);
}

static void
sig_row(struct db_stmt *st, struct store_sig *s)
{
    memset(s, 0, sizeof(*s));
    s->id = db_col_i64(st, 0);
    s->request_id = db_col_i64(st, 1);
    s->document_id = db_col_i64(st, 2);
    s->seal_id = db_col_i64(st, 3);
    s->org_id = db_col_i64(st, 4);
    s->signer_id = db_col_i64(st, 5);
    s->approver_id = db_col_i64(st, 6);
    db_col_copy(st, 7, s->client_addr, sizeof(s->client_addr));
    db_col_copy(st, 8, s->request_rid, sizeof(s->request_rid));
    col_sm3(st, 9, s->data_sm3);
    s->ts_ms = db_col_i64(st, 10);
    s->token_checked = db_col_int(st, 11);
    s->token_suspect = db_col_int(st, 12);
}

err_code
store_sig_mark_suspect(struct store_conn *c, int64_t seal_id, int64_t *n,
                       struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SIG_MARK_SUSPECT, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, seal_id);
    if ((rc = db_step_done(st, e)) != ERR_OK)
        return rc;
    *n = db_changes(c->dbc);
    return ERR_OK;
}

err_code
store_sig_find(struct store_conn *c, int64_t seal_id,
               const uint8_t data_sm3[32], const uint8_t *der, size_t len,
               int *found, struct store_sig *out, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SIG_FIND, e);
    enum db_row row;
    err_code rc;

    *found = 0;
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, seal_id);
    db_bind_bytes(st, 2, data_sm3, 32);
    db_bind_bytes(st, 3, der, len);
    if ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        sig_row(st, out);
        *found = 1;
    }
    db_release(st);
    return rc;
}

err_code
store_sig_find_near(struct store_conn *c, int64_t seal_id, int64_t from_ms,
                    int64_t to_ms, const uint8_t *der, size_t len, int *found,
                    struct store_sig *out, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SIG_FIND_NEAR, e);
    enum db_row row;
    err_code rc;

    *found = 0;
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, seal_id);
    db_bind_i64(st, 2, from_ms);
    db_bind_i64(st, 3, to_ms);
    db_bind_bytes(st, 4, der, len);
    if ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        sig_row(st, out);
        *found = 1;
    }
    db_release(st);
    return rc;
}

err_code
store_sig_get(struct store_conn *c, int64_t id, struct store_sig *out,
              uint8_t **der, size_t *len, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SIG_GET, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "signature", e)) != ERR_OK)
        return rc;
    sig_row(st, out);
    rc = der != NULL ? db_col_dup(st, 13, der, len, e) : ERR_OK;
    db_release(st);
    return rc;
}

err_code
store_sig_list(struct store_conn *c, int64_t seal_id, int64_t org_id,
               int64_t from_ms, int64_t to_ms, int64_t after, int limit,
               store_sig_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SIG_LIST, e);
    struct store_sig s;
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, after);
    db_bind_i64(st, 2, seal_id);
    db_bind_i64(st, 3, seal_id);
    db_bind_i64(st, 4, org_id);
    db_bind_i64(st, 5, org_id);
    db_bind_i64(st, 6, from_ms);
    db_bind_i64(st, 7, to_ms);
    db_bind_int(st, 8, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        sig_row(st, &s);
        if ((rc = fn(ctx, &s)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_usage_summary(struct store_conn *c, int64_t seal_id, int64_t org_id,
                    int64_t from_ms, int64_t to_ms, store_usage_fn fn,
                    void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_USAGE_SUMMARY, e);
    struct store_usage u;
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, seal_id);
    db_bind_i64(st, 2, seal_id);
    db_bind_i64(st, 3, org_id);
    db_bind_i64(st, 4, org_id);
    db_bind_i64(st, 5, from_ms);
    db_bind_i64(st, 6, to_ms);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        memset(&u, 0, sizeof(u));
        u.seal_id = db_col_i64(st, 0);
        db_col_copy(st, 1, u.esid, sizeof(u.esid));
        db_col_copy(st, 2, u.seal_name, sizeof(u.seal_name));
        u.org_id = db_col_i64(st, 3);
        u.count = db_col_i64(st, 4);
        u.first_ms = db_col_i64(st, 5);
        u.last_ms = db_col_i64(st, 6);
        if ((rc = fn(ctx, &u)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_seal_touch(struct store_conn *c, int64_t seal_id, int64_t now_ms,
                 struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_TOUCH, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, now_ms);
    db_bind_i64(st, 2, seal_id);
    return db_step_later(st, NULL, e, ERR_CONFLICT, "seal %lld is no "
                         "longer usable", (long long)seal_id);
}
