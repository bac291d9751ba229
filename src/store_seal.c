/*
 * store_seal.c - the SQL of seal applications, their materials, and the
 * state history of applications and seals.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "util.h"

#define APP_COLS "id, org_id, applicant_id, purpose, " \
    "coalesce(replaces_seal_id, 0), kind, coalesce(subkind, ''), " \
    "coalesce(business, ''), coalesce(position, ''), seal_name, " \
    "custodian_id, image_type, image_sm3, image_width_px, image_height_px, " \
    "width_mm, height_mm, coalesce(reason, ''), state, " \
    "coalesce(state_reason, ''), coalesce(reviewer_id, 0), revision, " \
    "created_ms, updated_ms"

static void
app_row(sqlite3_stmt *st, struct store_app *a)
{
    int n;

    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(st, 0);
    a->org_id = sqlite3_column_int64(st, 1);
    a->applicant_id = sqlite3_column_int64(st, 2);
    st_copy_col(st, 3, a->purpose, sizeof(a->purpose));
    a->replaces_seal_id = sqlite3_column_int64(st, 4);
    st_copy_col(st, 5, a->kind, sizeof(a->kind));
    st_copy_col(st, 6, a->subkind, sizeof(a->subkind));
    st_copy_col(st, 7, a->business, sizeof(a->business));
    st_copy_col(st, 8, a->position, sizeof(a->position));
    st_copy_col(st, 9, a->seal_name, sizeof(a->seal_name));
    a->custodian_id = sqlite3_column_int64(st, 10);
    st_copy_col(st, 11, a->image_type, sizeof(a->image_type));
    n = sqlite3_column_bytes(st, 12);
    if (n == (int)sizeof(a->image_sm3))
        memcpy(a->image_sm3, sqlite3_column_blob(st, 12), (size_t)n);
    a->width_px = sqlite3_column_int(st, 13);
    a->height_px = sqlite3_column_int(st, 14);
    a->width_mm = sqlite3_column_int(st, 15);
    a->height_mm = sqlite3_column_int(st, 16);
    st_copy_col(st, 17, a->reason, sizeof(a->reason));
    st_copy_col(st, 18, a->state, sizeof(a->state));
    st_copy_col(st, 19, a->state_reason, sizeof(a->state_reason));
    a->reviewer_id = sqlite3_column_int64(st, 20);
    a->revision = sqlite3_column_int(st, 21);
    a->created_ms = sqlite3_column_int64(st, 22);
    a->updated_ms = sqlite3_column_int64(st, 23);
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
    static const char sql[] =
        "INSERT INTO applications (org_id, applicant_id, purpose, "
        "replaces_seal_id, kind, subkind, business, position, seal_name, "
        "custodian_id, image, image_type, image_sm3, image_width_px, "
        "image_height_px, width_mm, height_mm, reason, state, revision, "
        "created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, a->org_id);
    sqlite3_bind_int64(st, 2, a->applicant_id);
    st_bind_text(st, 3, a->purpose);
    st_bind_id(st, 4, a->replaces_seal_id);
    st_bind_text(st, 5, a->kind);
    st_bind_text(st, 6, opt(a->subkind));
    st_bind_text(st, 7, opt(a->business));
    st_bind_text(st, 8, opt(a->position));
    st_bind_text(st, 9, a->seal_name);
    sqlite3_bind_int64(st, 10, a->custodian_id);
    sqlite3_bind_blob(st, 11, image, (int)image_len, SQLITE_STATIC);
    st_bind_text(st, 12, a->image_type);
    sqlite3_bind_blob(st, 13, a->image_sm3, sizeof(a->image_sm3),
                      SQLITE_STATIC);
    sqlite3_bind_int(st, 14, a->width_px);
    sqlite3_bind_int(st, 15, a->height_px);
    sqlite3_bind_int(st, 16, a->width_mm);
    sqlite3_bind_int(st, 17, a->height_mm);
    st_bind_text(st, 18, opt(a->reason));
    st_bind_text(st, 19, a->state);
    sqlite3_bind_int(st, 20, a->revision);
    sqlite3_bind_int64(st, 21, a->created_ms);
    sqlite3_bind_int64(st, 22, a->updated_ms);
    if ((rc = st_step_done(c, st, e)) != ERR_OK)
        return rc;
    *id_out = sqlite3_last_insert_rowid(c->db);
    return ERR_OK;
}

err_code
store_app_replace(struct store_conn *c, const struct store_app *a,
                  const void *image, size_t image_len, struct err *e)
{
    static const char sql[] =
        "UPDATE applications SET kind = ?, subkind = ?, business = ?, "
        "position = ?, seal_name = ?, custodian_id = ?, image = ?, "
        "image_type = ?, image_sm3 = ?, image_width_px = ?, "
        "image_height_px = ?, width_mm = ?, height_mm = ?, reason = ?, "
        "revision = revision + 1, updated_ms = ? WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, a->kind);
    st_bind_text(st, 2, opt(a->subkind));
    st_bind_text(st, 3, opt(a->business));
    st_bind_text(st, 4, opt(a->position));
    st_bind_text(st, 5, a->seal_name);
    sqlite3_bind_int64(st, 6, a->custodian_id);
    sqlite3_bind_blob(st, 7, image, (int)image_len, SQLITE_STATIC);
    st_bind_text(st, 8, a->image_type);
    sqlite3_bind_blob(st, 9, a->image_sm3, sizeof(a->image_sm3),
                      SQLITE_STATIC);
    sqlite3_bind_int(st, 10, a->width_px);
    sqlite3_bind_int(st, 11, a->height_px);
    sqlite3_bind_int(st, 12, a->width_mm);
    sqlite3_bind_int(st, 13, a->height_mm);
    st_bind_text(st, 14, opt(a->reason));
    sqlite3_bind_int64(st, 15, a->updated_ms);
    sqlite3_bind_int64(st, 16, a->id);
    return st_step_update_one(c, st, "application", e);
}

err_code
store_app_get(struct store_conn *c, int64_t id, struct store_app *out,
              struct err *e)
{
    static const char sql[] =
        "SELECT " APP_COLS " FROM applications WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = st_step_row(c, st, "application", e)) != ERR_OK)
        return rc;
    app_row(st, out);
    sqlite3_reset(st);
    return ERR_OK;
}

err_code
store_app_image(struct store_conn *c, int64_t id, uint8_t **buf, size_t *len,
                struct err *e)
{
    static const char sql[] = "SELECT image FROM applications WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    int n;
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = st_step_row(c, st, "application", e)) != ERR_OK)
        return rc;
    n = sqlite3_column_bytes(st, 0);
    if ((*buf = malloc(n > 0 ? (size_t)n : 1)) == NULL) {
        sqlite3_reset(st);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    if (n > 0)
        memcpy(*buf, sqlite3_column_blob(st, 0), (size_t)n);
    *len = (size_t)n;
    sqlite3_reset(st);
    return ERR_OK;
}

err_code
store_app_transition(struct store_conn *c, int64_t id, const char *from,
                     const char *to, const char *reason, int64_t reviewer_id,
                     int64_t now_ms, struct err *e)
{
    static const char sql[] =
        "UPDATE applications SET state = ?, state_reason = ?, "
        "reviewer_id = coalesce(?, reviewer_id), updated_ms = ? "
        "WHERE id = ? AND state = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, to);
    st_bind_text(st, 2, reason);
    st_bind_id(st, 3, reviewer_id);
    sqlite3_bind_int64(st, 4, now_ms);
    sqlite3_bind_int64(st, 5, id);
    st_bind_text(st, 6, from);
    if ((rc = st_step_done(c, st, e)) != ERR_OK)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return err_set(e, ERR_CONFLICT, "application %lld is not %s",
                       (long long)id, from);
    return ERR_OK;
}

err_code
store_app_list(struct store_conn *c, int64_t org_id, const char *state,
               int64_t after, int limit, store_app_fn fn, void *ctx,
               struct err *e)
{
    static const char sql[] =
        "SELECT " APP_COLS " FROM applications WHERE id > ? AND "
        "(? = 0 OR org_id = ?) AND (? IS NULL OR state = ?) "
        "ORDER BY id LIMIT ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    struct store_app a;
    err_code out = ERR_OK;
    int rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, org_id);
    sqlite3_bind_int64(st, 3, org_id);
    st_bind_text(st, 4, state);
    st_bind_text(st, 5, state);
    sqlite3_bind_int(st, 6, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        app_row(st, &a);
        if ((out = fn(ctx, &a)) != ERR_OK)
            break;
    }
    if (out == ERR_OK && rc != SQLITE_DONE)
        out = st_db_err(c, e, "applications");
    sqlite3_reset(st);
    return out;
}

err_code
store_material_insert(struct store_conn *c, int64_t app_id,
                      const struct store_material *m, struct err *e)
{
    static const char sql[] =
        "INSERT INTO application_materials (application_id, revision, name, "
        "media_type, size_bytes, sm3, data, created_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, app_id);
    sqlite3_bind_int(st, 2, m->revision);
    st_bind_text(st, 3, m->name);
    st_bind_text(st, 4, m->media_type);
    sqlite3_bind_int64(st, 5, m->size_bytes);
    sqlite3_bind_blob(st, 6, m->sm3, sizeof(m->sm3), SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, m->data, (int)m->size_bytes, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, util_now_ms());
    return st_step_done(c, st, e);
}

err_code
store_material_list(struct store_conn *c, int64_t app_id,
                    store_material_fn fn, void *ctx, struct err *e)
{
    static const char sql[] =
        "SELECT id, revision, name, media_type, size_bytes, sm3 "
        "FROM application_materials WHERE application_id = ? ORDER BY id";
    sqlite3_stmt *st = st_prep(c, sql, e);
    struct store_material m;
    err_code out = ERR_OK;
    int rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, app_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&m, 0, sizeof(m));
        m.id = sqlite3_column_int64(st, 0);
        m.revision = sqlite3_column_int(st, 1);
        st_copy_col(st, 2, m.name, sizeof(m.name));
        st_copy_col(st, 3, m.media_type, sizeof(m.media_type));
        m.size_bytes = sqlite3_column_int64(st, 4);
        if (sqlite3_column_bytes(st, 5) == (int)sizeof(m.sm3))
            memcpy(m.sm3, sqlite3_column_blob(st, 5), sizeof(m.sm3));
        if ((out = fn(ctx, &m)) != ERR_OK)
            break;
    }
    if (out == ERR_OK && rc != SQLITE_DONE)
        out = st_db_err(c, e, "materials");
    sqlite3_reset(st);
    return out;
}

err_code
store_history_insert(struct store_conn *c, const char *type, int64_t id,
                     const char *from, const char *to, int64_t actor_id,
                     int64_t now_ms, const char *reason, struct err *e)
{
    static const char sql[] =
        "INSERT INTO history (subject_type, subject_id, from_state, "
        "to_state, actor_id, ts_ms, reason) VALUES (?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, type);
    sqlite3_bind_int64(st, 2, id);
    st_bind_text(st, 3, from);
    st_bind_text(st, 4, to);
    st_bind_id(st, 5, actor_id);
    sqlite3_bind_int64(st, 6, now_ms);
    st_bind_text(st, 7, reason);
    return st_step_done(c, st, e);
}

err_code
store_history_list(struct store_conn *c, const char *type, int64_t id,
                   store_history_fn fn, void *ctx, struct err *e)
{
    static const char sql[] =
        "SELECT id, coalesce(from_state, ''), to_state, "
        "coalesce(actor_id, 0), ts_ms, coalesce(reason, '') FROM history "
        "WHERE subject_type = ? AND subject_id = ? ORDER BY id";
    sqlite3_stmt *st = st_prep(c, sql, e);
    struct store_history h;
    err_code out = ERR_OK;
    int rc;

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, type);
    sqlite3_bind_int64(st, 2, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        h.id = sqlite3_column_int64(st, 0);
        st_copy_col(st, 1, h.from_state, sizeof(h.from_state));
        st_copy_col(st, 2, h.to_state, sizeof(h.to_state));
        h.actor_id = sqlite3_column_int64(st, 3);
        h.ts_ms = sqlite3_column_int64(st, 4);
        st_copy_col(st, 5, h.reason, sizeof(h.reason));
        if ((out = fn(ctx, &h)) != ERR_OK)
            break;
    }
    if (out == ERR_OK && rc != SQLITE_DONE)
        out = st_db_err(c, e, "history");
    sqlite3_reset(st);
    return out;
}
