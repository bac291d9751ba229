/*
 * api_verify.c - handlers for verification (issue 7): POST /api/v1/verify
 * (an SES_Signature with its document or the document's SM3) and POST
 * /api/v1/verify/seal (a seal file alone).  Input as JSON with base64
 * fields or as multipart/form-data uploads, read by api_verify_in.c; the
 * verify routes have their own per-account rate limit.  The work is in
 * verify.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_verify_in.h"
#include "authz.h"
#include "ratelimit.h"
#include "util.h"

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

/* The forms of the two routes: a signature with its document or the
 * document's SM3 (either may be left out: the report then says the
 * dataHash was not checked), and a seal alone. */
static const struct api_verify_form sig_form = {
    API_VERIFY_SIGNATURE, "document_sm3", 0, 0,
    "give {signature[, document | document_sm3]}"};
static const struct api_verify_form seal_form = {
    API_VERIFY_SEAL, "document_sm3", 0, 0, "give {seal}"};

/* Shared body of both handlers. */
static err_code
verify_common(struct http_req *req, struct http_resp *resp, int signature,
              struct err *e)
{
    struct api_verify_form f = signature ? sig_form : seal_form;
    struct api_verify_req v;
    json_t *report = NULL;
    err_code rc;

    memset(&v, 0, sizeof(v));
    f.doc_max = (size_t)req->app->cfg->max_body_bytes;
    if ((rc = api_verify_rate(req, resp, e)) != ERR_OK ||
        (rc = api_verify_read(req, &f, &v, e)) != ERR_OK ||
        (rc = api_verify_run(req, &v, 0, &report, e)) != ERR_OK)
        goto done;
    resp->data = report;
    report = NULL;
done:
    json_decref(report);
    api_verify_req_free(&v);
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
