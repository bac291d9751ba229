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
    "created_ms, updated_ms, coalesce(holder_key, '')"

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
    st_copy_col(st, 24, a->holder_key, sizeof(a->holder_key));
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
    st_release(c, st);
    return ERR_OK;
}

err_code
store_app_image(struct store_conn *c, int64_t id, uint8_t **buf, size_t *len,
                struct err *e)
{
    static const char sql[] = "SELECT image FROM applications WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = st_step_row(c, st, "application", e)) != ERR_OK)
        return rc;
    rc = st_column_dup(st, 0, buf, len, e);
    st_release(c, st);
    return rc;
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

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, to);
    st_bind_text(st, 2, reason);
    st_bind_id(st, 3, reviewer_id);
    sqlite3_bind_int64(st, 4, now_ms);
    sqlite3_bind_int64(st, 5, id);
    st_bind_text(st, 6, from);
    return st_step_changed(c, st, e, ERR_CONFLICT, "application %lld is not %s",
                       (long long)id, from);
}

err_code
store_app_list(struct store_conn *c, int64_t reader_id, const int64_t *scope,
               size_t nscope, int64_t org_id, const char *state,
               int64_t after, int limit, store_app_fn fn, void *ctx,
               struct err *e)
{
    /* the reader's subtrees: STORE_SCOPE_CTE */
    static const char sql[] =
        "WITH RECURSIVE " STORE_SCOPE_CTE("?1")
        "SELECT " APP_COLS " FROM applications WHERE id > ?2 AND "
        "(applicant_id = ?3 OR org_id IN (SELECT id FROM scope)) AND "
        "(?4 = 0 OR org_id = ?4) AND (?5 IS NULL OR state = ?5) "
        "ORDER BY id LIMIT ?6";
    sqlite3_stmt *st;
    struct store_app a;
    err_code out = ERR_OK;
    int rc;

    if (nscope > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "application list: scope too large");
    if ((st = st_prep(c, sql, e)) == NULL)
        return ERR_DB;
    st_bind_id_set(st, 1, scope, nscope);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, reader_id);
    sqlite3_bind_int64(st, 4, org_id);
    st_bind_text(st, 5, state);
    sqlite3_bind_int(st, 6, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        app_row(st, &a);
        if ((out = fn(ctx, &a)) != ERR_OK)
            break;
    }
    if (out == ERR_OK && rc != SQLITE_DONE)
        out = st_db_err(c, e, "applications");
    st_release(c, st);
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
    st_release(c, st);
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
    st_release(c, st);
    return out;
}

err_code
store_authority_put(struct store_conn *c, const char *role,
                    const char *key_ref, const uint8_t *der, size_t len,
                    int64_t now_ms, struct err *e)
{
    /* dialect: ON CONFLICT DO UPDATE (SQLite 3.24+, PostgreSQL) */
    static const char sql[] =
        "INSERT INTO authority (role, key_ref, cert_der, created_ms) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (role) DO UPDATE SET "
        "key_ref = excluded.key_ref, cert_der = excluded.cert_der, "
        "created_ms = excluded.created_ms";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, role);
    st_bind_text(st, 2, key_ref);
    sqlite3_bind_blob(st, 3, der, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_ms);
    return st_step_done(c, st, e);
}

err_code
store_authority_get(struct store_conn *c, const char *role, char *key_ref,
                    size_t cap, uint8_t **der, size_t *len, struct err *e)
{
    static const char sql[] =
        "SELECT key_ref, cert_der FROM authority WHERE role = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, role);
    if ((rc = st_step_row(c, st, "authority", e)) != ERR_OK)
        return rc;
    st_copy_col(st, 0, key_ref, cap);
    rc = st_column_dup(st, 1, der, len, e);
    st_release(c, st);
    return rc;
}

/* ---- seals ---- */

#define SEAL_COLS "id, esid, lineage_esid, application_id, org_id, kind, " \
    "name, custodian_id, state, state_since_ms, coalesce(reason_code, ''), " \
    "version, coalesce(holder_key, ''), coalesce(valid_start_ms, 0), " \
    "coalesce(valid_end_ms, 0), coalesce(predecessor_id, 0), " \
    "coalesce(made_by, 0), coalesce(made_ms, 0), coalesce(confirmed_ms, 0), " \
    "filing_state, coalesce(filed_ms, 0), coalesce(last_used_ms, 0), " \
    "coalesce(hold, ''), coalesce(state_before_loss, ''), " \
    "coalesce(change_required_ms, 0)"

