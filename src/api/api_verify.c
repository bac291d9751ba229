/*
 * api_verify.c - handlers for verification (issue 7): POST /api/v1/verify
 * (an SES_Signature with its document or the document's SM3) and POST
 * /api/v1/verify/seal (a seal file alone).  Input as JSON with base64
 * fields or as multipart/form-data uploads; the verify routes have their
 * own per-account rate limit.  The work is in verify.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "authz.h"
#include "sjson.h"
#include "multipart.h"
#include "ratelimit.h"
#include "ses.h"
#include "sm2.h"
#include "util.h"
#include "verify.h"

#define API_VERIFY_HEX_MAX (2 * SM3_DIGEST_LEN)

/* The input of one verify request; bufs are owned (freed by input_free),
 * the pointers in in point into them or into the request body. */
struct verify_req {
    struct verify_input in;
    uint8_t *der_buf, *doc_buf;
    uint8_t  hash[SM3_DIGEST_LEN];
};

static void
input_free(struct verify_req *v)
{
    free(v->der_buf);
    free(v->doc_buf);
}

/* Take one token from the caller's verify bucket; 429 with Retry-After
 * otherwise.  Verifiers (PERM_VERIFY_BULK) have their own, larger one. */
err_code
api_verify_rate(struct http_req *req, struct http_resp *resp, struct err *e)
{
    int bulk = authz_holds(&req->principal, PERM_VERIFY_BULK);
    struct ratelimit *rl = bulk ? req->app->verify_bulk_limiter
                                : req->app->verify_limiter;
    char key[40];
    int wait;

    if (rl == NULL)
        return ERR_OK;
    snprintf(key, sizeof(key), "%s:%lld", bulk ? "bulk" : "acct",
             (long long)req->principal.account_id);
    if ((wait = ratelimit_take(rl, key, util_mono_ms())) == 0)
        return ERR_OK;
    resp->retry_after = wait;
    return err_set(e, ERR_RATE_LIMITED, "too many verification requests; "
                   "retry in %d s", wait);
}

/* The SM3 hex of field (64 hex digits) into v->hash. */
static err_code
take_hash(struct verify_req *v, const char *field, const char *hex,
          size_t len, struct err *e)
{
    char buf[API_VERIFY_HEX_MAX + 1];
    size_t n = 0;

    if (len != API_VERIFY_HEX_MAX)
        return err_set(e, ERR_BAD_REQUEST, "%s: an SM3 hash is %d hex "
                       "digits", field, API_VERIFY_HEX_MAX);
    memcpy(buf, hex, len);
    buf[len] = '\0';
    if (util_hex_decode(buf, v->hash, sizeof(v->hash), &n, NULL) != ERR_OK ||
        n != SM3_DIGEST_LEN)
        return err_set(e, ERR_BAD_REQUEST, "%s: not a hex SM3 hash", field);
    v->in.hash = v->hash;
    v->in.hash_len = SM3_DIGEST_LEN;
    return ERR_OK;
}

/* Base64 field of the JSON body into *buf / *len (max bytes decoded). */
static err_code
take_b64(const json_t *body, const char *field, int required, size_t max,
         uint8_t **buf, size_t *len, struct err *e)
{
    const char *s = NULL;
    err_code rc;

    *buf = NULL;
    *len = 0;
    if ((rc = sjson_get_str(body, field, max / 3 * 4 + 4, required, &s, e)) !=
        ERR_OK)
        return rc;
    if (s == NULL)
        return ERR_OK;
    if (util_b64_decode(s, strlen(s), buf, len, NULL) != ERR_OK)
        return err_set(e, ERR_MALFORMED, "%s: not valid base64", field);
    if (*len == 0 || *len > max) {
        free(*buf);
        *buf = NULL;
        return err_set(e, *len == 0 ? ERR_MALFORMED : ERR_TOO_LARGE,
                       "%s: %s", field, *len == 0 ? "empty" : "too large");
    }
    return ERR_OK;
}

/* Read the request: der_field (required), and, when with_doc, "document"
 * or "document_sm3" (not both), from JSON or multipart/form-data. */
static err_code
read_input(struct http_req *req, const char *der_field, int with_doc,
           struct verify_req *v, struct err *e)
{
    static const char *const sig_keys[] = {"signature", "document",
                                           "document_sm3", NULL};
    static const char *const seal_keys[] = {"seal", NULL};
    size_t doc_max = (size_t)req->app->cfg->max_body_bytes;
    err_code rc;

