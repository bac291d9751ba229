/*
 * store_datakey.c - the SQL of encryption at rest (store_datakey.h): the
 * data_keys rows and the walk over the encrypted blob columns.  What is
 * encrypted, and how, is the domain's (blobcrypt.c); here are bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "store_datakey.h"
#include "store_int.h"

err_code
store_data_key_insert(struct store_conn *c, const char *key_ref,
                      const uint8_t *wrapped, size_t wrapped_len,
                      int64_t now_ms, int64_t *id, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DATA_KEY_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, key_ref);
    db_bind_bytes(st, 2, wrapped, wrapped_len);
    db_bind_i64(st, 3, now_ms);
    return db_step_id(st, id, e);
}

err_code
store_data_key_retire_others(struct store_conn *c, int64_t keep_id,
                             int64_t now_ms, int64_t *n, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DATA_KEY_RETIRE_OTHERS, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, now_ms);
    db_bind_i64(st, 2, keep_id);
    if ((rc = db_step_done(st, e)) == ERR_OK)
        *n = db_changes(c->dbc);
    return rc;
}

err_code
store_data_key_rewrap(struct store_conn *c, int64_t id, const char *key_ref,
                      const uint8_t *wrapped, size_t wrapped_len,
                      struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DATA_KEY_REWRAP, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, key_ref);
    db_bind_bytes(st, 2, wrapped, wrapped_len);
    db_bind_i64(st, 3, id);
    return db_step_update_one(st, "data key", e);
}

err_code
store_data_key_refuse_plaintext(struct store_conn *c, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DATA_KEY_REFUSE_PLAINTEXT, e);

    if (st == NULL)
        return db_prep_failed(e);
    return db_step_done(st, e);
}

err_code
store_data_key_list(struct store_conn *c, store_data_key_fn fn, void *ctx,
                    struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DATA_KEY_LIST, e);
    struct store_data_key k;
    enum db_row row;
    const void *w;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        memset(&k, 0, sizeof(k));
        k.id = db_col_i64(st, 0);
        db_col_copy(st, 1, k.key_ref, sizeof(k.key_ref));
        w = db_col_bytes(st, 2, &k.wrapped_len);
        if (k.wrapped_len > sizeof(k.wrapped)) {
            rc = err_set(e, ERR_DB, "data key %lld: wrap of %zu bytes",
                         (long long)k.id, k.wrapped_len);
            break;
        }
        memcpy(k.wrapped, w, k.wrapped_len);
        k.active = strcmp(db_col_text(st, 3) ? db_col_text(st, 3) : "",
                          "active") == 0;
        k.created_ms = db_col_i64(st, 4);
        k.retired_ms = db_col_i64(st, 5);
        k.plaintext_refused = db_col_int(st, 6) != 0;
        if ((rc = fn(ctx, &k, e)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

/* The statements of each blob column: the next row, the replacement. */
static const struct {
    enum db_stmt_id next, replace;
} blob_stmts[STORE_BLOB__COUNT] = {
    [STORE_BLOB_MATERIAL] = {DB_BLOB_MATERIAL_NEXT, DB_BLOB_MATERIAL_REPLACE},
    [STORE_BLOB_IMAGE] = {DB_BLOB_IMAGE_NEXT, DB_BLOB_IMAGE_REPLACE},
    [STORE_BLOB_DOCUMENT] = {DB_BLOB_DOCUMENT_NEXT, DB_BLOB_DOCUMENT_REPLACE},
    [STORE_BLOB_SEALED] = {DB_BLOB_SEALED_NEXT, DB_BLOB_SEALED_REPLACE},
};

err_code
store_blob_next(struct store_conn *c, enum store_blob_kind kind,
                int64_t after, struct store_blob *out, struct err *e)
{
    struct db_stmt *st;
    const void *h;
    size_t n;
    err_code rc;

    memset(out, 0, sizeof(*out));
    if ((unsigned)kind >= STORE_BLOB__COUNT)
        return err_set(e, ERR_INTERNAL, "blob kind %d", (int)kind);
    if ((st = db_prep(c->dbc, blob_stmts[kind].next, e)) == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, after);
    if ((rc = db_step_row(st, "blob", e)) != ERR_OK)
        return rc;
    out->id = db_col_i64(st, 0);
    out->owner = db_col_i64(st, 1);
    h = db_col_bytes(st, 2, &n);
    if (n == sizeof(out->sm3))
        memcpy(out->sm3, h, n);
    rc = db_col_dup(st, 3, &out->data, &out->len, e);
    db_release(st);
    return rc;
}

err_code
store_blob_replace(struct store_conn *c, enum store_blob_kind kind,
                   int64_t id, const uint8_t *old, size_t old_len,
                   const uint8_t *new_data, size_t new_len, int *changed,
                   struct err *e)
{
    struct db_stmt *st;
    err_code rc;

    *changed = 0;
    if ((unsigned)kind >= STORE_BLOB__COUNT)
        return err_set(e, ERR_INTERNAL, "blob kind %d", (int)kind);
    if ((st = db_prep(c->dbc, blob_stmts[kind].replace, e)) == NULL)
        return db_prep_failed(e);
    db_bind_bytes(st, 1, new_data, new_len);
    db_bind_i64(st, 2, id);
    db_bind_bytes(st, 3, old, old_len);
    if ((rc = db_step_done(st, e)) == ERR_OK)
        *changed = db_changes(c->dbc) == 1;
    return rc;
}
