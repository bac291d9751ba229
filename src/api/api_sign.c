/*
 * api_sign.c - handlers for signing requests, signing, signature downloads
 * and usage reports.  The rules are in signing.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "csv.h"
#include "sjson.h"
#include "rbac.h"
#include "signing.h"
#include "util.h"

#define API_DOC_B64_MAX (64 * 1024 * 1024)
#define USAGE_CSV_MAX   (16 * 1024 * 1024)

static struct seal_env
env_of(const struct http_req *req)
{
    struct seal_env env = {req->app->custody, req->app->cfg};

    return env;
}

static err_code
doc_add_json(void *ctx, const struct store_sdoc *d)
{
    char sm3[65];

    util_hex_encode(d->sm3, sizeof(d->sm3), sm3);
    json_array_append_new(ctx, json_pack("{s:I, s:s, s:I, s:s, s:b, s:i}",
                          "id", (json_int_t)d->id, "name", d->name,
                          "size", (json_int_t)d->size_bytes, "sm3", sm3,
                          "uploaded", d->has_data,
                          "signatures", d->signatures));
    return ERR_OK;
}

/* The request with its documents. */
static err_code
sreq_json(const struct actor_ctx *a, const struct store_sreq *r,
          const struct store_seal *s, json_t **out, struct err *e)
{
    json_t *docs = json_array();
    err_code rc;

    if ((rc = sign_request_documents(a, r, doc_add_json, docs, e))
        != ERR_OK) {
        json_decref(docs);
        return rc;
    }
    *out = json_pack("{s:I, s:s, s:I, s:o, s:s, s:s, s:i, s:o, s:o, s:s, "
                     "s:s?, s:o, s:o, s:I, s:o, s:s?}",
                     "id", (json_int_t)r->id, "esid", s->esid,
                     "submitter_id", (json_int_t)r->submitter_id,
                     "deputy_id", r->deputy_id ? json_integer(r->deputy_id)
                                               : json_null(),
                     "title", r->title, "purpose", r->purpose,
                     "copies", r->copies,
                     "resubmits_id", r->resubmits_id
                         ? json_integer(r->resubmits_id) : json_null(),
                     "extra_for_id", r->extra_for_id
                         ? json_integer(r->extra_for_id) : json_null(),
                     "state", sreq_state_name(r->state),
                     "state_reason", r->state_reason[0] ? r->state_reason
                                                        : NULL,
                     "approver_id", r->approver_id
                         ? json_integer(r->approver_id) : json_null(),
                     "expires_ms", r->expires_ms
                         ? json_integer(r->expires_ms) : json_null(),
                     "created_ms", (json_int_t)r->created_ms,
                     "documents", docs,
                     "document_type", r->document_type[0] ? r->document_type
                                                          : NULL);
    return *out ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

static err_code
answer_request(struct http_req *req, struct http_resp *resp, int64_t id,
               struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_sreq r;
    struct store_seal s;
    err_code rc;

    if ((rc = sign_request_get_state(&a, id, &r, &s, e)) != ERR_OK)
        return rc;
    return sreq_json(&a, &r, &s, &resp->data, e);
}

/* documents: [{name, sm3 (hex), size} | {name, data (base64)}].  A size
 * declared with the hash is at most size_max: the document is uploaded as a
 * request body later, so no larger one could ever arrive. */
static err_code
parse_docs(const json_t *arr, struct sign_doc_new *docs, uint8_t **bufs,
           size_t max, long long size_max, size_t *n, struct err *e)
{
    static const char *const fields[] = {"name", "sm3", "size", "data",
                                         NULL};
    const json_t *d;
    size_t i, got = 0;
    err_code rc;

    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > max)
        return err_set(e, ERR_BAD_REQUEST, "field 'documents' must be an "
                       "array of 1 to %zu documents", max);
    json_array_foreach(arr, i, d) {
        struct sign_doc_new *doc = &docs[i];
        const char *hex = NULL, *data = NULL;
        long long size = 0;
        if (!json_is_object(d))
            return err_set(e, ERR_BAD_REQUEST, "documents[%zu] must be an "
                           "object", i);
        if ((rc = sjson_only_keys(d, fields, e)) != ERR_OK ||
            (rc = sjson_get_str(d, "name", SIGN_DOC_NAME_MAX, 1, &doc->name,
                               e)) != ERR_OK ||
            (rc = sjson_get_str(d, "sm3", 64, 0, &hex, e)) != ERR_OK ||
            (rc = sjson_get_str(d, "data", API_DOC_B64_MAX, 0, &data, e))
            != ERR_OK ||
            (rc = sjson_get_int(d, "size", 0, size_max, 0, &size, e))
            != ERR_OK)
            return rc;
        if ((hex == NULL) == (data == NULL))
            return err_set(e, ERR_BAD_REQUEST, "documents[%zu]: give either "
                           "data (base64) or sm3 (hex) with size", i);
        if (hex != NULL) {
            if (util_hex_decode(hex, doc->sm3, sizeof(doc->sm3), &got, e)
                != ERR_OK || got != sizeof(doc->sm3))
                return err_set(e, ERR_INVALID, "documents[%zu].sm3 must be "
                               "64 hex digits", i);
            doc->size = size;
        } else if (util_b64_decode(data, strlen(data), &bufs[i], &doc->len,
                                   e) != ERR_OK) {
            return err_set(e, ERR_BAD_REQUEST, "documents[%zu].data is not "
                           "base64", i);
        } else {
            doc->data = bufs[i];
        }
        *n = i + 1;
    }
    return ERR_OK;
}