static void
seal_row(sqlite3_stmt *st, struct store_seal *s)
{
    memset(s, 0, sizeof(*s));
    s->id = sqlite3_column_int64(st, 0);
    st_copy_col(st, 1, s->esid, sizeof(s->esid));
    st_copy_col(st, 2, s->lineage_esid, sizeof(s->lineage_esid));
    s->application_id = sqlite3_column_int64(st, 3);
    s->org_id = sqlite3_column_int64(st, 4);
    st_copy_col(st, 5, s->kind, sizeof(s->kind));
    st_copy_col(st, 6, s->name, sizeof(s->name));
    s->custodian_id = sqlite3_column_int64(st, 7);
    st_copy_col(st, 8, s->state, sizeof(s->state));
    s->state_since_ms = sqlite3_column_int64(st, 9);
    st_copy_col(st, 10, s->reason_code, sizeof(s->reason_code));
    s->version = sqlite3_column_int(st, 11);
    st_copy_col(st, 12, s->holder_key, sizeof(s->holder_key));
    s->valid_start_ms = sqlite3_column_int64(st, 13);
    s->valid_end_ms = sqlite3_column_int64(st, 14);
    s->predecessor_id = sqlite3_column_int64(st, 15);
    s->made_by = sqlite3_column_int64(st, 16);
    s->made_ms = sqlite3_column_int64(st, 17);
    s->confirmed_ms = sqlite3_column_int64(st, 18);
    st_copy_col(st, 19, s->filing_state, sizeof(s->filing_state));
    s->filed_ms = sqlite3_column_int64(st, 20);
    s->last_used_ms = sqlite3_column_int64(st, 21);
    st_copy_col(st, 22, s->hold, sizeof(s->hold));
    st_copy_col(st, 23, s->before_loss, sizeof(s->before_loss));
    s->change_required_ms = sqlite3_column_int64(st, 24);
}

err_code
store_seal_insert(struct store_conn *c, const struct store_seal *s,
                  const uint8_t *seal_der, size_t seal_len,
                  const uint8_t *cert_der, size_t cert_len, int64_t *id_out,
                  struct err *e)
{
    static const char sql[] =
        "INSERT INTO seals (esid, lineage_esid, application_id, org_id, "
        "kind, name, custodian_id, state, state_since_ms, version, "
        "seal_der, cert_der, holder_key, valid_start_ms, valid_end_ms, "
        "predecessor_id, made_by, made_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, s->esid);
    st_bind_text(st, 2, s->lineage_esid);
    sqlite3_bind_int64(st, 3, s->application_id);
    sqlite3_bind_int64(st, 4, s->org_id);
    st_bind_text(st, 5, s->kind);
    st_bind_text(st, 6, s->name);
    sqlite3_bind_int64(st, 7, s->custodian_id);
    st_bind_text(st, 8, s->state);
    sqlite3_bind_int64(st, 9, s->state_since_ms);
    sqlite3_bind_int(st, 10, s->version);
    sqlite3_bind_blob(st, 11, seal_der, (int)seal_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 12, cert_der, (int)cert_len, SQLITE_STATIC);
    st_bind_text(st, 13, s->holder_key);
    sqlite3_bind_int64(st, 14, s->valid_start_ms);
    sqlite3_bind_int64(st, 15, s->valid_end_ms);
    st_bind_id(st, 16, s->predecessor_id);
    st_bind_id(st, 17, s->made_by);
    sqlite3_bind_int64(st, 18, s->made_ms);
    if ((rc = st_step_done(c, st, e)) != ERR_OK)
        return rc;
    *id_out = sqlite3_last_insert_rowid(c->db);
    return ERR_OK;
}

err_code
store_seal_get(struct store_conn *c, const char *esid, struct store_seal *out,
               struct err *e)
{
    static const char sql[] = "SELECT " SEAL_COLS " FROM seals WHERE esid = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, esid);
    if ((rc = st_step_row(c, st, "seal", e)) != ERR_OK)
        return rc;
    seal_row(st, out);
    st_release(c, st);
    return ERR_OK;
}

err_code
store_seal_get_id(struct store_conn *c, int64_t id, struct store_seal *out,
                  struct err *e)
{
    static const char sql[] = "SELECT " SEAL_COLS " FROM seals WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = st_step_row(c, st, "seal", e)) != ERR_OK)
        return rc;
    seal_row(st, out);
    st_release(c, st);
    return ERR_OK;
}

err_code
store_seal_blob(struct store_conn *c, int64_t id, const char *which,
                uint8_t **buf, size_t *len, struct err *e)
{
    static const char sql[] =
        "SELECT CASE WHEN ? = 'cert' THEN cert_der ELSE seal_der END "
        "FROM seals WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, which);
    sqlite3_bind_int64(st, 2, id);
    if ((rc = st_step_row(c, st, "seal", e)) != ERR_OK)
        return rc;
    rc = st_column_dup(st, 0, buf, len, e);
    st_release(c, st);
    return rc;
}

