/*
 * api_public.c - POST /public/verify (issue 17 item 3): the verification
 * report of a signature with its document or SM3, of an OFD package or of
 * a seal file, for anyone, with no credential.  The input is read and the
 * verification run by api_verify_in.c, exactly as for the authenticated
 * routes, so the report is the same.  What is this file's own is what an
 * anonymous caller may cost:
 *   - on the headers (api_public_admit, the routing table's admit hook),
 *     before a byte of the body is kept: the body limit
 *     (public.verify_max_body_bytes, 413 at once), one token of the
 *     caller's address bucket (429) and a look at the CPU budget (503
 *     while it is spent).  http.c then reads the body without keeping or
 *     parsing it and answers the refusal at its end, so that a client
 *     that sends its body first (a browser's fetch) gets the 429/503 and
 *     not a reset;
 *   - around the work: a slot of the CPU budget (public.verify_concurrency
 *     at once, 503) and the thread CPU time the request used, parsing its
 *     body included, charged to the budget's bucket of CPU milliseconds
 *     (cpubudget.h).
 * Refusals are audited by http.c as every anonymous refusal is: counted,
 * and written as one summary row per address, action and reason a window;
 * the tarpit holds the 429 and 503 answers (server.refusal_delay_ms).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "api_verify_in.h"
#include "cpubudget.h"
#include "ratelimit.h"
#include "util.h"

#define PUBLIC_CPU_MS_PER_CORE 100    /* verify_cpu_ms_per_second = 0 */
#define PUBLIC_CPU_BURST_S     4      /* verify_cpu_burst_ms = 0      */

/* The cores this node has (at least 1). */
static long
cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n;
}

struct cpubudget *
api_public_budget_new(const struct config *cfg)
{
    long slots = cfg->public_verify_concurrency;
    double rate = (double)cfg->public_verify_cpu_ms_per_second;
    double burst = (double)cfg->public_verify_cpu_burst_ms;

    if (slots == 0)
        slots = cores() / 2 < 1 ? 1 : cores() / 2;
    if (rate == 0)
        rate = (double)(PUBLIC_CPU_MS_PER_CORE * cores());
    if (burst == 0)
        burst = rate * PUBLIC_CPU_BURST_S;
    return cpubudget_new((int)slots, rate, burst);
}

/* The smaller of public.verify_max_body_bytes and server.max_body_bytes. */
static long
public_body_max(const struct config *cfg)
{
    return cfg->public_verify_max_body_bytes < cfg->max_body_bytes
               ? cfg->public_verify_max_body_bytes : cfg->max_body_bytes;
}

/* 503 server_busy: the public verifications' CPU budget is spent. */
static err_code
budget_spent(int wait, int *retry_after, struct err *e)
{
    *retry_after = wait;
    return err_set(e, ERR_BUSY, "public verification is busy (its share of "
                   "the server's CPU is in use); retry after the time "
                   "Retry-After gives");
}

/* One token from the caller's address bucket; 429 otherwise.  No number
 * in the message: it is the key of the audit's refusal summary. */
static err_code
public_rate(struct http_req *req, int *retry_after, struct err *e)
{
    char key[HTTP_ADDR_MAX + 8];
    int wait;

    if (req->app->public_verify_limiter == NULL)
        return ERR_OK;
    snprintf(key, sizeof(key), "pv:%s", req->client_addr);
    if ((wait = ratelimit_take(req->app->public_verify_limiter, key,
                               util_mono_ms())) == 0)
        return ERR_OK;
    *retry_after = wait;
    return err_set(e, ERR_RATE_LIMITED, "too many public verifications from "
                   "this address; retry after the time Retry-After gives");
}

err_code
api_public_admit(struct http_req *req, const struct route *r,
                 int *retry_after, struct err *e)
{
    struct cpubudget *b = req->app->public_verify_budget;
    int wait;
    err_code rc;

    if (r->handler == api_tsa)
        return api_tsa_admit(req, retry_after, e);
    if (r->handler != api_public_verify)
        return ERR_OK;
    req->body_max = public_body_max(req->app->cfg);
    if ((rc = public_rate(req, retry_after, e)) != ERR_OK)
        return rc;
    if (b != NULL && (wait = cpubudget_check(b, util_mono_ms())) != 0)
        return budget_spent(wait, retry_after, e);
    return ERR_OK;
}

err_code
api_public_verify(struct http_req *req, struct http_resp *resp,
                  struct err *e)
{
    const struct config *cfg = req->app->cfg;
    struct api_verify_form form = {
        API_VERIFY_SIGNATURE | API_VERIFY_SEAL | API_VERIFY_OFD, "hash", 1,
        0, "give {signature, document}, {signature, hash} (64 hex digits of "
        "SM3), {ofd} or {seal} (each [, pictures]), as JSON with base64 "
        "fields or as multipart/form-data parts of those names"};
    struct cpubudget_ticket t = {0, 0};
    struct api_verify_req v;
    json_t *report = NULL;
    size_t inflate = (size_t)cfg->public_verify_max_inflated_bytes;
    int wait;
    err_code rc;

    memset(&v, 0, sizeof(v));
    if (!cfg->public_verify)        /* the router passes over it; still */
        return err_set(e, ERR_NOT_FOUND, "no such route");
    if (req->db == NULL)
        return err_set(e, ERR_DB_UNAVAILABLE, "no database connection");
    if (req->app->public_verify_budget != NULL &&
        (wait = cpubudget_enter(req->app->public_verify_budget,
                                util_mono_ms(), &t)) != 0)
        return budget_spent(wait, &resp->retry_after, e);
    /* what reading the body cost this thread counts too */
    if (t.held)
        cpubudget_charge(req->app->public_verify_budget,
                         (double)req->prep_cpu_ns / 1e6, util_mono_ms());
    form.doc_max = (size_t)public_body_max(cfg);
    if (inflate > (size_t)cfg->ofd_max_inflated_bytes)
        inflate = (size_t)cfg->ofd_max_inflated_bytes;
    if ((rc = api_verify_read(req, &form, &v, e)) == ERR_OK &&
        (rc = api_verify_run(req, &v, inflate, &report, e)) == ERR_OK) {
        resp->data = report;
        report = NULL;
    }
    if (t.held)
        cpubudget_leave(req->app->public_verify_budget, &t, util_mono_ms());
    json_decref(report);
    api_verify_req_free(&v);
    return rc;
}