err_code
api_sreq_submit(struct http_req *req, struct http_resp *resp, struct err *e)
{
    static const char *const fields[] = {"esid", "title", "purpose", "copies",
        "documents", "resubmits_id", "extra_for_id", "document_type", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    size_t max = (size_t)req->app->cfg->sign_max_documents, i;
    struct sign_doc_new *docs = calloc(max, sizeof(*docs));
    uint8_t **bufs = calloc(max, sizeof(*bufs));
    struct sign_new n;
    long long copies = 1, resub = 0, extra = 0;
    int64_t id;
    err_code rc;

    memset(&n, 0, sizeof(n));
    if (docs == NULL || bufs == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (req->json == NULL) {
        rc = err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
        goto done;
    }
    if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "esid", STORE_ESID_MAX - 1, 1, &n.esid,
                           e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "title", SIGN_TITLE_MAX, 1, &n.title,
                           e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "purpose", SIGN_PURPOSE_MAX, 1,
                           &n.purpose, e)) != ERR_OK ||
        (rc = sjson_get_int(req->json, "copies", 1, SIGN_MAX_COPIES, 0,
                           &copies, e)) != ERR_OK ||
        (rc = sjson_get_int(req->json, "resubmits_id", 1, INT64_MAX, 0, &resub,
                           e)) != ERR_OK ||
        (rc = sjson_get_int(req->json, "extra_for_id", 1, INT64_MAX, 0,
                           &extra, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "document_type", CONFIG_DOCTYPE_MAX,
                           0, &n.document_type, e)) != ERR_OK ||
        (rc = parse_docs(json_object_get(req->json, "documents"), docs, bufs,
                         max, req->app->cfg->max_body_bytes, &n.ndocs, e))
        != ERR_OK)
        goto done;
    n.copies = (long)copies;
    n.resubmits_id = resub;
    n.extra_for_id = extra;
    n.docs = docs;
    n.cfg = req->app->cfg;
    if ((rc = sign_submit(&a, &n, (long)max, &id, e)) == ERR_OK &&
        (rc = answer_request(req, resp, id, e)) == ERR_OK)
        resp->status = 201;
done:
    for (i = 0; bufs != NULL && i < max; i++)
        free(bufs[i]);
    free(bufs);
    free(docs);
    return rc;
}

err_code
api_sreq_get(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_sreq r;
    struct store_seal s;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = sign_request_get(&a, id, &r, &s, e)) != ERR_OK)
        return rc;
    return sreq_json(&a, &r, &s, &resp->data, e);
}

static err_code
decide(struct http_req *req, struct http_resp *resp, int approve,
       struct err *e)
{
    static const char *const fields[] = {"reason", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    const char *reason = NULL;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK)
        return rc;
    if (req->json != NULL &&
        ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
         (rc = sjson_get_str(req->json, "reason", SIGN_PURPOSE_MAX, 0, &reason,
                            e)) != ERR_OK))
        return rc;
    if ((rc = sign_decide(&a, id, approve, reason,
                          req->app->cfg->sign_approval_seconds * 1000LL, e))
        != ERR_OK)
        return rc;
    return answer_request(req, resp, id, e);
}

err_code
api_sreq_approve(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return decide(req, resp, 1, e);
}

err_code
api_sreq_reject(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return decide(req, resp, 0, e);
}

err_code
api_sreq_cancel(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = sign_cancel(&a, id, e)) != ERR_OK)
        return rc;
    return answer_request(req, resp, id, e);
}

