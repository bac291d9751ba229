/*
 * maintenance.c - the periodic jobs (maintenance.h): the seal job every
 * seals.maintenance_seconds, on the one node of the cluster that holds its
 * lease (lease.h), and the refusal summaries and failed authentications
 * counted in memory written every audit.refusal_window_seconds, on every
 * node (they are each node's own counts).
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "audit.h"
#include "event.h"
#include "lease.h"
#include "lockout.h"
#include "log.h"
#include "blobcrypt.h"
#include "maintenance.h"
#include "seal.h"
#include "stats.h"
#include "util.h"
#include "store.h"

/* The seal job's lease lasts its period and this much more, so that the
 * holder, due again when the period ends, renews it before another node
 * may take it. */
#define MAINT_LEASE_GRACE_MS 1000

struct maintenance {
    struct app     *app;
    pthread_t       thread;
    pthread_mutex_t lock;
    pthread_cond_t  wake;
    int             stop;
};

/* One turn of the seal job, if this node wins its lease for the period:
 * with several nodes on the database only the holder runs it.  (A turn
 * that ran twice would still be right, every change re-checking the state
 * it moves from; the lease makes it once per period.) */
static void
run_once(struct maintenance *m)
{
    struct store_conn *db;
    struct err e;
    int n = 0, won = 0;

    err_clear(&e);
    if (store_conn_get(m->app->store, &db, &e) != ERR_OK ||
        lease_claim(db, LEASE_JOB_SEALS,
                    m->app->cfg->seal_maintenance_seconds * 1000 +
                    MAINT_LEASE_GRACE_MS, &won, &e)
        != ERR_OK) {
        log_event(LOG_ERROR, "maintenance", "msg=%s", e.msg);
        return;
    }
    if (!won)
        return;
    if (seal_maintain(db, m->app->cfg, &n, &e) != ERR_OK)
        log_event(LOG_ERROR, "maintenance", "msg=%s", e.msg);
    else
        log_event(LOG_INFO, "maintenance",
                  "job=seals node=%s seals_changed=%d", lease_node_id(), n);
    /* the expiring-in-N-days events, once per seal per threshold */
    err_clear(&e);
    if (event_expiry_notices(db, &n, &e) != ERR_OK)
        log_event(LOG_ERROR, "maintenance", "job=expiry_notices msg=%s",
                  e.msg);
    else if (n > 0)
        log_event(LOG_INFO, "maintenance", "job=expiry_notices notices=%d",
                  n);
    /* last month's statistics reports, under the same lease: one node
     * makes them (and should two, the unique key keeps the first) */
    err_clear(&e);
    if (stats_monthly(db, util_now_ms(), &n, &e) != ERR_OK)
        log_event(LOG_ERROR, "maintenance", "job=stats_reports msg=%s",
                  e.msg);
    else if (n > 0)
        log_event(LOG_INFO, "maintenance", "job=stats_reports node=%s "
                  "reports_made=%d", lease_node_id(), n);
}

/* Write what was counted in memory in the window that ends now: the
 * refusal summaries (audit.h) and the failed authentications (lockout.h).
 * Every node writes its own: these are this node's counts, not a job of
 * the cluster, so they take no lease. */
static void
flush_counts(struct maintenance *m)
{
    struct store_conn *db;
    struct err e;
    int rows = 0;

    err_clear(&e);
    if (store_conn_get(m->app->store, &db, &e) != ERR_OK) {
        log_event(LOG_ERROR, "maintenance", "msg=%s", e.msg);
        return;
    }
    if (audit_refusals_flush(db, &rows, &e) != ERR_OK)
        log_event(LOG_ERROR, "audit_failed", "action=refusal_summaries "
                  "msg=%s", e.msg);
    else if (rows > 0)
        log_event(LOG_INFO, "refusals_audited", "rows=%d", rows);
    if (lockout_flush(db, util_now_ms(), &rows, &e) != ERR_OK)
        log_event(LOG_ERROR, "lockout_failed", "msg=%s", e.msg);
}

/* At shutdown: give the seal job's lease back, so that another node takes
 * it on its next turn instead of when the period runs out. */
static void
release_lease(struct maintenance *m)
{
    struct store_conn *db;
    struct err e;

    err_clear(&e);
    if (store_conn_get(m->app->store, &db, &e) == ERR_OK)
        lease_release(db, LEASE_JOB_SEALS);
}

/* Each turn: the seal job when it is due, the counts when their window
 * has passed; then sleep until the sooner of the two is next due. */
static void *
loop(void *arg)
{
    struct maintenance *m = arg;
    const struct config *cfg = m->app->cfg;
    int64_t window_ms = cfg->audit_refusal_window_seconds * 1000;
    int64_t now, next_seals = 0, next_flush, wait_ms;
    struct timespec until;

    /* the counts are written when a window has passed (and at shutdown,
     * by seald run), not on every turn: a seal job's turn (every
     * seals.maintenance_seconds) would otherwise cut a window short */
    next_flush = util_mono_ms() + window_ms;
    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        pthread_mutex_unlock(&m->lock);
        if ((now = util_mono_ms()) >= next_seals) {
            run_once(m);
            next_seals = now + cfg->seal_maintenance_seconds * 1000;
        }
        if ((now = util_mono_ms()) >= next_flush) {
            flush_counts(m);
            next_flush = now + window_ms;
        }
        /* an idle node keeps no unwrapped data key past its time */
        blobcrypt_sweep();
        pthread_mutex_lock(&m->lock);
        wait_ms = next_flush - util_mono_ms();
        if (next_seals - util_mono_ms() < wait_ms)
            wait_ms = next_seals - util_mono_ms();
        if (wait_ms < 0)
            wait_ms = 0;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!m->stop &&
               pthread_cond_timedwait(&m->wake, &m->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&m->lock);
    release_lease(m);
    return NULL;
}

err_code
maintenance_start(struct app *app, struct maintenance **out, struct err *e)
{
    struct maintenance *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    m->app = app;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    if (pthread_create(&m->thread, NULL, loop, m) != 0) {
        pthread_cond_destroy(&m->wake);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return err_set(e, ERR_INTERNAL, "cannot start the maintenance job");
    }
    *out = m;
    return ERR_OK;
}

void
maintenance_stop(struct maintenance *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    m->stop = 1;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
