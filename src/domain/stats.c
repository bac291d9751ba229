/*
 * stats.c - the supervising department's statistics and the monthly
 * reports (stats.h).  The figures come from the grouped statements of
 * store_stats.c; this file decides who reads which subtrees, bounds the
 * period and the rows, and shapes the rows once, for the API's JSON and
 * CSV answers and for the kept reports alike, so a report and a live
 * answer for the same period cannot disagree in form.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csv.h"
#include "log.h"
#include "rbac.h"
#include "stats.h"
#include "unit.h"
#include "util.h"
#include "store.h"
#include "store_stats.h"

/* Regions read per page by the monthly job. */
#define STATS_REGION_PAGE 64

static const char *const seals_head[] = {"region_id", "region", "org_id",
    "organisation", "kind", "state", "seals"};
static const char *const apps_head[] = {"org_id", "region_id",
    "organisation", "received", "decided", "approved", "rejected",
    "median_ms", "p90_ms", "max_ms"};
static const char *const sigs_head[] = {"org_id", "seal_id", "esid", "day",
    "signatures"};
#define NHEAD(h) (sizeof(h) / sizeof((h)[0]))

/* What the row callbacks write into: rows (JSON) or csv, never both. */
struct out {
    json_t     *rows;
    struct csv *csv;
    int         n;
    json_t     *by_state;       /* seals: {state: count} */
    int64_t     total;          /* seals, signatures */
    struct err *e;
};

static err_code
row_bound(struct out *o)
{
    if (++o->n > STATS_ROWS_MAX)
        return err_set(o->e, ERR_TOO_LARGE, "more than %d rows: ask for one "
                       "organisation (org_id) or a shorter period",
                       STATS_ROWS_MAX);
    return ERR_OK;
}

/* A JSON object took; ERR_NOMEM for NULL (json_pack failed). */
static err_code
append(struct out *o, json_t *item)
{
    if (item == NULL || json_array_append_new(o->rows, item) != 0)
        return err_set(o->e, ERR_NOMEM, "out of memory");
    return ERR_OK;
}

static err_code
seals_row(void *ctx, const struct store_stat_seals *r)
{
    struct out *o = ctx;
    json_t *v;
    err_code rc;

    if ((rc = row_bound(o)) != ERR_OK)
        return rc;
    o->total += r->count;
    if (o->csv != NULL) {
        if ((rc = csv_int(o->csv, r->region_id, o->e)) != ERR_OK ||
            (rc = csv_text(o->csv, r->region_name, o->e)) != ERR_OK ||
            (rc = csv_int(o->csv, r->org_id, o->e)) != ERR_OK ||
            (rc = csv_text(o->csv, r->org_name, o->e)) != ERR_OK ||
            (rc = csv_text(o->csv, r->kind, o->e)) != ERR_OK ||
            (rc = csv_text(o->csv, r->state, o->e)) != ERR_OK ||
            (rc = csv_int(o->csv, r->count, o->e)) != ERR_OK)
            return rc;
        return csv_end_row(o->csv, o->e);
    }
    v = json_object_get(o->by_state, r->state);
    json_object_set_new(o->by_state, r->state,
                        json_integer(json_integer_value(v) + r->count));
    return append(o, json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:I}",
                               "region_id", (json_int_t)r->region_id,
                               "region", r->region_name,
                               "org_id", (json_int_t)r->org_id,
                               "organisation", r->org_name, "kind", r->kind,
                               "state", r->state,
                               "seals", (json_int_t)r->count));
}

/* The turnaround of a row as JSON: null when nothing was decided. */
static json_t *
turnaround(const struct store_stat_apps *r)
{
    if (r->decided == 0 || r->max_ms < 0)
        return json_null();
    return json_pack("{s:I, s:I, s:I}", "median", (json_int_t)r->median_ms,
                     "p90", (json_int_t)r->p90_ms, "max",
                     (json_int_t)r->max_ms);
}