err_code
api_sreq_sign(struct http_req *req, struct http_resp *resp, struct err *e)
{
    static const char *const fields[] = {"document_ids", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    struct seal_env env = env_of(req);
    int64_t *ids = NULL, id;
    size_t n = 0, i;
    const json_t *arr, *v;
    json_t *results = NULL;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK)
        return rc;
    if (req->json != NULL) {
        if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK)
            return rc;
        arr = json_object_get(req->json, "document_ids");
        if (arr != NULL) {
            if (!json_is_array(arr) || json_array_size(arr) == 0 ||
                json_array_size(arr) >
                    (size_t)req->app->cfg->sign_max_documents)
                return err_set(e, ERR_BAD_REQUEST, "document_ids must be a "
                               "non-empty array of ids");
            if ((ids = calloc(json_array_size(arr), sizeof(*ids))) == NULL)
                return err_set(e, ERR_NOMEM, "out of memory");
            json_array_foreach(arr, i, v) {
                if (!json_is_integer(v) || json_integer_value(v) < 1) {
                    free(ids);
                    return err_set(e, ERR_BAD_REQUEST, "document_ids must "
                                   "be positive integers");
                }
                ids[n++] = json_integer_value(v);
            }
        }
    }
    rc = sign_documents(&a, &env, id, ids, n, &results, e);
    free(ids);
    if (rc != ERR_OK)
        return rc;
    resp->data = json_pack("{s:I, s:o}", "request_id", (json_int_t)id,
                           "results", results);
    return ERR_OK;
}

/* PUT /api/v1/sign-requests/{id}/documents/{doc}/content: the document's
 * bytes as application/octet-stream (or application/ofd, application/pdf),
 * hashed by the HTTP layer as they arrive. */
err_code
api_sreq_upload(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    int64_t id, doc;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = http_param_id(req, 1, &doc, e)) != ERR_OK)
        return rc;
    if (!req->body_hashed)
        return err_set(e, ERR_UNSUPPORTED, "send the document's bytes as "
                       "Content-Type: application/octet-stream");
    if ((rc = sign_upload(&a, id, doc, (const uint8_t *)req->body,
                          req->body_len, req->body_sm3, e)) != ERR_OK)
        return rc;
    return answer_request(req, resp, id, e);
}

err_code
api_signature_file(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_seal s;
    uint8_t *der = NULL;
    size_t len = 0;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = sign_signature_file(&a, id, &s, &der, &len, e)) != ERR_OK)
        return rc;
    resp->raw = (char *)der;
    resp->raw_len = len;
    resp->content_type = "application/octet-stream";
    snprintf(resp->disposition, sizeof(resp->disposition),
             "attachment; filename=\"%s-%lld.dat\"", s.esid, (long long)id);
    return ERR_OK;
}

struct usage_out {
    json_t     *items;          /* format=json */
    struct csv *csv;            /* format=csv */
    struct err *e;
};

static err_code
usage_add(void *ctx, const struct store_usage *x)
{
    struct usage_out *u = ctx;
    char first[21], last[21];
    err_code rc;

    util_time_rfc3339((time_t)(x->first_ms / 1000), first);
    util_time_rfc3339((time_t)(x->last_ms / 1000), last);
    if (u->csv != NULL) {
        if ((rc = csv_text(u->csv, x->esid, u->e)) != ERR_OK ||
            (rc = csv_text(u->csv, x->seal_name, u->e)) != ERR_OK ||
            (rc = csv_int(u->csv, x->org_id, u->e)) != ERR_OK ||
            (rc = csv_int(u->csv, x->count, u->e)) != ERR_OK ||
            (rc = csv_text(u->csv, first, u->e)) != ERR_OK ||
            (rc = csv_text(u->csv, last, u->e)) != ERR_OK)
            return rc;
        return csv_end_row(u->csv, u->e);
    }
    json_array_append_new(u->items, json_pack("{s:s, s:s, s:I, s:I, s:s, "
                          "s:s}", "esid", x->esid, "seal_name", x->seal_name,
                          "org_id", (json_int_t)x->org_id,
                          "signatures", (json_int_t)x->count,
                          "first", first, "last", last));
    return ERR_OK;
}

/* GET /api/v1/usage?esid=|org_id=&from_ms=&to_ms=&format=json|csv: the
 * usage summary per seal, for the auditor (usage.read) and the
 * organisation (application.submit over it). */
