/*
 * api_audit.c - handlers for the auditor (query and export the audit log,
 * verify the chain, force and export checkpoints) and for the system
 * administrator's online backup.  The chain logic is in audit.c, the SQL in
 * store_audit.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "csv.h"
#include "config.h"
#include "sjson.h"
#include "system.h"
#include "util.h"

#define AUDIT_EXPORT_MAX     10000   /* rows per jsonl/csv export page */
#define AUDIT_FILTER_STR_MAX 128

enum audit_format { FMT_JSON, FMT_JSONL, FMT_CSV };

struct audit_page {
    enum audit_format fmt;
    json_t           *items;
    char             *buf;      /* JSON lines */
    size_t            len, cap;
    struct csv        csv;      /* CSV rows */
    int64_t           last;
    int               count;
    struct err       *e;
};

/* store_audit_query callback: add one entry to the page in its format
 * (JSON array item, JSON line or CSV line). */
static err_code
page_add(void *ctx, const struct store_audit_entry *en)
{
    struct audit_page *pg = ctx;
    json_t *j;
    char *line;
    err_code rc = ERR_OK;

    pg->last = en->seq;
    pg->count++;
    if (pg->fmt == FMT_CSV)
        return audit_entry_csv(en, &pg->csv, pg->e);
    if ((j = audit_entry_json(en)) == NULL)
        return err_set(pg->e, ERR_NOMEM, "out of memory");
    if (pg->fmt == FMT_JSON)
        return json_array_append_new(pg->items, j) == 0
                   ? ERR_OK : err_set(pg->e, ERR_NOMEM, "out of memory");
    line = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (line == NULL)
        return err_set(pg->e, ERR_NOMEM, "out of memory");
    {
        size_t n = strlen(line);
        if (pg->len + n + 2 > pg->cap) {
            size_t c = pg->cap ? pg->cap : 4096;
            char *p;
            while (c < pg->len + n + 2)
                c *= 2;
            if ((p = realloc(pg->buf, c)) == NULL) {
                rc = err_set(pg->e, ERR_NOMEM, "out of memory");
                goto done;
            }
            pg->buf = p;
            pg->cap = c;
        }
        memcpy(pg->buf + pg->len, line, n);
        pg->len += n;
        pg->buf[pg->len++] = '\n';
        pg->buf[pg->len] = '\0';
    }
done:
    free(line);
    return rc;
}

/* Query parameter key as an integer in [min, max]; absent: *out = 0. */
static err_code
query_int(const struct http_req *req, const char *key, long min, long max,
          int64_t *out, struct err *e)
{
    const char *v = http_query(req, key);
    long n;

    *out = 0;
    if (v == NULL)
        return ERR_OK;
    if (util_parse_long(v, min, max, &n, e) != ERR_OK)
        return err_wrap(e, ERR_INVALID, "%s", key);
    *out = n;
    return ERR_OK;
}

/* Query parameter key as a string of at most AUDIT_FILTER_STR_MAX bytes. */
static err_code
query_str(const struct http_req *req, const char *key, const char **out,
          struct err *e)
{
    *out = http_query(req, key);
    if (*out != NULL && (strlen(*out) == 0 ||
                         strlen(*out) > AUDIT_FILTER_STR_MAX))
        return err_set(e, ERR_INVALID, "%s: 1 to %d bytes", key,
                       AUDIT_FILTER_STR_MAX);
    return ERR_OK;
}

