/*
 * store_seal.c - seal applications, their materials, and the state
 * history of applications and seals (the statements: db_stmt.c).
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "store_seal.h"
#include "util.h"

static void
app_row(struct db_stmt *st, struct store_app *a)
{
    const void *sm3;
    size_t n;

    memset(a, 0, sizeof(*a));
    a->id = db_col_i64(st, 0);
    a->org_id = db_col_i64(st, 1);
    a->applicant_id = db_col_i64(st, 2);
    db_col_copy(st, 3, a->purpose, sizeof(a->purpose));
    a->replaces_seal_id = db_col_i64(st, 4);
    db_col_copy(st, 5, a->kind, sizeof(a->kind));
    db_col_copy(st, 6, a->subkind, sizeof(a->subkind));
    db_col_copy(st, 7, a->business, sizeof(a->business));
    db_col_copy(st, 8, a->position, sizeof(a->position));
    db_col_copy(st, 9, a->seal_name, sizeof(a->seal_name));
    a->custodian_id = db_col_i64(st, 10);
    db_col_copy(st, 11, a->image_type, sizeof(a->image_type));
    sm3 = db_col_bytes(st, 12, &n);
    if (n == sizeof(a->image_sm3))
        memcpy(a->image_sm3, sm3, n);
    a->width_px = db_col_int(st, 13);
    a->height_px = db_col_int(st, 14);
    a->width_mm = db_col_int(st, 15);
    a->height_mm = db_col_int(st, 16);
    db_col_copy(st, 17, a->reason, sizeof(a->reason));
    a->state = app_state_parse(db_col_text(st, 18));
    db_col_copy(st, 19, a->state_reason, sizeof(a->state_reason));
    a->reviewer_id = db_col_i64(st, 20);
    a->revision = db_col_int(st, 21);
    a->created_ms = db_col_i64(st, 22);
    a->updated_ms = db_col_i64(st, 23);
    db_col_copy(st, 24, a->holder_key, sizeof(a->holder_key));
}

static const char *
opt(const char *s)
{
    return s[0] ? s : NULL;
}

err_code
store_app_insert(struct store_conn *c, const struct store_app *a,
                 const void *image, size_t image_len, int64_t *id_out,
                 struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_APP_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, a->org_id);
    db_bind_i64(st, 2, a->applicant_id);
    db_bind_text(st, 3, a->purpose);
    db_bind_id(st, 4, a->replaces_seal_id);
    db_bind_text(st, 5, a->kind);
    db_bind_text(st, 6, opt(a->subkind));
    db_bind_text(st, 7, opt(a->business));
    db_bind_text(st, 8, opt(a->position));
    db_bind_text(st, 9, a->seal_name);
    db_bind_i64(st, 10, a->custodian_id);
    db_bind_bytes(st, 11, image, image_len);
    db_bind_text(st, 12, a->image_type);
    db_bind_bytes(st, 13, a->image_sm3, sizeof(a->image_sm3));
    db_bind_int(st, 14, a->width_px);
    db_bind_int(st, 15, a->height_px);
    db_bind_int(st, 16, a->width_mm);
    db_bind_int(st, 17, a->height_mm);
    db_bind_text(st, 18, opt(a->reason));
    db_bind_text(st, 19, app_state_name(a->state));
    db_bind_int(st, 20, a->revision);
    db_bind_i64(st, 21, a->created_ms);
    db_bind_i64(st, 22, a->updated_ms);
    return db_step_id(st, id_out, e);
}

err_code
store_app_replace(struct store_conn *c, const struct store_app *a,
                  const void *image, size_t image_len, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_APP_REPLACE, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, a->kind);
    db_bind_text(st, 2, opt(a->subkind));
    db_bind_text(st, 3, opt(a->business));
    db_bind_text(st, 4, opt(a->position));
    db_bind_text(st, 5, a->seal_name);
    db_bind_i64(st, 6, a->custodian_id);
    db_bind_bytes(st, 7, image, image_len);
    db_bind_text(st, 8, a->image_type);
    db_bind_bytes(st, 9, a->image_sm3, sizeof(a->image_sm3));
    db_bind_int(st, 10, a->width_px);
    db_bind_int(st, 11, a->height_px);
    db_bind_int(st, 12, a->width_mm);
    db_bind_int(st, 13, a->height_mm);
    db_bind_text(st, 14, opt(a->reason));
    db_bind_i64(st, 15, a->updated_ms);
    db_bind_i64(st, 16, a->id);
    return db_step_update_one(st, "application", e);
}

err_code
store_app_get(struct store_conn *c, int64_t id, struct store_app *out,
              struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_APP_GET, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "application", e)) != ERR_OK)
        return rc;
    app_row(st, out);
    db_release(st);
    return ERR_OK;
}

err_code
store_app_image(struct store_conn *c, int64_t id, uint8_t **buf, size_t *len,
                struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_APP_IMAGE, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "application", e)) != ERR_OK)
        return rc;
    rc = db_col_dup(st, 0, buf, len, e);
    db_release(st);
    return rc;
}

err_code
store_app_impression_set(struct store_conn *c, int64_t id,
                         const struct store_impression_check *check,
                         struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_APP_IMPRESSION_SET, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, check->code);
    db_bind_text(st, 2, check->outcome);
    if (check->filed_sm3[0] != '\0')
        db_bind_text(st, 3, check->filed_sm3);
    else
        db_bind_null(st, 3);
    db_bind_text(st, 4, check->compared_sm3);
    db_bind_id(st, 5, check->checked_by);
    db_bind_i64(st, 6, check->checked_ms);
    db_bind_i64(st, 7, id);
    return db_step_update_one(st, "application", e);
}

err_code
store_app_impression_get(struct store_conn *c, int64_t id,
                         struct store_impression_check *out, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_APP_IMPRESSION_GET, e);
    err_code rc;

    memset(out, 0, sizeof(*out));
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "application", e)) != ERR_OK)
        return rc;
    db_col_copy(st, 0, out->code, sizeof(out->code));
    db_col_copy(st, 1, out->outcome, sizeof(out->outcome));
    db_col_copy(st, 2, out->filed_sm3, sizeof(out->filed_sm3));
    db_col_copy(st, 3, out->compared_sm3, sizeof(out->compared_sm3));
    out->checked_by = db_col_i64(st, 4);
    out->checked_ms = db_col_i64(st, 5);
    db_release(st);
    return ERR_OK;
}

err_code
store_app_transition(struct store_conn *c, int64_t id, enum app_state from,
                     enum app_state to, const char *reason,
                     int64_t reviewer_id, int64_t now_ms, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_APP_TRANSITION, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, app_state_name(to));
    db_bind_text(st, 2, reason);
    db_bind_id(st, 3, reviewer_id);
    db_bind_i64(st, 4, now_ms);
    db_bind_i64(st, 5, id);
    db_bind_text(st, 6, app_state_name(from));
    return db_step_changed(st, e, ERR_CONFLICT, "application %lld is not %s",
                           (long long)id, app_state_name(from));
}

err_code
store_app_list(struct store_conn *c, int64_t reader_id, const int64_t *scope,
               size_t nscope, int64_t org_id, enum app_state state,
               int64_t after, int limit, store_app_fn fn, void *ctx,
               struct err *e)
{
    struct db_stmt *st;
    struct store_app a;
    enum db_row row;
    err_code rc;

    if (nscope > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "application list: scope too large");
    if ((st = db_prep(c->dbc, DB_APP_LIST, e)) == NULL)
        return db_prep_failed(e);
    db_bind_id_set(st, 1, scope, nscope);
    db_bind_i64(st, 2, after);
    db_bind_i64(st, 3, reader_id);
    db_bind_i64(st, 4, org_id);
    db_bind_text(st, 5, state != APP_NONE ? app_state_name(state) : NULL);
    db_bind_int(st, 6, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        app_row(st, &a);
        if ((rc = fn(ctx, &a)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_material_insert(struct store_conn *c, int64_t app_id,
                      const struct store_material *m, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_MATERIAL_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, app_id);
    db_bind_int(st, 2, m->revision);
    db_bind_text(st, 3, m->name);
    db_bind_text(st, 4, m->media_type);
    db_bind_i64(st, 5, m->size_bytes);
    db_bind_bytes(st, 6, m->sm3, sizeof(m->sm3));
    db_bind_bytes(st, 7, m->data, m->data_len);
    db_bind_i64(st, 8, util_now_ms());
    db_bind_text(st, 9, m->type[0] ? m->type : "other");
    return db_step_done(st, e);
}

/* A material's row in the column order of DB_MATERIAL_LIST and _GET. */
static void
material_row(struct db_stmt *st, struct store_material *m)
{
    const void *sm3;
    size_t n;

    memset(m, 0, sizeof(*m));
    m->id = db_col_i64(st, 0);
    m->revision = db_col_int(st, 1);
    db_col_copy(st, 2, m->name, sizeof(m->name));
    db_col_copy(st, 3, m->media_type, sizeof(m->media_type));
    m->size_bytes = db_col_i64(st, 4);
    sm3 = db_col_bytes(st, 5, &n);
    if (n == sizeof(m->sm3))
        memcpy(m->sm3, sm3, sizeof(m->sm3));
    db_col_copy(st, 6, m->type, sizeof(m->type));
    m->application_id = db_col_i64(st, 7);
}