err_code
api_usage(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    const char *esid = http_query(req, "esid"), *org = http_query(req, "org_id");
    const char *from = http_query(req, "from_ms"), *to = http_query(req, "to_ms");
    const char *format = http_query(req, "format");
    static const char *const head[] = {"esid", "seal_name", "org_id",
                                       "signatures", "first", "last"};
    struct csv csv;
    struct usage_out u = {NULL, NULL, e};
    long org_parsed = 0, f = 0, t = INT64_MAX;
    int64_t org_id;
    err_code rc;

    if ((esid == NULL) == (org == NULL))
        return err_set(e, ERR_BAD_REQUEST, "give esid or org_id");
    if ((org != NULL && util_parse_long(org, 1, INT64_MAX, &org_parsed, e)
         != ERR_OK) ||
        (from != NULL && util_parse_long(from, 0, INT64_MAX, &f, e)
         != ERR_OK) ||
        (to != NULL && util_parse_long(to, 0, INT64_MAX, &t, e) != ERR_OK))
        return err_wrap(e, ERR_INVALID, "org_id/from_ms/to_ms");
    if (format != NULL && strcmp(format, "json") != 0 &&
        strcmp(format, "csv") != 0)
        return err_set(e, ERR_INVALID, "format must be json or csv");
    org_id = org_parsed;
    csv_init(&csv, USAGE_CSV_MAX);
    if (format != NULL && !strcmp(format, "csv")) {
        u.csv = &csv;
        if ((rc = csv_text_row(&csv, head, sizeof(head) / sizeof(head[0]),
                               e)) != ERR_OK) {
            csv_free(&csv);
            return rc;
        }
    } else if ((u.items = json_array()) == NULL) {
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    if ((rc = sign_usage(&a, esid, &org_id, f, t, usage_add, &u, e))
        != ERR_OK ||
        (u.csv != NULL &&
         (rc = csv_take(&csv, &resp->raw, &resp->raw_len, e)) != ERR_OK)) {
        if (rc == ERR_TOO_LARGE)
            rc = err_set(e, ERR_TOO_LARGE, "report larger than %d bytes",
                         USAGE_CSV_MAX);
        csv_free(&csv);
        json_decref(u.items);
        return rc;
    }
    if (u.csv != NULL) {
        resp->content_type = "text/csv; charset=utf-8";
        snprintf(resp->disposition, sizeof(resp->disposition),
                 "attachment; filename=\"usage.csv\"");
        return ERR_OK;
    }
    resp->data = json_pack("{s:o, s:I, s:I, s:o}", "org_id",
                           org_id ? json_integer(org_id) : json_null(),
                           "from_ms", (json_int_t)f, "to_ms", (json_int_t)t,
                           "seals", u.items);
    return ERR_OK;
}

void
api_attachment(struct http_resp *resp, const char *what, int64_t id,
               const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    char ext[8] = "", enc[HTTP_DISPOSITION_MAX];
    const char *dot = name != NULL ? strrchr(name, '.') : NULL;
    size_t i, k = 0, n;
    int ok = dot != NULL && dot[1] != '\0' && strlen(dot + 1) <= 5;
    int fits = name != NULL;

    for (i = 1; ok && dot[i] != '\0'; i++)
        ok = (dot[i] >= 'a' && dot[i] <= 'z') ||
             (dot[i] >= 'A' && dot[i] <= 'Z') ||
             (dot[i] >= '0' && dot[i] <= '9');
    if (ok)
        snprintf(ext, sizeof(ext), "%s", dot);
    /* RFC 5987 attr-char stays, every other byte is %XX */
    for (i = 0; fits && name[i] != '\0'; i++) {
        unsigned char c = (unsigned char)name[i];
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || strchr("!#$&+-.^_`|~", c);
        if (k + 4 >= sizeof(enc)) {
            fits = 0;
            break;
        }
        if (plain) {
            enc[k++] = (char)c;
        } else {
            enc[k++] = '%';
            enc[k++] = hex[c >> 4];
            enc[k++] = hex[c & 15];
        }
    }
    enc[k] = '\0';
    n = (size_t)snprintf(resp->disposition, sizeof(resp->disposition),
                         "attachment; filename=\"%s-%lld%s\"", what,
                         (long long)id, ext);
    if (fits && n + k + 20 < sizeof(resp->disposition))
        snprintf(resp->disposition + n, sizeof(resp->disposition) - n,
                 "; filename*=UTF-8''%s", enc);
}

/* An uploaded document's media type from its first bytes: an OFD is a ZIP
 * package, a PDF starts %PDF-; anything else is octet-stream. */
static const char *
sniff_type(const uint8_t *p, size_t len)
{
    if (len >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
        return "application/ofd";
    if (len >= 5 && memcmp(p, "%PDF-", 5) == 0)
        return "application/pdf";
    return "application/octet-stream";
}

/* GET /api/v1/sign-requests/{id}/documents/{doc}/content: the document's
 * bytes, for those who may act on the request (sign_may_open). */
err_code
api_sreq_document(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_sdoc d;
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t id, doc;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = http_param_id(req, 1, &doc, e)) != ERR_OK ||
        (rc = sign_document_file(&a, id, doc, &d, &data, &len, e))
        != ERR_OK)
        return rc;
    resp->raw = (char *)data;
    resp->raw_len = len;
    resp->content_type = sniff_type(data, len);
    api_attachment(resp, "document", doc, d.name);
    return ERR_OK;
}

