/*
 * event.c - the outbox (event.h): the table from audit action to event
 * type, writing an event in the unit of its change, the commit signal,
 * and the scoped long-poll read.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "event.h"
#include "rbac.h"
#include "store.h"
#include "store_event.h"
#include "unit.h"
#include "util.h"

/* Which audit actions are lifecycle events, and as what.  The target is
 * the entry's, but for a signature (seal.sign, whose entry names the
 * seal) the event is the signing request's: its id is the entry's
 * details.request_id. */
static const struct {
    const char *action, *type;
} event_map[] = {
    {"application.submit", "application.submitted"},
    {"application.submit_change", "application.submitted"},
    {"application.request_renewal", "application.submitted"},
    {"application.request_revocation", "application.submitted"},
    {"application.resubmit", "application.submitted"},
    {"application.return", "application.returned"},
    {"application.reject", "application.rejected"},
    {"application.approve", "application.approved"},
    {"seal.make", "seal.made"},
    {"seal.confirm", "seal.activated"},
    {"seal.suspend", "seal.suspended"},
    {"seal.suspend_org_disabled", "seal.suspended"},
    {"seal.auto_suspend", "seal.auto_suspended"},
    {"seal.resume", "seal.resumed"},
    {"seal.report_loss", "seal.lost"},
    {"seal.reinstate", "seal.reinstated"},
    {"seal.revoke", "seal.revoked"},
    {"seal.expire", "seal.expired"},
    {"sign_request.submit", "sign_request.submitted"},
    {"sign_request.approve", "sign_request.approved"},
    {"sign_request.reject", "sign_request.rejected"},
    {"sign_request.cancel", "sign_request.cancelled"},
    {"seal.sign", "sign_request.signed"},
};
#define EVENT_NMAP (sizeof(event_map) / sizeof(event_map[0]))

/* The commit signal: a generation counter under a condition variable. */
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sig_cond = PTHREAD_COND_INITIALIZER;
static uint64_t sig_gen;
static int sig_down;
static atomic_int waiting;

/* Write ev (type, target and org filled in; id, time and seq made here)
 * with data (consumed) on u's connection; organisation found by the store
 * from the target when org_id is 0. */
static err_code
write_event(struct unit *u, struct store_event *ev, json_t *data,
            struct err *e)
{
    uint8_t rnd[16];
    char *text;
    const char *esid = NULL;
    int64_t app_id = 0, sreq_id = 0;
    err_code rc;