static json_t *
apps_json(const struct store_stat_apps *r, int total)
{
    json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:o}",
                          "received", (json_int_t)r->received,
                          "decided", (json_int_t)r->decided,
                          "approved", (json_int_t)r->approved,
                          "rejected", (json_int_t)r->rejected,
                          "turnaround_ms", turnaround(r));

    if (j != NULL && !total &&
        (json_object_set_new(j, "org_id", json_integer(r->org_id)) != 0 ||
         json_object_set_new(j, "region_id", json_integer(r->region_id))
             != 0 ||
         json_object_set_new(j, "organisation", json_string(r->org_name))
             != 0)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* A number, or an empty field for a turnaround that has none. */
static err_code
csv_ms(struct csv *w, const struct store_stat_apps *r, int64_t v,
       struct err *e)
{
    if (r->decided == 0 || v < 0)
        return csv_text(w, "", e);
    return csv_int(w, v, e);
}

static err_code
apps_csv(struct csv *w, const struct store_stat_apps *r, const char *name,
         struct err *e)
{
    err_code rc;

    if ((rc = csv_int(w, r->org_id, e)) != ERR_OK ||
        (rc = csv_int(w, r->region_id, e)) != ERR_OK ||
        (rc = csv_text(w, name, e)) != ERR_OK ||
        (rc = csv_int(w, r->received, e)) != ERR_OK ||
        (rc = csv_int(w, r->decided, e)) != ERR_OK ||
        (rc = csv_int(w, r->approved, e)) != ERR_OK ||
        (rc = csv_int(w, r->rejected, e)) != ERR_OK ||
        (rc = csv_ms(w, r, r->median_ms, e)) != ERR_OK ||
        (rc = csv_ms(w, r, r->p90_ms, e)) != ERR_OK ||
        (rc = csv_ms(w, r, r->max_ms, e)) != ERR_OK)
        return rc;
    return csv_end_row(w, e);
}

static err_code
apps_row(void *ctx, const struct store_stat_apps *r)
{
    struct out *o = ctx;
    err_code rc;

    if ((rc = row_bound(o)) != ERR_OK)
        return rc;
    if (o->csv != NULL)
        return apps_csv(o->csv, r, r->org_name, o->e);
    return append(o, apps_json(r, 0));
}

/* The one total row of the applications (zeros when none). */
static err_code
apps_total(void *ctx, const struct store_stat_apps *r)
{
    *(struct store_stat_apps *)ctx = *r;
    return ERR_OK;
}

static err_code
sigs_row(void *ctx, const struct store_stat_sigs *r)
{
    struct out *o = ctx;
    char day[21];
    err_code rc;

    if ((rc = row_bound(o)) != ERR_OK)
        return rc;
    o->total += r->count;
    util_time_rfc3339((time_t)(r->day * 86400), day);
    day[10] = '\0';                         /* YYYY-MM-DD */
    if (o->csv != NULL) {
        if ((rc = csv_int(o->csv, r->org_id, o->e)) != ERR_OK ||
            (rc = csv_int(o->csv, r->seal_id, o->e)) != ERR_OK ||
            (rc = csv_text(o->csv, r->esid, o->e)) != ERR_OK ||
            (rc = csv_text(o->csv, day, o->e)) != ERR_OK ||
            (rc = csv_int(o->csv, r->count, o->e)) != ERR_OK)
            return rc;
        return csv_end_row(o->csv, o->e);
    }
    return append(o, json_pack("{s:I, s:I, s:s, s:s, s:I}",
                               "org_id", (json_int_t)r->org_id,
                               "seal_id", (json_int_t)r->seal_id,
                               "esid", r->esid, "day", day,
                               "signatures", (json_int_t)r->count));
}

/* Compute q over scope[0..n) into csv (appended: the header, the rows, for
 * the applications the total row last with org_id 0 and organisation
 * "total") or, csv NULL, into *json (a new object: the query, "rows" and
 * the totals).  Contract of the figures: stats.h and store_stats.h. */
static err_code
build(struct store_conn *db, const int64_t *scope, size_t n,
      const struct stats_query *q, struct csv *csv, json_t **json,
      struct err *e)
{
    struct out o = {NULL, csv, 0, NULL, 0, e};
    struct store_stat_apps total;
    char at[21];
    err_code rc;

    if (csv == NULL && ((o.rows = json_array()) == NULL ||
                        (o.by_state = json_object()) == NULL)) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    switch (q->kind) {
    case STATS_SEALS:
        if (csv != NULL &&
            (rc = csv_text_row(csv, seals_head, NHEAD(seals_head), e))
            != ERR_OK)
            goto done;
        if ((rc = store_stats_seals(db, scope, n, q->at_ms,
                                    STATS_ROWS_MAX + 1, seals_row, &o, e))
            != ERR_OK || csv != NULL)
            goto done;
        util_time_rfc3339((time_t)(q->at_ms / 1000), at);
        *json = json_pack("{s:I, s:s, s:o, s:O, s:I}", "at_ms",
                          (json_int_t)q->at_ms, "at", at, "rows", o.rows,
                          "by_state", o.by_state, "total",
                          (json_int_t)o.total);
        o.rows = NULL;
        break;
    case STATS_APPS:
        if (csv != NULL &&
            (rc = csv_text_row(csv, apps_head, NHEAD(apps_head), e))
            != ERR_OK)
            goto done;
        memset(&total, 0, sizeof(total));
        total.median_ms = total.p90_ms = total.max_ms = -1;
        if ((rc = store_stats_apps(db, scope, n, q->from_ms, q->to_ms, 0,
                                   STATS_ROWS_MAX + 1, apps_row, &o, e))
                != ERR_OK ||
            (rc = store_stats_apps(db, scope, n, q->from_ms, q->to_ms, 1, 1,
                                   apps_total, &total, e)) != ERR_OK)
            goto done;
        if (csv != NULL) {
            rc = apps_csv(csv, &total, "total", e);
            goto done;
        }
        *json = json_pack("{s:I, s:I, s:o, s:o}", "from_ms",
                          (json_int_t)q->from_ms, "to_ms",
                          (json_int_t)q->to_ms, "rows", o.rows, "total",
                          apps_json(&total, 1));
        o.rows = NULL;
        break;
    case STATS_SIGS:
        if (csv != NULL &&
            (rc = csv_text_row(csv, sigs_head, NHEAD(sigs_head), e))
            != ERR_OK)
            goto done;
        if ((rc = store_stats_sigs(db, scope, n, q->from_ms, q->to_ms,
                                   STATS_ROWS_MAX + 1, sigs_row, &o, e))
            != ERR_OK || csv != NULL)
            goto done;
        *json = json_pack("{s:I, s:I, s:o, s:I}", "from_ms",
                          (json_int_t)q->from_ms, "to_ms",
                          (json_int_t)q->to_ms, "rows", o.rows, "total",
                          (json_int_t)o.total);
        o.rows = NULL;
        break;
    default:
        rc = err_set(e, ERR_INTERNAL, "statistics: unknown kind");
        goto done;
    }
    rc = *json != NULL ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
done:
    json_decref(o.rows);
    json_decref(o.by_state);
    return rc;
}

/* The subtrees a reader reads: org_id's (which the reader must hold
 * stats.read over) or every stats.read scope of theirs. */
static err_code
reader_scope(const struct actor_ctx *a, int64_t org_id,
             int64_t scope[STORE_MAX_ROLES], size_t *n, struct err *e)
{
    err_code rc;

    if (org_id != 0) {
        if ((rc = authz_require(a->db, a->p, PERM_STATS_READ, org_id, e))
            != ERR_OK)
            return rc;
        scope[0] = org_id;
        *n = 1;
        return ERR_OK;
    }
    if ((*n = authz_scope(a->p, PERM_STATS_READ, scope)) == 0)
        return err_set(e, ERR_FORBIDDEN, "permission stats.read is needed");
    return ERR_OK;
}

err_code
stats_read(const struct actor_ctx *a, const struct stats_query *q, int csv,
           json_t **json, char **csv_out, size_t *csv_len, struct err *e)
{
    int64_t scope[STORE_MAX_ROLES];
    struct csv w;
    size_t n = 0;
    err_code rc;

    if (q->kind != STATS_SEALS &&
        (q->from_ms < 0 || q->to_ms <= q->from_ms ||
         q->to_ms - q->from_ms > STATS_PERIOD_MAX_MS))
        return err_set(e, ERR_INVALID, "period: from before to, at most %lld "
                       "days", (long long)(STATS_PERIOD_MAX_MS / 86400000));
    if ((rc = reader_scope(a, q->org_id, scope, &n, e)) != ERR_OK)
        return rc;
    if (!csv)
        return build(a->db, scope, n, q, NULL, json, e);
    csv_init(&w, STATS_CSV_MAX);
    if ((rc = build(a->db, scope, n, q, &w, NULL, e)) != ERR_OK ||
        (rc = csv_take(&w, csv_out, csv_len, e)) != ERR_OK) {
        if (rc == ERR_TOO_LARGE && strstr(e->msg, "rows") == NULL)
            rc = err_set(e, ERR_TOO_LARGE, "more than %d bytes of CSV: ask "
                         "for one organisation or a shorter period",
                         STATS_CSV_MAX);
        csv_free(&w);
        return rc;
    }
    return ERR_OK;
}

struct report_page {
    json_t  *items;
    int      n;
    int64_t  last;
};

static err_code
report_add(void *ctx, const struct store_stats_report *r)
{
    struct report_page *p = ctx;
    json_t *j = json_pack("{s:I, s:I, s:s, s:I, s:I, s:I}", "id",
                          (json_int_t)r->id, "org_id", (json_int_t)r->org_id,
                          "month", r->month, "from_ms",
                          (json_int_t)r->from_ms, "to_ms",
                          (json_int_t)r->to_ms, "created_ms",
                          (json_int_t)r->created_ms);

    if (j == NULL || json_array_append_new(p->items, j) != 0)
        return ERR_NOMEM;
    p->n++;
    p->last = r->id;
    return ERR_OK;
}

err_code
stats_report_list(const struct actor_ctx *a, int64_t after, int limit,
                  json_t **items, int64_t *next, struct err *e)
{
    int64_t scope[STORE_MAX_ROLES];
    struct report_page p = {NULL, 0, 0};
    size_t n = 0;
    err_code rc;

    *next = 0;
    if (limit < 1 || limit > STORE_PAGE_MAX)
        return err_set(e, ERR_INVALID, "limit: %d is out of range [1, %d]",
                       limit, STORE_PAGE_MAX);
    if ((rc = reader_scope(a, 0, scope, &n, e)) != ERR_OK)
        return rc;
    if ((p.items = json_array()) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = store_stats_report_list(a->db, scope, n, after, limit,
                                      report_add, &p, e)) != ERR_OK) {
        if (rc == ERR_NOMEM)
            err_set(e, ERR_NOMEM, "out of memory");
        json_decref(p.items);
        return rc;
    }
    if (p.n == limit)
        *next = p.last;
    *items = p.items;
    return ERR_OK;
}