err_code
api_audit_list(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_audit_filter f;
    struct audit_page pg;
    const char *fmt = http_query(req, "format"), *seal = NULL;
    int64_t limit = 0;
    err_code rc;

    memset(&f, 0, sizeof(f));
    memset(&pg, 0, sizeof(pg));
    csv_init(&pg.csv, 0);
    pg.e = e;
    if (fmt == NULL || strcmp(fmt, "json") == 0)
        pg.fmt = FMT_JSON;
    else if (strcmp(fmt, "jsonl") == 0)
        pg.fmt = FMT_JSONL;
    else if (strcmp(fmt, "csv") == 0)
        pg.fmt = FMT_CSV;
    else
        return err_set(e, ERR_INVALID, "format must be json, jsonl or csv");
    if ((rc = query_int(req, "after", 0, LONG_MAX, &f.after, e)) != ERR_OK ||
        (rc = query_int(req, "limit", 1, pg.fmt == FMT_JSON ? STORE_PAGE_MAX
                        : AUDIT_EXPORT_MAX, &limit, e)) != ERR_OK ||
        (rc = query_int(req, "from", 0, LONG_MAX, &f.from_ms, e)) != ERR_OK ||
        (rc = query_int(req, "to", 1, LONG_MAX, &f.to_ms, e)) != ERR_OK ||
        (rc = query_int(req, "account", 1, LONG_MAX, &f.account_id, e))
        != ERR_OK ||
        (rc = query_int(req, "org", 1, LONG_MAX, &f.org_id, e)) != ERR_OK ||
        (rc = query_str(req, "action", &f.action, e)) != ERR_OK ||
        (rc = query_str(req, "outcome", &f.outcome, e)) != ERR_OK ||
        (rc = query_str(req, "target_type", &f.target_type, e)) != ERR_OK ||
        (rc = query_str(req, "target", &f.target_id, e)) != ERR_OK ||
        (rc = query_str(req, "seal", &seal, e)) != ERR_OK)
        return rc;
    if (seal != NULL) {
        if (f.target_id != NULL || f.target_type != NULL)
            return err_set(e, ERR_INVALID, "seal cannot be combined with "
                           "target or target_type");
        f.target_type = "seal";
        f.target_id = seal;
    }
    f.limit = limit ? (int)limit : HTTP_PAGE_DEFAULT;
    if (pg.fmt == FMT_JSON && (pg.items = json_array()) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (pg.fmt == FMT_CSV &&
        (rc = audit_entry_csv(NULL, &pg.csv, e)) != ERR_OK)
        goto done;
    if ((rc = audit_query(&a, &f, page_add, &pg, e)) != ERR_OK)
        goto done;
    if (pg.fmt == FMT_JSON) {
        resp->data = json_pack("{s:o, s:o}", "items", pg.items, "next_after",
                               pg.count == f.limit ? json_integer(pg.last)
                                                   : json_null());
        pg.items = NULL;
        rc = resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (pg.fmt == FMT_CSV) {
        if ((rc = csv_take(&pg.csv, &resp->raw, &resp->raw_len, e))
            != ERR_OK)
            goto done;
    } else if (pg.buf == NULL && (pg.buf = malloc(1)) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    } else {
        resp->raw = pg.buf;
        resp->raw_len = pg.len;
        pg.buf = NULL;
    }
    resp->content_type = pg.fmt == FMT_CSV ? "text/csv; charset=utf-8"
                                           : "application/x-ndjson";
    snprintf(resp->disposition, sizeof(resp->disposition),
             "attachment; filename=\"audit-%lld.%s\"", (long long)f.after,
             pg.fmt == FMT_CSV ? "csv" : "jsonl");
done:
    json_decref(pg.items);
    free(pg.buf);
    csv_free(&pg.csv);
    return rc;
}

/* Body: {} or {"checkpoint": <an exported checkpoint>}. */
err_code
api_audit_verify(struct http_req *req, struct http_resp *resp, struct err *e)
{
    static const char *const fields[] = {"checkpoint", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    struct store_audit_checkpoint cp;
    struct audit_verify_report r;
    const json_t *jcp = NULL;
    err_code rc;

    if (req->json != NULL &&
        ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK))
        return rc;
    if (req->json != NULL &&
        (jcp = json_object_get(req->json, "checkpoint")) != NULL &&
        (rc = audit_checkpoint_parse(jcp, &cp, e)) != ERR_OK)
        return rc;
    if ((rc = system_audit_verify_recorded(req->app, &a, jcp ? &cp : NULL,
                                           &r, e)) != ERR_OK)
        return rc;
    resp->data = audit_verify_json(&r);
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

err_code
api_audit_checkpoint(struct http_req *req, struct http_resp *resp,
                     struct err *e)
{
    const struct config *cfg = req->app->cfg;
    struct audit_sink sink = {cfg->audit_sink_file, cfg->audit_sink_syslog};
    struct store_audit_checkpoint cp;
    struct audit_actor who = http_actor(req);
    err_code rc;

    if ((rc = audit_checkpoint(req->db, req->app->custody, cfg->audit_key,
                               &sink, &who, &cp, e)) != ERR_OK)
        return rc;
    resp->status = 201;
    resp->data = audit_checkpoint_json(&cp);
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

err_code
api_audit_checkpoint_latest(struct http_req *req, struct http_resp *resp,
                            struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_audit_checkpoint cp;
    err_code rc;

    if ((rc = audit_latest_checkpoint(&a, &cp, e)) != ERR_OK)
        return rc;
    resp->data = audit_checkpoint_json(&cp);
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

err_code
api_admin_backup(struct http_req *req, struct http_resp *resp, struct err *e)
{
    static const char *const fields[] = {NULL};
    struct actor_ctx a = http_actor_ctx(req);
    char path[PATH_MAX];
    struct audit_verify_report r;
    int64_t bytes = 0;
    err_code rc;

    if (req->json != NULL &&
        (rc = sjson_only_keys(req->json, fields, e)) != ERR_OK)
        return rc;
    if ((rc = system_backup(req->app, &a, req->request_id, path, &bytes, &r,
                            e)) != ERR_OK)
        return rc;
    resp->status = 201;
    resp->data = json_pack("{s:s, s:I, s:o}", "path", path, "bytes",
                           (json_int_t)bytes, "audit",
                           audit_verify_json(&r));
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}