err_code
store_material_get(struct store_conn *c, int64_t id,
                   struct store_material *out, uint8_t **data, size_t *len,
                   struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_MATERIAL_GET, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "material", e)) != ERR_OK)
        return rc;
    material_row(st, out);
    rc = ERR_OK;
    if (data != NULL)
        rc = db_col_dup(st, 8, data, len, e);
    db_release(st);
    return rc;
}

err_code
store_material_list(struct store_conn *c, int64_t app_id,
                    store_material_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_MATERIAL_LIST, e);
    struct store_material m;
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, app_id);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        material_row(st, &m);
        if ((rc = fn(ctx, &m)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_history_insert(struct store_conn *c, const char *type, int64_t id,
                     const char *from, const char *to, int64_t actor_id,
                     int64_t now_ms, const char *reason, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_HISTORY_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, type);
    db_bind_i64(st, 2, id);
    db_bind_text(st, 3, from);
    db_bind_text(st, 4, to);
    db_bind_id(st, 5, actor_id);
    db_bind_i64(st, 6, now_ms);
    db_bind_text(st, 7, reason);
    return db_step_done(st, e);
}

err_code
store_history_list(struct store_conn *c, const char *type, int64_t id,
                   store_history_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_HISTORY_LIST, e);
    struct store_history h;
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, type);
    db_bind_i64(st, 2, id);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        h.id = db_col_i64(st, 0);
        db_col_copy(st, 1, h.from_state, sizeof(h.from_state));
        db_col_copy(st, 2, h.to_state, sizeof(h.to_state));
        h.actor_id = db_col_i64(st, 3);
        h.ts_ms = db_col_i64(st, 4);
        db_col_copy(st, 5, h.reason, sizeof(h.reason));
        if ((rc = fn(ctx, &h)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_authority_put(struct store_conn *c, const char *role,
                    const char *key_ref, const uint8_t *der, size_t len,
                    int64_t now_ms, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_AUTHORITY_PUT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, role);
    db_bind_text(st, 2, key_ref);
    db_bind_bytes(st, 3, der, len);
    db_bind_i64(st, 4, now_ms);
    return db_step_done(st, e);
}

err_code
store_authority_get(struct store_conn *c, const char *role, char *key_ref,
                    size_t cap, uint8_t **der, size_t *len, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_AUTHORITY_GET, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, role);
    if ((rc = db_step_row(st, "authority", e)) != ERR_OK)
        return rc;
    db_col_copy(st, 0, key_ref, cap);
    rc = db_col_dup(st, 1, der, len, e);
    db_release(st);
    return rc;
}

