/*
 * store_identity.c - the SQL of identity bindings (store_identity.h): who
 * an identity platform's subject is in seald.  What a binding may be (who
 * binds, which accounts) is decided by the domain (idtoken.c, sod.c).
 */
#include <string.h>

#include "store_identity.h"
#include "store_int.h"

err_code
store_identity_insert(struct store_conn *c, const char *issuer,
                      const char *claim, const char *subject,
                      int64_t account_id, int64_t created_by, int64_t now_ms,
                      int64_t *id_out, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_IDENTITY_INSERT, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, issuer);
    db_bind_text(st, 2, claim);
    db_bind_text(st, 3, subject);
    db_bind_i64(st, 4, account_id);
    db_bind_i64(st, 5, now_ms);
    db_bind_id(st, 6, created_by);
    rc = db_step_id(st, id_out, e);
    if (rc == ERR_CONFLICT)
        return err_set(e, ERR_CONFLICT, "this identity is bound to an "
                       "account already");
    return rc;
}

err_code
store_identity_lookup(struct store_conn *c, const char *issuer,
                      const char *claim, const char *subject,
                      int64_t *account_id, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_IDENTITY_LOOKUP, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, issuer);
    db_bind_text(st, 2, claim);
    db_bind_text(st, 3, subject);
    if ((rc = db_step_row(st, "identity binding", e)) != ERR_OK)
        return rc;
    *account_id = db_col_i64(st, 1);
    db_release(st);
    return ERR_OK;
}

err_code
store_identity_list(struct store_conn *c, int64_t account_id,
                    store_identity_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_IDENTITY_LIST, e);
    struct store_identity b;
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, account_id);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        memset(&b, 0, sizeof(b));
        b.id = db_col_i64(st, 0);
        db_col_copy(st, 1, b.issuer, sizeof(b.issuer));
        db_col_copy(st, 2, b.claim, sizeof(b.claim));
        db_col_copy(st, 3, b.subject, sizeof(b.subject));
        b.account_id = db_col_i64(st, 4);
        b.created_ms = db_col_i64(st, 5);
        b.created_by = db_col_i64(st, 6);
        if ((rc = fn(ctx, &b)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_identity_remove(struct store_conn *c, int64_t id, int64_t account_id,
                      int64_t removed_by, int64_t now_ms, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_IDENTITY_REMOVE, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, now_ms);
    db_bind_id(st, 2, removed_by);
    db_bind_i64(st, 3, id);
    db_bind_i64(st, 4, account_id);
    return db_step_changed(st, e, ERR_NOT_FOUND, "no binding %lld in force "
                           "for account %lld", (long long)id,
                           (long long)account_id);
}