err_code
stats_report_get(const struct actor_ctx *a, int64_t id, int csv,
                 struct store_stats_report *r, char **body, struct err *e)
{
    struct err ignored;
    err_code rc;

    if ((rc = store_stats_report_get(a->db, id, csv, r, body, e)) != ERR_OK)
        return rc;
    err_clear(&ignored);
    if (authz_require(a->db, a->p, PERM_STATS_READ, r->org_id, &ignored)
        != ERR_OK) {
        free(*body);
        *body = NULL;
        return err_set(e, ERR_NOT_FOUND, "no report %lld", (long long)id);
    }
    return ERR_OK;
}

void
stats_last_month(int64_t now_ms, char month[8], int64_t *from_ms,
                 int64_t *to_ms)
{
    time_t now = (time_t)(now_ms / 1000);
    struct tm t, first;

    gmtime_r(&now, &t);
    memset(&first, 0, sizeof(first));
    first.tm_year = t.tm_year;
    first.tm_mon = t.tm_mon;
    first.tm_mday = 1;
    *to_ms = (int64_t)timegm(&first) * 1000;
    if (--first.tm_mon < 0) {
        first.tm_mon = 11;
        first.tm_year--;
    }
    *from_ms = (int64_t)timegm(&first) * 1000;
    snprintf(month, 8, "%04u-%02u",
             (unsigned)(first.tm_year + 1900) % 10000u,
             (unsigned)(first.tm_mon + 1) % 100u);
}