/* ---- seals ---- */

static void
seal_row(struct db_stmt *st, struct store_seal *s)
{
    memset(s, 0, sizeof(*s));
    s->id = db_col_i64(st, 0);
    db_col_copy(st, 1, s->esid, sizeof(s->esid));
    db_col_copy(st, 2, s->lineage_esid, sizeof(s->lineage_esid));
    s->application_id = db_col_i64(st, 3);
    s->org_id = db_col_i64(st, 4);
    db_col_copy(st, 5, s->kind, sizeof(s->kind));
    db_col_copy(st, 6, s->name, sizeof(s->name));
    s->custodian_id = db_col_i64(st, 7);
    s->state = seal_state_parse(db_col_text(st, 8));
    s->state_since_ms = db_col_i64(st, 9);
    db_col_copy(st, 10, s->reason_code, sizeof(s->reason_code));
    s->version = db_col_int(st, 11);
    db_col_copy(st, 12, s->holder_key, sizeof(s->holder_key));
    s->valid_start_ms = db_col_i64(st, 13);
    s->valid_end_ms = db_col_i64(st, 14);
    s->predecessor_id = db_col_i64(st, 15);
    s->made_by = db_col_i64(st, 16);
    s->made_ms = db_col_i64(st, 17);
    s->confirmed_ms = db_col_i64(st, 18);
    db_col_copy(st, 19, s->filing_state, sizeof(s->filing_state));
    s->filed_ms = db_col_i64(st, 20);
    s->last_used_ms = db_col_i64(st, 21);
    db_col_copy(st, 22, s->hold, sizeof(s->hold));
    s->before_loss = seal_state_parse(db_col_text(st, 23));
    s->change_required_ms = db_col_i64(st, 24);
}

