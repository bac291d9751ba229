/*
 * api_status.c - the public seal status routes (issue 17): GET
 * /status/{esid} and GET /status/sm3/{sm3}, no credential.  Owns the HTTP
 * side of a statement: the [public] status switch (off: 404 as if the
 * route were not there), the per-address and global rate limits, content
 * negotiation (DER or a JSON view, no envelope, so that the body is the
 * same for every caller), and HTTP caching (Cache-Control bounded by
 * nextUpdate, ETag = quoted SM3 of the body, If-None-Match -> 304).  The
 * statement itself is seal_status.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "ratelimit.h"
#include "seal_status.h"
#include "sm2.h"
#include "util.h"

#define STATUS_DER_TYPE  "application/seald-status+der"
#define STATUS_JSON_TYPE "application/json; charset=utf-8"

/* One token from the caller's address bucket and one from the global
 * bucket; 429 with Retry-After otherwise. */
static err_code
status_rate(struct http_req *req, struct http_resp *resp, struct err *e)
{
    char key[HTTP_ADDR_MAX + 8];
    int64_t now = util_mono_ms();
    int wait = 0;

    snprintf(key, sizeof(key), "addr:%s", req->client_addr);
    if (req->app->status_limiter != NULL)
        wait = ratelimit_take(req->app->status_limiter, key, now);
    if (wait == 0 && req->app->status_global != NULL)
        wait = ratelimit_take(req->app->status_global, "all", now);
    if (wait == 0)
        return ERR_OK;
    resp->retry_after = wait;
    return err_set(e, ERR_RATE_LIMITED, "too many status requests; retry "
                   "in %d s", wait);
}

/* Does the Accept header ask for the DER statement? */
static int
wants_der(const struct http_req *req)
{
    const char *a = http_header(req, "Accept");

    return a != NULL && strcasestr(a, STATUS_DER_TYPE) != NULL;
}

/* RFC 3339 UTC of t as a new JSON string. */
static json_t *
time_json(time_t t)
{
    char buf[21];

    util_time_rfc3339(t, buf);
    return json_string(buf);
}

/* The JSON view of st (the same fields as the DER, which it carries in
 * base64 for the signature check): *text malloc'ed. */
static err_code
status_json(const struct seal_statement *st, char **text, size_t *len,
            struct err *e)
{
    const struct sstatus *f = &st->f;
    char hex[2 * SM3_DIGEST_LEN + 1];
    char *b64 = NULL;
    json_t *o = NULL;
    err_code rc;

    *text = NULL;
    if ((rc = util_b64_encode(st->der, st->der_len, &b64, e)) != ERR_OK)
        return rc;
    if (f->has_hash)
        util_hex_encode(f->seal_hash, SM3_DIGEST_LEN, hex);
    o = json_object();
    if (o == NULL ||
        json_object_set_new(o, "type", json_string("seald-seal-status")) ||
        json_object_set_new(o, "version", json_integer(SSTATUS_VERSION)) ||
        json_object_set_new(o, "es_id", f->es_id[0] ? json_string(f->es_id)
                                                    : json_null()) ||
        json_object_set_new(o, "seal_sm3", f->has_hash ? json_string(hex)
                                                       : json_null()) ||
        json_object_set_new(o, "status",
                            json_string(sstatus_state_name(f->status))) ||
        json_object_set_new(o, "status_time", f->has_time
                                ? time_json(f->status_time) : json_null()) ||
        json_object_set_new(o, "reason", f->reason >= 0
                                ? json_string(sstatus_reason_name(f->reason))
                                : json_null()) ||
        json_object_set_new(o, "reason_code", f->reason >= 0
                                ? json_integer(f->reason) : json_null()) ||
        json_object_set_new(o, "this_update", time_json(f->this_update)) ||
        json_object_set_new(o, "next_update", time_json(f->next_update)) ||
        json_object_set_new(o, "signature_algorithm",
                            json_string(f->alg_nid == NID_SM2_with_SM3
                                            ? SM2_OID_SM2_SM3
                                            : "1.2.840.10045.4.3.2")) ||
        (f->alg_nid == NID_SM2_with_SM3 &&
         json_object_set_new(o, "sm2_id", json_string(SM2_DEFAULT_ID))) ||
        json_object_set_new(o, "der", json_string(b64)) ||
        (*text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
        rc = err_set(e, ERR_NOMEM, "cannot write the status statement");
    else
        *len = strlen(*text);
    json_decref(o);
    free(b64);
    return rc;
}

/* The answer for key (an esID, or by_hash an SM3 in lowercase hex). */
static err_code
status_answer(struct http_req *req, struct http_resp *resp, const char *key,
              int by_hash, struct err *e)
{
    const struct config *cfg = req->app->cfg;
    struct seal_env env = {req->app->custody, req->app->cfg};
    struct seal_statement st;
    uint8_t h[SM3_DIGEST_LEN];
    char hex[2 * SM3_DIGEST_LEN + 1];
    char *body = NULL;
    size_t len = 0;
    time_t now = time(NULL);
    long age;
    int der = wants_der(req);
    err_code rc;

    memset(&st, 0, sizeof(st));
    if (!cfg->public_status)
        return err_set(e, ERR_NOT_FOUND, "no such route");
    if ((rc = status_rate(req, resp, e)) != ERR_OK)
        return rc;
    if (req->db == NULL)
        return err_set(e, ERR_DB_UNAVAILABLE, "no database connection");
    if ((rc = seal_status_statement(req->db, &env, req->app->status_cache,
                                    key, by_hash, now, &st, e)) != ERR_OK)
        goto done;
    if (der) {
        body = (char *)st.der;
        len = st.der_len;
        st.der = NULL;
    } else if ((rc = status_json(&st, &body, &len, e)) != ERR_OK) {
        goto done;
    }
    if ((rc = sm2_sm3(body, len, h, e)) != ERR_OK)
        goto done;
    util_hex_encode(h, sizeof(h), hex);
    snprintf(resp->etag, sizeof(resp->etag), "\"%s\"", hex);
    age = (long)(st.f.next_update - now);
    if (age > cfg->status_max_age_seconds)
        age = cfg->status_max_age_seconds;
    if (age < 0)
        age = 0;
    snprintf(resp->cache_control, sizeof(resp->cache_control),
             "public, max-age=%ld", age);
    resp->vary = "Accept";
    resp->content_type = der ? STATUS_DER_TYPE : STATUS_JSON_TYPE;
    if (http_etag_matches(req, resp->etag)) {
        free(body);
        if ((body = malloc(1)) == NULL) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto done;
        }
        len = 0;
        resp->status = 304;
    }
    resp->raw = body;
    resp->raw_len = len;
    body = NULL;
done:
    free(body);
    seal_statement_free(&st);
    return rc;
}

/* GET /status/{esid}: the statement of the seal with that esID (or a
 * signed "unknown"). */
err_code
api_status_esid(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return status_answer(req, resp, req->nparams > 0 ? req->params[0] : "",
                         0, e);
}

/* GET /status/sm3/{sm3}: the statement of the seal whose file has that SM3
 * (the router let only 64 lowercase hex digits through). */
err_code
api_status_sm3(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return status_answer(req, resp, req->nparams > 0 ? req->params[0] : "",
                         1, e);
}