/* One region's report for the month: both forms built from the same
 * reads, kept and audited in one unit. */
struct report_args {
    struct store_stats_report r;
    const char               *json, *csv;
};

static err_code
report_work(struct unit *u, void *ctx, struct err *e)
{
    struct report_args *w = ctx;
    int added = 0;
    err_code rc;

    if ((rc = store_stats_report_insert(u->a.db, &w->r, w->json, w->csv,
                                        &added, e)) != ERR_OK)
        return rc;
    if (!added)     /* another node kept it first: nothing to record */
        return err_set(e, ERR_CONFLICT, "report kept already");
    return unit_audit_id(u, "stats.report", "organisation", w->r.org_id,
                         json_pack("{s:I, s:s}", "org_id",
                                      (json_int_t)w->r.org_id, "month",
                                      w->r.month), e);
}

/* The three sections of a report over region's subtree, as JSON (*json)
 * and as CSV (appended to csv: each section a row naming it, its table,
 * then an empty row). */
static err_code
report_build(struct store_conn *db, int64_t region, int64_t from_ms,
             int64_t to_ms, json_t *json, struct csv *csv, struct err *e)
{
    static const char *const names[] = {"seals", "applications",
                                        "signatures"};
    const struct stats_query qs[] = {
        {STATS_SEALS, region, to_ms - 1, 0, 0},
        {STATS_APPS, region, 0, from_ms, to_ms},
        {STATS_SIGS, region, 0, from_ms, to_ms}};
    size_t i;
    err_code rc;

    for (i = 0; i < 3; i++) {
        json_t *part = NULL;
        if ((rc = build(db, &region, 1, &qs[i], NULL, &part, e)) != ERR_OK)
            return rc;
        json_object_set_new(json, names[i], part);
        if ((rc = csv_text_row(csv, &names[i], 1, e)) != ERR_OK ||
            (rc = build(db, &region, 1, &qs[i], csv, NULL, e)) != ERR_OK ||
            (rc = csv_end_row(csv, e)) != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

/* Make and keep region's report for month, unless one is kept. */
static err_code
report_make(struct store_conn *db, int64_t region, const char *month,
            int64_t from_ms, int64_t to_ms, int64_t now_ms, int *made,
            struct err *e)
{
    struct actor_ctx a = {db, NULL, {.role = "system",
                                     .client_addr = "maintenance"}};
    struct report_args w;
    struct csv csv;
    json_t *json = NULL;
    char *csv_text_out = NULL, *json_text = NULL;
    size_t csv_len = 0;
    int exists = 0;
    err_code rc;

    if ((rc = store_stats_report_exists(db, region, month, &exists, e))
        != ERR_OK || exists)
        return rc;
    csv_init(&csv, STATS_CSV_MAX);
    if ((json = json_pack("{s:s, s:I, s:I, s:I}", "month", month, "org_id",
                          (json_int_t)region, "from_ms", (json_int_t)from_ms,
                          "to_ms", (json_int_t)to_ms)) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = report_build(db, region, from_ms, to_ms, json, &csv, e))
            != ERR_OK ||
        (rc = csv_take(&csv, &csv_text_out, &csv_len, e)) != ERR_OK)
        goto done;
    if ((json_text = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS))
        == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    memset(&w, 0, sizeof(w));
    w.r.org_id = region;
    snprintf(w.r.month, sizeof(w.r.month), "%s", month);
    w.r.from_ms = from_ms;
    w.r.to_ms = to_ms;
    w.r.created_ms = now_ms;
    w.json = json_text;
    w.csv = csv_text_out;
    if ((rc = unit_run(&a, report_work, &w, e)) == ERR_OK)
        (*made)++;
    else if (rc == ERR_CONFLICT)
        rc = ERR_OK;
done:
    csv_free(&csv);
    free(csv_text_out);
    free(json_text);
    json_decref(json);
    return rc;
}

err_code
stats_monthly(struct store_conn *db, int64_t now_ms, int *made, struct err *e)
{
    int64_t ids[STATS_REGION_PAGE], after = 0, from_ms, to_ms;
    char month[8];
    int got = 0, i;
    err_code rc;

    *made = 0;
    stats_last_month(now_ms, month, &from_ms, &to_ms);
    do {
        if ((rc = store_stats_regions(db, after, ids, STATS_REGION_PAGE,
                                      &got, e)) != ERR_OK)
            return rc;
        for (i = 0; i < got; i++) {
            rc = report_make(db, ids[i], month, from_ms, to_ms, now_ms,
                             made, e);
            if (rc == ERR_TOO_LARGE) {
                log_event(LOG_WARN, "stats_report_skipped", "org_id=%lld "
                          "month=%s msg=%s", (long long)ids[i], month, e->msg);
                err_clear(e);
                continue;
            }
            if (rc != ERR_OK)
                return rc;
        }
        if (got > 0)
            after = ids[got - 1];
    } while (got == STATS_REGION_PAGE);
    return ERR_OK;
}