err_code
store_seal_insert(struct store_conn *c, const struct store_seal *s,
                  const uint8_t *seal_der, size_t seal_len,
                  const uint8_t *cert_der, size_t cert_len, int64_t *id_out,
                  struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, s->esid);
    db_bind_text(st, 2, s->lineage_esid);
    db_bind_i64(st, 3, s->application_id);
    db_bind_i64(st, 4, s->org_id);
    db_bind_text(st, 5, s->kind);
    db_bind_text(st, 6, s->name);
    db_bind_i64(st, 7, s->custodian_id);
    db_bind_text(st, 8, seal_state_name(s->state));
    db_bind_i64(st, 9, s->state_since_ms);
    db_bind_int(st, 10, s->version);
    db_bind_bytes(st, 11, seal_der, seal_len);
    db_bind_bytes(st, 12, cert_der, cert_len);
    db_bind_text(st, 13, s->holder_key);
    db_bind_i64(st, 14, s->valid_start_ms);
    db_bind_i64(st, 15, s->valid_end_ms);
    db_bind_id(st, 16, s->predecessor_id);
    db_bind_id(st, 17, s->made_by);
    db_bind_i64(st, 18, s->made_ms);
    return db_step_id(st, id_out, e);
}

err_code
store_seal_get(struct store_conn *c, const char *esid, struct store_seal *out,
               struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_GET, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, esid);
    if ((rc = db_step_row(st, "seal", e)) != ERR_OK)
        return rc;
    seal_row(st, out);
    db_release(st);
    return ERR_OK;
}

err_code
store_seal_get_id(struct store_conn *c, int64_t id, struct store_seal *out,
                  struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_GET_ID, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "seal", e)) != ERR_OK)
        return rc;
    seal_row(st, out);
    db_release(st);
    return ERR_OK;
}

err_code
store_seal_blob(struct store_conn *c, int64_t id, const char *which,
                uint8_t **buf, size_t *len, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_BLOB, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, which);
    db_bind_i64(st, 2, id);
    if ((rc = db_step_row(st, "seal", e)) != ERR_OK)
        return rc;
    rc = db_col_dup(st, 0, buf, len, e);
    db_release(st);
    return rc;
}

err_code
store_seal_transition(struct store_conn *c, int64_t id,
                      const struct store_seal_move *m, int64_t now_ms,
                      struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_TRANSITION, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, seal_state_name(m->to));
    db_bind_i64(st, 2, now_ms);
    db_bind_text(st, 3, m->reason_code);
    db_bind_text(st, 4, m->hold);
    db_bind_text(st, 5, m->before_loss != SEAL_NONE
                        ? seal_state_name(m->before_loss) : NULL);
    db_bind_i64(st, 6, id);
    db_bind_text(st, 7, seal_state_name(m->from));
    return db_step_changed(st, e, ERR_CONFLICT, "seal is not %s",
                           seal_state_name(m->from));
}