    memset(v, 0, sizeof(*v));
    if (req->json != NULL) {
        const char *hex = NULL;
        if ((rc = sjson_only_keys(req->json, with_doc ? sig_keys : seal_keys,
                                 e)) != ERR_OK ||
            (rc = take_b64(req->json, der_field, 1, SES_MAX_DER, &v->der_buf,
                           &v->in.der_len, e)) != ERR_OK)
            return rc;
        v->in.der = v->der_buf;
        if (!with_doc)
            return ERR_OK;
        if ((rc = take_b64(req->json, "document", 0, doc_max, &v->doc_buf,
                           &v->in.doc_len, e)) != ERR_OK ||
            (rc = sjson_get_str(req->json, "document_sm3", API_VERIFY_HEX_MAX,
                               0, &hex, e)) != ERR_OK)
            return rc;
        v->in.doc = v->doc_buf;
        if (hex != NULL &&
            (rc = take_hash(v, "document_sm3", hex, strlen(hex), e)) !=
                ERR_OK)
            return rc;
    } else if (req->body_len > 0 && multipart_is_form(req->content_type)) {
        struct multipart mp;
        const struct multipart_part *p;
        char boundary[MULTIPART_BOUNDARY_MAX + 1];
        size_t i;

        if ((rc = multipart_boundary(req->content_type, boundary, e)) !=
                ERR_OK ||
            (rc = multipart_parse((const uint8_t *)req->body, req->body_len,
                                  boundary, &mp, e)) != ERR_OK)
            return rc;
        for (i = 0; i < mp.n; i++) {
            const char *n = mp.parts[i].name;
            if (strcmp(n, der_field) != 0 &&
                (!with_doc || (strcmp(n, "document") != 0 &&
                               strcmp(n, "document_sm3") != 0)))
                return err_set(e, ERR_BAD_REQUEST, "unknown form field "
                               "'%s'", n);
        }
        if ((p = multipart_get(&mp, der_field)) == NULL || p->len == 0)
            return err_set(e, ERR_BAD_REQUEST, "form field '%s' is "
                           "required", der_field);
        if (p->len > SES_MAX_DER)
            return err_set(e, ERR_TOO_LARGE, "%s: too large", der_field);
        v->in.der = p->data;
        v->in.der_len = p->len;
        if (with_doc && (p = multipart_get(&mp, "document")) != NULL) {
            v->in.doc = p->data;
            v->in.doc_len = p->len;
        }
        if (with_doc && (p = multipart_get(&mp, "document_sm3")) != NULL &&
            (rc = take_hash(v, "document_sm3", (const char *)p->data, p->len,
                            e)) != ERR_OK)
            return rc;
    } else {
        return err_set(e, ERR_BAD_REQUEST, "send the %s as JSON (base64) or "
                       "as multipart/form-data", der_field);
    }
    if (v->in.doc != NULL && v->in.hash != NULL)
        return err_set(e, ERR_BAD_REQUEST, "give the document or its SM3 "
                       "hash, not both");
    return ERR_OK;
}

/* Shared body of both handlers. */
static err_code
verify_common(struct http_req *req, struct http_resp *resp, int signature,
              struct err *e)
{
    struct verify_service *svc = NULL;
    struct verify_status vs;
    struct verify_req v;
    json_t *report = NULL;
    err_code rc;

    memset(&v, 0, sizeof(v));
    memset(&vs, 0, sizeof(vs));
    vs.db = req->db;
    if ((rc = api_verify_rate(req, resp, e)) != ERR_OK ||
        (rc = read_input(req, signature ? "signature" : "seal", signature,
                         &v, e)) != ERR_OK ||
        (rc = verify_service_shared(req->app->cfg->trust_dir, &svc, e)) !=
            ERR_OK)
        goto done;
    rc = signature ? verify_signature(svc, &vs, &v.in, &report, e)
                   : verify_seal(svc, &vs, &v.in, &report, e);
    if (rc == ERR_MALFORMED || rc == ERR_TOO_LARGE)
        rc = err_wrap(e, rc, "%s", signature ? "signature" : "seal");
    if (rc != ERR_OK)
        goto done;
    resp->data = report;
    report = NULL;
done:
    json_decref(report);
    input_free(&v);
    return rc;
}

err_code
api_verify_signature(struct http_req *req, struct http_resp *resp,
                     struct err *e)
{
    return verify_common(req, resp, 1, e);
}

err_code
api_verify_seal(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return verify_common(req, resp, 0, e);
}
