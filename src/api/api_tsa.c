/*
 * api_tsa.c - POST /tsa (issue 17 item 8): seald as an RFC 3161 TSA over
 * HTTP (RFC 3161 3.4) for platforms without one, no credential.  Owns the
 * HTTP side: the [public] tsa switch (off by default: 404), on the headers
 * the body limit (API_TSA_BODY_MAX, 413 at once) and one token of the
 * caller's address bucket (429), the media types (415 for a body that is
 * not application/timestamp-query).  A query the TSA refuses is answered
 * as RFC 3161 says, with a TimeStampResp whose status is rejection (HTTP
 * 200): the TSA's answer, not an HTTP error.  Refusals (413, 415, 429) are
 * audited by http.c as every anonymous refusal; a timestamp writes
 * nothing (its serial is random).  The reply is tsa.c's and ses_tsa.c's.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "ratelimit.h"
#include "ses.h"
#include "tsa.h"
#include "util.h"

#define API_TSA_BODY_MAX  SES_TSA_QUERY_MAX       /* 4 KiB */
#define API_TSA_QUERY     "application/timestamp-query"
#define API_TSA_REPLY     "application/timestamp-reply"

/* Contract: api.h.  No number in the message: it keys the refusal
 * summary. */
err_code
api_tsa_admit(struct http_req *req, int *retry_after, struct err *e)
{
    char key[HTTP_ADDR_MAX + 8];
    int wait;

    req->body_max = API_TSA_BODY_MAX;
    if (req->app->tsa_limiter == NULL)
        return ERR_OK;
    snprintf(key, sizeof(key), "tsa:%s", req->client_addr);
    if ((wait = ratelimit_take(req->app->tsa_limiter, key,
                               util_mono_ms())) == 0)
        return ERR_OK;
    *retry_after = wait;
    return err_set(e, ERR_RATE_LIMITED, "too many timestamp queries from "
                   "this address; retry after the time Retry-After gives");
}

/* Is the request's body an application/timestamp-query? */
static int
is_query(const struct http_req *req)
{
    const char *ct = req->content_type;
    size_t n = strlen(API_TSA_QUERY);

    return ct != NULL && strncasecmp(ct, API_TSA_QUERY, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Contract: api.h. */
err_code
api_tsa(struct http_req *req, struct http_resp *resp, struct err *e)
{
    uint8_t *out = NULL;
    size_t len = 0;
    int granted = 0;
    err_code rc;

    if (!is_query(req) || req->body == NULL)
        return err_set(e, ERR_UNSUPPORTED, "send a TimeStampReq as "
                       "Content-Type: " API_TSA_QUERY);
    if (req->db == NULL)
        return err_set(e, ERR_DB_UNAVAILABLE, "no database connection");
    if ((rc = tsa_serve(req->db, req->app->custody, req->app->cfg,
                        (const uint8_t *)req->body, req->body_len, &out,
                        &len, &granted, e)) != ERR_OK)
        return rc;
    resp->raw = (char *)out;
    resp->raw_len = len;
    resp->content_type = API_TSA_REPLY;
    return ERR_OK;
}
