/*
 * api_metrics.c - GET /metrics: the Prometheus text exposition of the
 * metrics registry (metrics.h), with the database gauges cached here for
 * metrics.cache_seconds, and the route's access rule: served without a
 * credential to the addresses of metrics.allow, to anyone else only with
 * a credential holding metrics.read (api_metrics_open, the routing
 * table's anonymous hook).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "metrics.h"
#include "system.h"
#include "util.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The cached gauges: one scrape in cache_seconds reads the database, the
 * others (and concurrent ones) get the copy.  The lock is the scrape's,
 * never the request path's. */
static pthread_mutex_t gauge_mu = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_gauges gauge_cache;
static int64_t gauge_at_ms;          /* 0: never read */

/* Refresh the cache when it is older than max_age_ms and copy it to *g.
 * A failed read keeps the old values (their age shows it) and is logged;
 * the scrape still answers with the registry's counters. */
static void
gauges(struct http_req *req, int64_t max_age_ms, struct metrics_gauges *g)
{
    int64_t now = util_mono_ms();
    struct metrics_gauges fresh;
    struct err e;

    pthread_mutex_lock(&gauge_mu);
    if (req->db != NULL &&
        (gauge_at_ms == 0 || now - gauge_at_ms >= max_age_ms)) {
        err_clear(&e);
        if (system_metrics_gauges(req->db, &fresh, &e) == ERR_OK) {
            gauge_cache = fresh;
            gauge_at_ms = now;
        } else {
            log_event(LOG_WARN, "metrics", "rid=%s code=%s msg=%s",
                      req->request_id, err_name(e.code), e.msg);
        }
    }
    *g = gauge_cache;
    g->refreshed_age_s = gauge_at_ms ? (now - gauge_at_ms) / 1000 : 0;
    pthread_mutex_unlock(&gauge_mu);
}

/* Contract: see api.h. */
err_code
api_metrics(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct metrics_gauges g;
    err_code rc;

    gauges(req, req->app->cfg->metrics_cache_seconds * 1000, &g);
    if ((rc = metrics_render(&g, &resp->raw, &resp->raw_len, e)) != ERR_OK)
        return rc;
    resp->content_type = METRICS_CONTENT_TYPE;
    return ERR_OK;
}

/* Contract: see api.h. */
int
api_metrics_open(const struct http_req *req, const struct route *r)
{
    if (r->handler != api_metrics || req->app == NULL ||
        req->app->cfg == NULL)
        return 0;
    return util_cidr_match(req->app->cfg->metrics_allow, req->client_addr);
}