err_code
store_seal_transition(struct store_conn *c, int64_t id,
                      const struct store_seal_move *m, int64_t now_ms,
                      struct err *e)
{
    static const char sql[] =
        "UPDATE seals SET state = ?, state_since_ms = ?, reason_code = ?, "
        "hold = ?, state_before_loss = ? WHERE id = ? AND state = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, m->to);
    sqlite3_bind_int64(st, 2, now_ms);
    st_bind_text(st, 3, m->reason_code);
    st_bind_text(st, 4, m->hold);
    st_bind_text(st, 5, m->before_loss);
    sqlite3_bind_int64(st, 6, id);
    st_bind_text(st, 7, m->from);
    return st_step_changed(c, st, e, ERR_CONFLICT, "seal is not %s",
                           m->from);
}

err_code
store_seal_flag_change(struct store_conn *c, int64_t id, int64_t now_ms,
                       int *flagged, struct err *e)
{
    static const char sql[] =
        "UPDATE seals SET change_required_ms = ? "
        "WHERE id = ? AND change_required_ms IS NULL";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, id);
    if ((rc = st_step_done(c, st, e)) != ERR_OK)
        return rc;
    *flagged = sqlite3_changes(c->db) > 0;
    return ERR_OK;
}

err_code
store_seal_confirmed(struct store_conn *c, int64_t id, int64_t now_ms,
                     struct err *e)
{
    static const char sql[] =
        "UPDATE seals SET confirmed_ms = ? WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, id);
    return st_step_update_one(c, st, "seal", e);
}

err_code
store_seal_filed(struct store_conn *c, int64_t id, int64_t now_ms,
                 struct err *e)
{
    static const char sql[] =
        "UPDATE seals SET filing_state = 'filed', filed_ms = ? "
        "WHERE id = ? AND filing_state = 'pending'";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, id);
    return st_step_changed(c, st, e, ERR_CONFLICT, "seal is already filed");
}

static err_code
seal_walk(struct store_conn *c, sqlite3_stmt *st, store_seal_fn fn, void *ctx,
          struct err *e)
{
    struct store_seal s;
    err_code out = ERR_OK;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        seal_row(st, &s);
        if ((out = fn(ctx, &s)) != ERR_OK)
            break;
    }
    if (out == ERR_OK && rc != SQLITE_DONE)
        out = st_db_err(c, e, "seals");
    st_release(c, st);
    return out;
}

err_code
store_seal_list(struct store_conn *c, const struct store_seal_reader *r,
                int64_t org_id, const char *kind, const char *state,
                int64_t expiring_before_ms, int64_t after, int limit,
                store_seal_fn fn, void *ctx, struct err *e)
{
    /* The reader's organisations come as one bound JSON array of ids
     * (json_each), walked down with the same depth bound as
     * store_org_in_subtree; the scope is applied before LIMIT. */
    static const char sql[] =
        "WITH RECURSIVE " STORE_SCOPE_CTE("?1")
        "SELECT " SEAL_COLS " FROM seals WHERE id > ?2 AND "
        "(custodian_id = ?3 OR org_id IN (SELECT id FROM scope)) AND "
        "(?4 = 0 OR org_id = ?4) AND (?5 IS NULL OR kind = ?5) AND "
        "(?6 IS NULL OR state = ?6) AND (?7 = 0 OR valid_end_ms < ?7) "
        "ORDER BY id LIMIT ?8";
    sqlite3_stmt *st;

    if (r->nscope > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "seal list: scope too large");
    if ((st = st_prep(c, sql, e)) == NULL)
        return ERR_DB;
    st_bind_id_set(st, 1, r->scope_orgs, r->nscope);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, r->reader_id);
    sqlite3_bind_int64(st, 4, org_id);
    st_bind_text(st, 5, kind);
    st_bind_text(st, 6, state);
    sqlite3_bind_int64(st, 7, expiring_before_ms);
    sqlite3_bind_int(st, 8, limit);
    return seal_walk(c, st, fn, ctx, e);
}

err_code
store_seal_list_inactive(struct store_conn *c, store_seal_fn fn, void *ctx,
                         struct err *e)
{
    static const char sql[] =
        "SELECT " SEAL_COLS " FROM seals WHERE state <> 'active' "
        "AND state <> 'made' ORDER BY id";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    return seal_walk(c, st, fn, ctx, e);
}

