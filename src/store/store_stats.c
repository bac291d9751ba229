/*
 * store_stats.c - the SQL side of the statistics and the monthly reports
 * (store_stats.h): binds, steps and copies rows out.  The statements are
 * DB_STATS_* in db_stmt.c; the period and result bounds are the domain's
 * (stats.c), the grouping the database's.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "store_stats.h"

err_code
store_stats_seals(struct store_conn *c, const int64_t *scope, size_t nscope,
                  int64_t at_ms, int limit, store_stat_seals_fn fn, void *ctx,
                  struct err *e)
{
    struct store_stat_seals r;
    struct db_stmt *st;
    enum db_row row;
    err_code rc;

    if (nscope > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "statistics: scope too large");
    if ((st = db_prep(c->dbc, DB_STATS_SEALS, e)) == NULL)
        return db_prep_failed(e);
    db_bind_id_set(st, 1, scope, nscope);
    db_bind_i64(st, 2, at_ms);
    db_bind_int(st, 3, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        memset(&r, 0, sizeof(r));
        r.region_id = db_col_i64(st, 0);
        db_col_copy(st, 1, r.region_name, sizeof(r.region_name));
        r.org_id = db_col_i64(st, 2);
        db_col_copy(st, 3, r.org_name, sizeof(r.org_name));
        db_col_copy(st, 4, r.kind, sizeof(r.kind));
        db_col_copy(st, 5, r.state, sizeof(r.state));
        r.count = db_col_i64(st, 6);
        if ((rc = fn(ctx, &r)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_stats_apps(struct store_conn *c, const int64_t *scope, size_t nscope,
                 int64_t from_ms, int64_t to_ms, int total, int limit,
                 store_stat_apps_fn fn, void *ctx, struct err *e)
{
    struct store_stat_apps r;
    struct db_stmt *st;
    enum db_row row;
    err_code rc;

    if (nscope > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "statistics: scope too large");
    if ((st = db_prep(c->dbc, DB_STATS_APPS, e)) == NULL)
        return db_prep_failed(e);
    db_bind_id_set(st, 1, scope, nscope);
    db_bind_i64(st, 2, from_ms);
    db_bind_i64(st, 3, to_ms);
    db_bind_int(st, 4, total ? 1 : 0);
    db_bind_int(st, 5, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        memset(&r, 0, sizeof(r));
        r.org_id = db_col_i64(st, 0);
        r.region_id = db_col_i64(st, 1);
        db_col_copy(st, 2, r.org_name, sizeof(r.org_name));
        r.received = db_col_i64(st, 3);
        r.decided = db_col_i64(st, 4);
        r.approved = db_col_i64(st, 5);
        r.rejected = db_col_i64(st, 6);
        r.median_ms = db_col_i64(st, 7);
        r.p90_ms = db_col_i64(st, 8);
        r.max_ms = db_col_i64(st, 9);
        if ((rc = fn(ctx, &r)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_stats_sigs(struct store_conn *c, const int64_t *scope, size_t nscope,
                 int64_t from_ms, int64_t to_ms, int limit,
                 store_stat_sigs_fn fn, void *ctx, struct err *e)
{
    struct store_stat_sigs r;
    struct db_stmt *st;
    enum db_row row;
    err_code rc;

    if (nscope > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "statistics: scope too large");
    if ((st = db_prep(c->dbc, DB_STATS_SIGS, e)) == NULL)
        return db_prep_failed(e);
    db_bind_id_set(st, 1, scope, nscope);
    db_bind_i64(st, 2, from_ms);
    db_bind_i64(st, 3, to_ms);
    db_bind_int(st, 4, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        memset(&r, 0, sizeof(r));
        r.org_id = db_col_i64(st, 0);
        r.seal_id = db_col_i64(st, 1);
        db_col_copy(st, 2, r.esid, sizeof(r.esid));
        r.day = db_col_i64(st, 3);
        r.count = db_col_i64(st, 4);
        if ((rc = fn(ctx, &r)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_stats_regions(struct store_conn *c, int64_t after, int64_t *ids, int n,
                    int *got, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_STATS_REGIONS, e);
    enum db_row row;
    err_code rc;

    *got = 0;
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, after);
    db_bind_int(st, 2, n);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW &&
           *got < n)
        ids[(*got)++] = db_col_i64(st, 0);
    db_release(st);
    return rc;
}

err_code
store_stats_report_exists(struct store_conn *c, int64_t org_id,
                          const char *month, int *exists, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_STATS_REPORT_EXISTS, e);
    err_code rc;

    *exists = 0;
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, org_id);
    db_bind_text(st, 2, month);
    if ((rc = db_step_row(st, "report count", e)) != ERR_OK)
        return rc;
    *exists = db_col_i64(st, 0) > 0;
    db_release(st);
    return ERR_OK;
}

err_code
store_stats_report_insert(struct store_conn *c,
                          const struct store_stats_report *r,
                          const char *body_json, const char *body_csv,
                          int *added, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_STATS_REPORT_INSERT, e);
    err_code rc;

    *added = 0;
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, r->org_id);
    db_bind_text(st, 2, r->month);
    db_bind_i64(st, 3, r->from_ms);
    db_bind_i64(st, 4, r->to_ms);
    db_bind_i64(st, 5, r->created_ms);
    db_bind_text(st, 6, body_json);
    db_bind_text(st, 7, body_csv);
    if ((rc = db_step_done(st, e)) == ERR_OK)
        *added = db_changes(c->dbc) > 0;
    return rc;
}

static void
report_row(struct db_stmt *st, struct store_stats_report *r)
{
    memset(r, 0, sizeof(*r));
    r->id = db_col_i64(st, 0);
    r->org_id = db_col_i64(st, 1);
    db_col_copy(st, 2, r->month, sizeof(r->month));
    r->from_ms = db_col_i64(st, 3);
    r->to_ms = db_col_i64(st, 4);
    r->created_ms = db_col_i64(st, 5);
}

err_code
store_stats_report_list(struct store_conn *c, const int64_t *scope,
                        size_t nscope, int64_t after, int limit,
                        store_stats_report_fn fn, void *ctx, struct err *e)
{
    struct store_stats_report r;
    struct db_stmt *st;
    enum db_row row;
    err_code rc;

    if (nscope > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "report list: scope too large");
    if ((st = db_prep(c->dbc, DB_STATS_REPORT_LIST, e)) == NULL)
        return db_prep_failed(e);
    db_bind_id_set(st, 1, scope, nscope);
    db_bind_i64(st, 2, after);
    db_bind_int(st, 3, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        report_row(st, &r);
        if ((rc = fn(ctx, &r)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_stats_report_get(struct store_conn *c, int64_t id, int csv,
                       struct store_stats_report *out, char **body,
                       struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_STATS_REPORT_GET, e);
    const char *b;
    err_code rc;

    *body = NULL;
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "report", e)) != ERR_OK)
        return rc;
    report_row(st, out);
    b = db_col_text(st, csv ? 7 : 6);
    if ((*body = strdup(b ? b : "")) == NULL)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    db_release(st);
    return rc;
}