err_code
store_seal_flag_change(struct store_conn *c, int64_t id, int64_t now_ms,
                       int *flagged, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_FLAG_CHANGE, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, now_ms);
    db_bind_i64(st, 2, id);
    if ((rc = db_step_done(st, e)) != ERR_OK)
        return rc;
    *flagged = db_changes(c->dbc) > 0;
    return ERR_OK;
}

err_code
store_seal_confirmed(struct store_conn *c, int64_t id, int64_t now_ms,
                     struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_CONFIRMED, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, now_ms);
    db_bind_i64(st, 2, id);
    return db_step_update_one(st, "seal", e);
}

err_code
store_seal_filed(struct store_conn *c, int64_t id, int64_t now_ms,
                 struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_FILED, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, now_ms);
    db_bind_i64(st, 2, id);
    return db_step_changed(st, e, ERR_CONFLICT, "seal is already filed");
}

/* Step a bound seal query, calling fn for each row; an error of fn stops
 * the walk and is returned.  Releases the statement. */
static err_code
seal_walk(struct db_stmt *st, store_seal_fn fn, void *ctx, struct err *e)
{
    struct store_seal s;
    enum db_row row;
    err_code rc;

    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        seal_row(st, &s);
        if ((rc = fn(ctx, &s)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_seal_list(struct store_conn *c, const struct store_seal_reader *r,
                int64_t org_id, const char *kind, enum seal_state state,
                int64_t expiring_before_ms, int64_t after, int limit,
                store_seal_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st;

    if (r->nscope > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "seal list: scope too large");
    if ((st = db_prep(c->dbc, DB_SEAL_LIST, e)) == NULL)
        return db_prep_failed(e);
    db_bind_id_set(st, 1, r->scope_orgs, r->nscope);
    db_bind_i64(st, 2, after);
    db_bind_i64(st, 3, r->reader_id);
    db_bind_i64(st, 4, org_id);
    db_bind_text(st, 5, kind);
    db_bind_text(st, 6, state != SEAL_NONE ? seal_state_name(state)
                                           : NULL);
    db_bind_i64(st, 7, expiring_before_ms);
    db_bind_int(st, 8, limit);
    return seal_walk(st, fn, ctx, e);
}

err_code
store_status_list_count(struct store_conn *c, int64_t cutoff_ms, int64_t *n,
                        struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_STATUS_LIST_COUNT, e);
    err_code rc;

    *n = 0;
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, cutoff_ms);
    if ((rc = db_step_row(st, "count", e)) != ERR_OK)
        return rc;
    *n = db_col_i64(st, 0);
    db_release(st);
    return ERR_OK;
}

err_code
store_status_list_nth(struct store_conn *c, int64_t cutoff_ms,
                      int64_t offset, char esid[STORE_ESID_MAX],
                      struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_STATUS_LIST_NTH, e);
    err_code rc;

    esid[0] = '\0';
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, cutoff_ms);
    db_bind_i64(st, 2, offset);
    if ((rc = db_step_row(st, "status list entry", e)) != ERR_OK)
        return rc;
    db_col_copy(st, 0, esid, STORE_ESID_MAX);
    db_release(st);
    return ERR_OK;
}