    if ((rc = util_random(rnd, sizeof(rnd), e)) != ERR_OK) {
        json_decref(data);
        return rc;
    }
    util_hex_encode(rnd, sizeof(rnd), ev->event_id);
    ev->ts_ms = util_now_ms();
    if (data == NULL)
        data = json_object();
    text = data ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(data);
    if (text == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    /* an event's data is small (an audit entry's details); one that is
     * not keeps its place in the order with its data cut */
    snprintf(ev->data, sizeof(ev->data), "%s",
             strlen(text) < sizeof(ev->data) ? text : "{\"truncated\":true}");
    free(text);
    if (ev->org_id == 0) {
        if (strcmp(ev->target_type, "seal") == 0)
            esid = ev->target_id;
        else if (strcmp(ev->target_type, "application") == 0)
            app_id = strtoll(ev->target_id, NULL, 10);
        else if (strcmp(ev->target_type, "sign_request") == 0)
            sreq_id = strtoll(ev->target_id, NULL, 10);
    }
    if ((rc = store_event_append(u->a.db, ev, esid, app_id, sreq_id, e))
        != ERR_OK)
        return rc;
    u->events++;
    return ERR_OK;
}

/* Contract: event.h. */
err_code
event_on_audit(struct unit *u, const struct audit_event *ev, struct err *e)
{
    struct store_event out;
    json_t *data;
    size_t i;

    if (ev->outcome == NULL || strcmp(ev->outcome, AUDIT_OK) != 0 ||
        ev->action == NULL)
        return ERR_OK;
    for (i = 0; i < EVENT_NMAP; i++)
        if (strcmp(event_map[i].action, ev->action) == 0)
            break;
    if (i == EVENT_NMAP)
        return ERR_OK;
    memset(&out, 0, sizeof(out));
    snprintf(out.type, sizeof(out.type), "%s", event_map[i].type);
    snprintf(out.target_type, sizeof(out.target_type), "%s",
             ev->target_type ? ev->target_type : "");
    snprintf(out.target_id, sizeof(out.target_id), "%s",
             ev->target_id ? ev->target_id : "");
    data = json_pack("{s:s}", "action", ev->action);
    if (data == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (ev->details != NULL && json_is_object(ev->details))
        json_object_set_new(data, "details", json_deep_copy(ev->details));
    if (strcmp(ev->action, "seal.sign") == 0) {
        json_t *rid = ev->details ? json_object_get(ev->details,
                                                    "request_id") : NULL;
        json_object_set_new(data, "esid", json_string(out.target_id));
        snprintf(out.target_type, sizeof(out.target_type), "sign_request");
        snprintf(out.target_id, sizeof(out.target_id), "%lld",
                 (long long)json_integer_value(rid));
    }
    return write_event(u, &out, data, e);
}

/* Contract: event.h. */
err_code
event_emit(struct unit *u, const char *type, const char *target_type,
           const char *target_id, int64_t org_id, json_t *data,
           struct err *e)
{
    struct store_event out;

    memset(&out, 0, sizeof(out));
    if (snprintf(out.type, sizeof(out.type), "%s", type)
            >= (int)sizeof(out.type) ||
        snprintf(out.target_type, sizeof(out.target_type), "%s",
                 target_type) >= (int)sizeof(out.target_type) ||
        snprintf(out.target_id, sizeof(out.target_id), "%s", target_id)
            >= (int)sizeof(out.target_id)) {
        json_decref(data);
        return err_set(e, ERR_INTERNAL, "event %s: name too long", type);
    }
    out.org_id = org_id;
    return write_event(u, &out, data, e);
}

static const int expiry_days[] = {1, 7, 30};
#define EXPIRY_NDAYS (sizeof(expiry_days) / sizeof(expiry_days[0]))
#define EXPIRY_BATCH 100

struct expiry_ctx {
    const struct store_expiring *s;
    size_t k;                       /* index of the threshold */
};

/* One seal's notice: the event for the threshold k, and the notes of k
 * and every wider threshold (so a wider one is not sent late). */
static err_code
expiry_work(struct unit *u, void *vctx, struct err *e)
{
    struct expiry_ctx *x = vctx;
    size_t j;
    err_code rc;

    unit_quiet(u);      /* a notice, not a change: the event is its record */
    for (j = x->k; j < EXPIRY_NDAYS; j++)
        if ((rc = store_expiry_note(u->a.db, x->s->seal_id, expiry_days[j],
                                    e)) != ERR_OK)
            return rc;
    return event_emit(u, "seal.expiring", "seal", x->s->esid, x->s->org_id,
                      json_pack("{s:i, s:I}", "days", expiry_days[x->k],
                                "valid_end_ms",
                                (json_int_t)x->s->valid_end_ms), e);
}

/* Contract: event.h. */
err_code
event_expiry_notices(struct store_conn *db, int *n, struct err *e)
{
    struct actor_ctx a = {db, NULL, {.role = "system",
                                     .client_addr = "maintenance"}};
    struct store_expiring due[EXPIRY_BATCH];
    int64_t now = util_now_ms();
    size_t k, i, got;
    err_code rc;

    *n = 0;
    for (k = 0; k < EXPIRY_NDAYS; k++) {
        if ((rc = store_expiry_due(db, now, now + expiry_days[k] *
                                   86400000LL, expiry_days[k], due,
                                   EXPIRY_BATCH, &got, e)) != ERR_OK)
            return rc;
        for (i = 0; i < got; i++) {
            struct expiry_ctx x = {&due[i], k};
            if ((rc = unit_run(&a, expiry_work, &x, e)) != ERR_OK)
                return rc;
            (*n)++;
        }
    }
    return ERR_OK;
}

/* Contract: event.h. */
void
event_committed(void)
{
    pthread_mutex_lock(&sig_lock);
    sig_gen++;
    pthread_cond_broadcast(&sig_cond);
    pthread_mutex_unlock(&sig_lock);
}

/* Contract: event.h. */
uint64_t
event_generation(void)
{
    uint64_t g;

    pthread_mutex_lock(&sig_lock);
    g = sig_gen;
    pthread_mutex_unlock(&sig_lock);
    return g;
}

/* Contract: event.h. */
void
event_wait(uint64_t gen, int ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&sig_lock);
    while (!sig_down && sig_gen == gen &&
           pthread_cond_timedwait(&sig_cond, &sig_lock, &until) == 0)
        ;
    pthread_mutex_unlock(&sig_lock);
}

/* Contract: event.h. */
void
event_shutdown(void)
{
    pthread_mutex_lock(&sig_lock);
    sig_down = 1;
    pthread_cond_broadcast(&sig_cond);
    pthread_mutex_unlock(&sig_lock);
}

/* Contract: event.h. */
json_t *
event_json(const struct store_event *ev)
{
    json_t *data = json_loads(ev->data, 0, NULL);

    if (data == NULL)
        data = json_object();
    return json_pack("{s:s, s:I, s:s, s:I, s:{s:s, s:s}, s:o?, s:o}",
                     "id", ev->event_id, "seq", (json_int_t)ev->seq,
                     "type", ev->type, "ts_ms", (json_int_t)ev->ts_ms,
                     "target", "type", ev->target_type, "id", ev->target_id,
                     "organisation_id",
                     ev->org_id ? json_integer(ev->org_id) : json_null(),
                     "data", data);
}

/* The read's row callback: each event appended to the array. */
struct read_ctx {
    json_t  *items;
    int64_t  last;
};

static err_code
read_row(const struct store_event *ev, void *vctx, struct err *e)
{
    struct read_ctx *r = vctx;
    json_t *j = event_json(ev);

    if (j == NULL || json_array_append_new(r->items, j) != 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    r->last = ev->seq;
    return ERR_OK;
}

/* How often a waiting reader looks again for events another node
 * committed (this node's commits wake it at once). */
#define EVENT_POLL_MS 200

/* Contract: event.h. */
err_code
event_read(const struct actor_ctx *a, const struct config *cfg,
           int64_t after, int limit, int wait_s, json_t **items,
           int64_t *last, struct err *e)
{
    int64_t scope[STORE_MAX_ROLES], deadline;
    size_t nscope = authz_scope(a->p, PERM_EVENT_READ, scope);
    struct read_ctx r = {NULL, after};
    int counted = 0;
    err_code rc;

    *items = NULL;
    *last = after;
    if (limit < 1 || limit > 1000)
        return err_set(e, ERR_INVALID, "limit must be 1-1000");
    if (after < 0)
        return err_set(e, ERR_INVALID, "after must be 0 or more");
    if (wait_s < 0 || wait_s > cfg->events_poll_max_wait_seconds)
        return err_set(e, ERR_INVALID, "wait must be 0-%ld seconds",
                       cfg->events_poll_max_wait_seconds);
    if (nscope == 0)
        return err_set(e, ERR_FORBIDDEN, "no role that may read events");
    if ((r.items = json_array()) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    deadline = util_mono_ms() + (int64_t)wait_s * 1000;
    for (;;) {
        uint64_t gen = event_generation();

        if ((rc = store_event_list(a->db, scope, (int)nscope, after, limit,
                                   read_row, &r, e)) != ERR_OK)
            break;
        if (json_array_size(r.items) > 0 || util_mono_ms() >= deadline)
            break;
        if (!counted) {
            /* each waiter holds a server thread: a bounded number, and
             * always one thread left for everything else */
            long most = cfg->events_poll_max_waiters;
            if (most > cfg->threads - 1)
                most = cfg->threads - 1;
            if (atomic_fetch_add(&waiting, 1) >= most) {
                atomic_fetch_sub(&waiting, 1);
                rc = err_set(e, ERR_BUSY, "too many readers waiting for "
                             "events; ask again without wait");
                break;
            }
            counted = 1;
        }
        pthread_mutex_lock(&sig_lock);
        if (sig_down) {
            pthread_mutex_unlock(&sig_lock);
            break;
        }
        pthread_mutex_unlock(&sig_lock);
        {
            int64_t left = deadline - util_mono_ms();
            event_wait(gen, left < EVENT_POLL_MS ? (int)(left > 0 ? left : 0)
                                                 : EVENT_POLL_MS);
        }
    }
    if (counted)
        atomic_fetch_sub(&waiting, 1);
    if (rc != ERR_OK) {
        json_decref(r.items);
        return rc;
    }
    *items = r.items;
    *last = r.last;
    return ERR_OK;
}
