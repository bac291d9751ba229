/*
 * api_event.c - handlers of the outbox: the pull read of events
 * (GET /api/v1/events, long-poll) and the operator's deliveries (list,
 * replay of a dead letter).  The rules are event.c's and delivery.c's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "delivery.h"
#include "event.h"
#include "util.h"

#define EVENTS_LIMIT_DEFAULT 100

/* Query parameter key as a number in [lo, hi], def when absent. */
static err_code
query_long(struct http_req *req, const char *key, long lo, long hi,
           long def, long *out, struct err *e)
{
    const char *v = http_query(req, key);

    *out = def;
    if (v == NULL)
        return ERR_OK;
    if (util_parse_long(v, lo, hi, out, e) != ERR_OK)
        return err_wrap(e, ERR_INVALID, "%s", key);
    return ERR_OK;
}

/* GET /api/v1/events: ?after, ?limit, ?wait (api.h). */
err_code
api_event_list(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    const struct config *cfg = req->app->cfg;
    long after, limit, wait;
    int64_t last;
    json_t *items;
    err_code rc;

    if ((rc = query_long(req, "after", 0, INT64_MAX, 0, &after, e))
            != ERR_OK ||
        (rc = query_long(req, "limit", 1, 1000, EVENTS_LIMIT_DEFAULT, &limit,
                         e)) != ERR_OK ||
        (rc = query_long(req, "wait", 0, cfg->events_poll_max_wait_seconds,
                         0, &wait, e)) != ERR_OK ||
        (rc = event_read(&a, cfg, after, (int)limit, (int)wait, &items,
                         &last, e)) != ERR_OK)
        return rc;
    /* next_after: where the next read starts (after when none came) */
    resp->data = json_pack("{s:o, s:I}", "items", items, "next_after",
                           (json_int_t)last);
    return ERR_OK;
}

/* GET /api/v1/deliveries: ?after, ?limit, ?state, ?destination,
 * ?target_id. */
err_code
api_delivery_list(struct http_req *req, struct http_resp *resp,
                  struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    const char *state = http_query(req, "state");
    const char *dest = http_query(req, "destination");
    const char *target = http_query(req, "target_id");
    int64_t after, next;
    int limit;
    json_t *items;
    err_code rc;

    if ((rc = http_page(req, &after, &limit, e)) != ERR_OK)
        return rc;
    if ((dest != NULL && strlen(dest) >= DELIVERY_DEST_MAX) ||
        (target != NULL && strlen(target) >= EVENT_TARGET_MAX))
        return err_set(e, ERR_INVALID, "destination or target_id too long");
    if ((rc = delivery_list(&a, after, state, dest, target, limit, &items,
                            &next, e)) != ERR_OK)
        return rc;
    resp->data = json_pack("{s:o, s:o}", "items", items, "next_after",
                           next ? json_integer(next) : json_null());
    return ERR_OK;
}

/* POST /api/v1/deliveries/{id}/replay. */
err_code
api_delivery_replay(struct http_req *req, struct http_resp *resp,
                    struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = delivery_replay(&a, id, &resp->data, e)) != ERR_OK)
        return rc;
    return ERR_OK;
}