err_code
store_seal_list_active_subtree(struct store_conn *c, int64_t org_id,
                               store_seal_fn fn, void *ctx, struct err *e)
{
    /* Walk down from org_id; the depth bound keeps a corrupt cycle
     * finite. */
    static const char sql[] =
        "WITH RECURSIVE down(id, depth) AS ("
        "  SELECT id, 0 FROM organisations WHERE id = ? "
        "  UNION ALL "
        "  SELECT o.id, down.depth + 1 FROM organisations o "
        "  JOIN down ON o.parent_id = down.id WHERE down.depth < 64) "
        "SELECT " SEAL_COLS " FROM seals WHERE state = 'active' AND "
        "org_id IN (SELECT id FROM down) ORDER BY id";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, org_id);
    return seal_walk(c, st, fn, ctx, e);
}

err_code
store_seal_list_legal_name(struct store_conn *c, int64_t org_id,
                           store_seal_fn fn, void *ctx, struct err *e)
{
    static const char sql[] =
        "SELECT " SEAL_COLS " FROM seals WHERE org_id = ? AND "
        "kind = 'official' AND state NOT IN ('revoked', 'expired') AND "
        "application_id IN (SELECT id FROM applications WHERE "
        "subkind = 'legal_name') ORDER BY id";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, org_id);
    return seal_walk(c, st, fn, ctx, e);
}

err_code
store_seal_list_stale(struct store_conn *c, int64_t before_ms, int64_t now_ms,
                      store_seal_fn fn, void *ctx, struct err *e)
{
    static const char sql[] =
        "SELECT " SEAL_COLS " FROM seals WHERE state = 'active' AND "
        "(coalesce(last_used_ms, confirmed_ms, made_ms) < ? OR "
        "valid_end_ms < ?) ORDER BY id";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, before_ms);
    sqlite3_bind_int64(st, 2, now_ms);
    return seal_walk(c, st, fn, ctx, e);
}

err_code
store_esid_next(struct store_conn *c, const char *region, int64_t *seq,
                struct err *e)
{
    static const char bump[] =
        "INSERT INTO esid_counters (region, next) VALUES (?, 2) "
        "ON CONFLICT (region) DO UPDATE SET next = next + 1";
    static const char get[] =
        "SELECT next - 1 FROM esid_counters WHERE region = ?";
    sqlite3_stmt *st = st_prep(c, bump, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, region);
    if ((rc = st_step_done(c, st, e)) != ERR_OK)
        return rc;
    if ((st = st_prep(c, get, e)) == NULL)
        return ERR_DB;
    st_bind_text(st, 1, region);
    if ((rc = st_step_row(c, st, "esid counter", e)) != ERR_OK)
        return rc;
    *seq = sqlite3_column_int64(st, 0);
    st_release(c, st);
    return ERR_OK;
}

err_code
store_app_set_holder_key(struct store_conn *c, int64_t id,
                         const char *key_ref, struct err *e)
{
    static const char sql[] =
        "UPDATE applications SET holder_key = ? WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    st_bind_text(st, 1, key_ref);
    sqlite3_bind_int64(st, 2, id);
    return st_step_update_one(c, st, "application", e);
}

err_code
store_app_copy(struct store_conn *c, int64_t from_app, int64_t applicant_id,
               const char *purpose, int64_t seal_id, const char *reason,
               int64_t now_ms, int64_t *id_out, struct err *e)
{
    static const char sql[] =
        "INSERT INTO applications (org_id, applicant_id, purpose, "
        "replaces_seal_id, kind, subkind, business, position, seal_name, "
        "custodian_id, image, image_type, image_sm3, image_width_px, "
        "image_height_px, width_mm, height_mm, reason, state, revision, "
        "created_ms, updated_ms) SELECT org_id, ?, ?, ?, kind, subkind, "
        "business, position, seal_name, custodian_id, image, image_type, "
        "image_sm3, image_width_px, image_height_px, width_mm, height_mm, "
        "?, 'submitted', 1, ?, ? FROM applications WHERE id = ?";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, applicant_id);
    st_bind_text(st, 2, purpose);
    sqlite3_bind_int64(st, 3, seal_id);
    st_bind_text(st, 4, reason);
    sqlite3_bind_int64(st, 5, now_ms);
    sqlite3_bind_int64(st, 6, now_ms);
    sqlite3_bind_int64(st, 7, from_app);
    if ((rc = st_step_done(c, st, e)) != ERR_OK)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return err_set(e, ERR_NOT_FOUND, "no application %lld",
                       (long long)from_app);
    *id_out = sqlite3_last_insert_rowid(c->db);
    return ERR_OK;
}
