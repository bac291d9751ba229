/*
 * api_stats.c - the statistics routes (GET /api/v1/statistics/...): read
 * and check the query (organisation, date or period, format), call the
 * domain (stats.c) and answer JSON in the envelope or a CSV attachment.
 * Who may read, the bounds and the figures are stats.c's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "stats.h"
#include "util.h"

/* A calendar date "YYYY-MM-DD" (UTC) as the ms of its first instant;
 * ERR_INVALID naming name for anything else (30 February included). */
static err_code
parse_date(const char *name, const char *s, int64_t *ms, struct err *e)
{
    struct tm t;
    int y, m, d, n = 0, i;
    time_t v;

    memset(&t, 0, sizeof(t));
    /* digits where the form has them: sscanf alone would take a sign or
     * a space inside a field */
    for (i = 0; s[i] != '\0' && i < 10; i++)
        if ((i == 4 || i == 7) ? s[i] != '-' : !isdigit((unsigned char)s[i]))
            break;
    if (i != 10 || s[10] != '\0' ||
        sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
        y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
        return err_set(e, ERR_INVALID, "%s: not a date YYYY-MM-DD", name);
    t.tm_year = y - 1900;
    t.tm_mon = m - 1;
    t.tm_mday = d;
    v = timegm(&t);
    gmtime_r(&v, &t);
    if (t.tm_mday != d || t.tm_mon != m - 1)
        return err_set(e, ERR_INVALID, "%s: no such day", name);
    *ms = (int64_t)v * 1000;
    return ERR_OK;
}

/* A time given as name_ms (ms since the epoch) or as the date name (its
 * first instant, plus day_add days less end_less ms: the end of a day for
 * "at", the next day's start for "to"); *ms unchanged when neither is
 * given, ERR_INVALID when both are. */
static err_code
query_time(struct http_req *req, const char *name, int day_add,
           int end_less, int64_t *ms, struct err *e)
{
    char key[16];
    const char *v_ms, *v_date;
    long n = 0;

    snprintf(key, sizeof(key), "%s_ms", name);
    v_ms = http_query(req, key);
    v_date = http_query(req, name);
    if (v_ms != NULL && v_date != NULL)
        return err_set(e, ERR_INVALID, "%s: give %s or %s_ms, not both",
                       name, name, name);
    if (v_ms != NULL) {
        if (util_parse_long(v_ms, 0, INT64_MAX / 2, &n, e) != ERR_OK)
            return err_wrap(e, ERR_INVALID, "%s", key);
        *ms = n;
    } else if (v_date != NULL) {
        if (parse_date(name, v_date, ms, e) != ERR_OK)
            return ERR_INVALID;
        *ms += day_add * 86400000LL - end_less;
    }
    return ERR_OK;
}

/* ?format=json (the default) or csv: *csv 1 for csv. */
static err_code
query_format(struct http_req *req, int *csv, struct err *e)
{
    const char *f = http_query(req, "format");

    *csv = f != NULL && strcmp(f, "csv") == 0;
    if (f != NULL && !*csv && strcmp(f, "json") != 0)
        return err_set(e, ERR_INVALID, "format: json or csv");
    return ERR_OK;
}

/* The statistics answer of kind, named name in a CSV attachment. */
static err_code
answer(struct http_req *req, struct http_resp *resp, enum stats_kind kind,
       const char *name, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct stats_query q;
    const char *org = http_query(req, "org_id");
    long org_id = 0;
    int csv = 0;
    json_t *json = NULL;
    err_code rc;

    memset(&q, 0, sizeof(q));
    q.kind = kind;
    q.at_ms = q.to_ms = util_now_ms();
    if (org != NULL && util_parse_long(org, 1, INT64_MAX, &org_id, e)
        != ERR_OK)
        return err_wrap(e, ERR_INVALID, "org_id");
    q.org_id = org_id;
    if ((rc = query_format(req, &csv, e)) != ERR_OK)
        return rc;
    if (kind == STATS_SEALS) {
        if ((rc = query_time(req, "at", 1, 1, &q.at_ms, e)) != ERR_OK)
            return rc;
    } else {
        /* to: now by default; from: STATS_DEFAULT_MS before to */
        if ((rc = query_time(req, "to", 1, 0, &q.to_ms, e)) != ERR_OK)
            return rc;
        q.from_ms = q.to_ms - STATS_DEFAULT_MS;
        if ((rc = query_time(req, "from", 0, 0, &q.from_ms, e)) != ERR_OK)
            return rc;
    }
    if ((rc = stats_read(&a, &q, csv, &json, &resp->raw, &resp->raw_len, e))
        != ERR_OK)
        return rc;
    if (!csv) {
        if (q.org_id != 0)
            json_object_set_new(json, "org_id", json_integer(q.org_id));
        else
            json_object_set_new(json, "org_id", json_null());
        resp->data = json;
        return ERR_OK;
    }
    resp->content_type = "text/csv; charset=utf-8";
    snprintf(resp->disposition, sizeof(resp->disposition),
             "attachment; filename=\"%s.csv\"", name);
    return ERR_OK;
}

/* GET /api/v1/statistics/seals?at=DATE|at_ms=&org_id=&format= */
err_code
api_stats_seals(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return answer(req, resp, STATS_SEALS, "seals", e);
}

/* GET /api/v1/statistics/applications?from=&to=|from_ms=&to_ms=&... */
err_code
api_stats_apps(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return answer(req, resp, STATS_APPS, "applications", e);
}

/* GET /api/v1/statistics/signatures?from=&to=|from_ms=&to_ms=&... */
err_code
api_stats_sigs(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return answer(req, resp, STATS_SIGS, "signatures", e);
}

/* GET /api/v1/statistics/reports?after=&limit= */
err_code
api_stats_reports(struct http_req *req, struct http_resp *resp,
                  struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    json_t *items = NULL;
    int64_t after, next = 0;
    int limit;
    err_code rc;

    if ((rc = http_page(req, &after, &limit, e)) != ERR_OK ||
        (rc = stats_report_list(&a, after, limit, &items, &next, e))
        != ERR_OK)
        return rc;
    resp->data = json_pack("{s:o, s:o}", "items", items, "next_after",
                           next ? json_integer(next) : json_null());
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

/* GET /api/v1/statistics/reports/{id}?format=json|csv: the kept report,
 * in the envelope with its record (json) or as the CSV it was made with */
err_code
api_stats_report(struct http_req *req, struct http_resp *resp,
                 struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_stats_report r;
    json_t *body;
    json_error_t je;
    char *text = NULL;
    int64_t id;
    int csv = 0;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = query_format(req, &csv, e)) != ERR_OK ||
        (rc = stats_report_get(&a, id, csv, &r, &text, e)) != ERR_OK)
        return rc;
    if (csv) {
        resp->raw = text;
        resp->raw_len = strlen(text);
        resp->content_type = "text/csv; charset=utf-8";
        snprintf(resp->disposition, sizeof(resp->disposition),
                 "attachment; filename=\"report-%lld-%s.csv\"",
                 (long long)r.org_id, r.month);
        return ERR_OK;
    }
    body = json_loads(text, 0, &je);
    free(text);
    if (body == NULL)
        return err_set(e, ERR_INTERNAL, "report %lld is not JSON",
                       (long long)id);
    resp->data = json_pack("{s:I, s:I, s:s, s:I, s:I, s:I, s:o}", "id",
                           (json_int_t)r.id, "org_id", (json_int_t)r.org_id,
                           "month", r.month, "from_ms", (json_int_t)r.from_ms,
                           "to_ms", (json_int_t)r.to_ms, "created_ms",
                           (json_int_t)r.created_ms, "report", body);
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}