/* GET /api/v1/sign-requests/{id}/sealed/{sealed}: a sealed OFD kept. */
err_code
api_sreq_sealed(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_sealed k;
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t id, sid;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = http_param_id(req, 1, &sid, e)) != ERR_OK ||
        (rc = sign_sealed_file(&a, id, sid, &k, &data, &len, e)) != ERR_OK)
        return rc;
    resp->raw = (char *)data;
    resp->raw_len = len;
    resp->content_type = "application/ofd";
    api_attachment(resp, "sealed", sid, "sealed.ofd");
    return ERR_OK;
}

/* The list's rows: a request without its documents (GET .../{id} has
 * them), with its seal's esID read by the row's seal. */
struct sreq_page {
    const struct actor_ctx *a;
    json_t                 *items;
    int64_t                 last;
    int                     n;
};

static err_code
sreq_page_add(void *ctx, const struct store_sreq *r)
{
    struct sreq_page *pg = ctx;

    pg->last = r->id;
    pg->n++;
    json_array_append_new(pg->items, json_pack(
        "{s:I, s:I, s:I, s:s, s:s, s:i, s:s, s:s?, s:o, s:o, s:I}",
        "id", (json_int_t)r->id, "seal_id", (json_int_t)r->seal_id,
        "submitter_id", (json_int_t)r->submitter_id, "title", r->title,
        "purpose", r->purpose, "copies", r->copies,
        "state", sreq_state_name(r->state),
        "state_reason", r->state_reason[0] ? r->state_reason : NULL,
        "approver_id", r->approver_id ? json_integer(r->approver_id)
                                      : json_null(),
        "expires_ms", r->expires_ms ? json_integer(r->expires_ms)
                                    : json_null(),
        "created_ms", (json_int_t)r->created_ms));
    return ERR_OK;
}

/* "me" is the one value of waiting_for and submitted_by: a portal asks
 * for its person's inbox, never for someone else's. */
static err_code
me_flag(const struct http_req *req, const char *name, int *out,
        struct err *e)
{
    const char *v = http_query(req, name);

    *out = 0;
    if (v == NULL)
        return ERR_OK;
    if (strcmp(v, "me") != 0)
        return err_set(e, ERR_INVALID, "%s must be me", name);
    *out = 1;
    return ERR_OK;
}

/* GET /api/v1/sign-requests?state=&org_id=&esid=&waiting_for=me&
 * submitted_by=me&after=&limit=: the requests the caller may read, by
 * id, keyset-paginated (next_after). */
err_code
api_sreq_list(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct sreq_page pg = {&a, json_array(), 0, 0};
    struct store_sreq_filter f;
    const char *org = http_query(req, "org_id");
    const char *state = http_query(req, "state");
    const char *esid = http_query(req, "esid");
    long org_id = 0;
    int64_t after;
    int limit;
    err_code rc;

    memset(&f, 0, sizeof(f));
    if (pg.items == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = http_page(req, &after, &limit, e)) != ERR_OK ||
        (rc = me_flag(req, "waiting_for", &f.waiting_for_reader, e))
        != ERR_OK ||
        (rc = me_flag(req, "submitted_by", &f.submitted_by_reader, e))
        != ERR_OK)
        goto fail;
    if (org != NULL && util_parse_long(org, 1, INT64_MAX, &org_id, e)
        != ERR_OK) {
        rc = err_wrap(e, ERR_INVALID, "org_id");
        goto fail;
    }
    if (esid != NULL && strlen(esid) >= STORE_ESID_MAX) {
        rc = err_set(e, ERR_INVALID, "esid is at most %d bytes",
                     STORE_ESID_MAX - 1);
        goto fail;
    }
    f.state = sreq_state_parse(state);
    f.org_id = org_id;
    f.esid = esid;
    /* a state no request can be in is no error: an empty page */
    if ((state == NULL || f.state != SREQ_NONE) &&
        (rc = sign_request_list(&a, &f, after, limit, sreq_page_add, &pg, e))
        != ERR_OK)
        goto fail;
    resp->data = json_pack("{s:o, s:o}", "items", pg.items, "next_after",
                           pg.n == limit ? json_integer(pg.last)
                                         : json_null());
    return ERR_OK;
fail:
    json_decref(pg.items);
    return rc;
}