err_code
store_status_list_page(struct store_conn *c, int64_t cutoff_ms,
                       const char *after, int limit, store_seal_fn fn,
                       void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_STATUS_LIST_PAGE, e);
    struct store_seal s;
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, cutoff_ms);
    db_bind_text(st, 2, after);
    db_bind_int(st, 3, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        memset(&s, 0, sizeof(s));
        db_col_copy(st, 0, s.esid, sizeof(s.esid));
        s.state = seal_state_parse(db_col_text(st, 1));
        s.state_since_ms = db_col_i64(st, 2);
        db_col_copy(st, 3, s.reason_code, sizeof(s.reason_code));
        s.valid_end_ms = db_col_i64(st, 4);
        if ((rc = fn(ctx, &s)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_seal_status_get(struct store_conn *c, const char *key, int by_hash,
                      struct store_seal *out, char sm3_hex[65],
                      struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, by_hash ? DB_SEAL_STATUS_BY_SM3
                                                 : DB_SEAL_STATUS_BY_ESID, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, key);
    if ((rc = db_step_row(st, "seal", e)) != ERR_OK)
        return rc;
    seal_row(st, out);
    db_col_copy(st, 25, sm3_hex, 65);
    db_release(st);
    return ERR_OK;
}

err_code
store_seal_set_sm3(struct store_conn *c, int64_t id, const char *sm3_hex,
                   struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_SET_SM3, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    db_bind_text(st, 2, sm3_hex);
    return db_step_done(st, e);
}

err_code
store_seal_list_no_sm3(struct store_conn *c, int64_t after, int limit,
                       store_seal_der_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_LIST_NO_SM3, e);
    enum db_row row;
    const void *der;
    size_t len;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, after);
    db_bind_int(st, 2, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        der = db_col_bytes(st, 1, &len);
        if ((rc = fn(ctx, db_col_i64(st, 0), der, len)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_seal_list_active_subtree(struct store_conn *c, int64_t org_id,
                               store_seal_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_LIST_ACTIVE_SUBTREE, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, org_id);
    return seal_walk(st, fn, ctx, e);
}

err_code
store_seal_list_legal_name(struct store_conn *c, int64_t org_id,
                           store_seal_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_LIST_LEGAL_NAME, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, org_id);
    return seal_walk(st, fn, ctx, e);
}

err_code
store_seal_list_stale(struct store_conn *c, int64_t before_ms, int64_t now_ms,
                      store_seal_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_LIST_STALE, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, before_ms);
    db_bind_i64(st, 2, now_ms);
    return seal_walk(st, fn, ctx, e);
}

err_code
store_esid_next(struct store_conn *c, const char *region, int64_t *seq,
                struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ESID_BUMP, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, region);
    if ((rc = db_step_done(st, e)) != ERR_OK)
        return rc;
    if ((st = db_prep(c->dbc, DB_ESID_GET, e)) == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, region);
    if ((rc = db_step_row(st, "esid counter", e)) != ERR_OK)
        return rc;
    *seq = db_col_i64(st, 0);
    db_release(st);
    return ERR_OK;
}

err_code
store_app_set_holder_key(struct store_conn *c, int64_t id,
                         const char *key_ref, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_APP_SET_HOLDER_KEY, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, key_ref);
    db_bind_i64(st, 2, id);
    return db_step_update_one(st, "application", e);
}

/* The copy's id comes back by RETURNING; no row means no application
 * from_app to copy (db_step_id would call that an internal error). */
err_code
store_app_copy(struct store_conn *c, int64_t from_app, int64_t applicant_id,
               const char *purpose, int64_t seal_id, const char *reason,
               int64_t now_ms, int64_t *id_out, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_APP_COPY, e);
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, applicant_id);
    db_bind_text(st, 2, purpose);
    db_bind_i64(st, 3, seal_id);
    db_bind_text(st, 4, reason);
    db_bind_i64(st, 5, now_ms);
    db_bind_i64(st, 6, now_ms);
    db_bind_i64(st, 7, from_app);
    if ((rc = db_step(st, &row, e)) == ERR_OK) {
        if (row == DB_ROW)
            *id_out = db_col_i64(st, 0);
        else
            rc = err_set(e, ERR_NOT_FOUND, "no application %lld",
                         (long long)from_app);
    }
    db_release(st);
    return rc;
}

err_code
store_seal_count_by_state(struct store_conn *c,
                          int64_t counts[SEAL_STATE__COUNT], struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_SEAL_COUNT_BY_STATE, e);
    enum db_row row;
    err_code rc;

    memset(counts, 0, sizeof(int64_t) * SEAL_STATE__COUNT);
    if (st == NULL)
        return db_prep_failed(e);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW)
        counts[seal_state_parse(db_col_text(st, 0))] += db_col_i64(st, 1);
    db_release(st);
    return rc;
}
