/*
 * maintenance.c - the periodic seal job (maintenance.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "maintenance.h"
#include "seal.h"

struct maintenance {
    struct app     *app;
    pthread_t       thread;
    pthread_mutex_t lock;
    pthread_cond_t  wake;
    int             stop;
};

static void
run_once(struct maintenance *m)
{
    struct store_conn *db;
    struct err e;
    int n = 0;

    err_clear(&e);
    if (store_conn_get(m->app->store, &db, &e) != ERR_OK ||
        seal_maintain(db, m->app->cfg, &n, &e) != ERR_OK)
        log_event(LOG_ERROR, "maintenance", "msg=%s", e.msg);
    else if (n > 0)
        log_event(LOG_INFO, "maintenance", "seals_changed=%d", n);
}

static void *
loop(void *arg)
{
    struct maintenance *m = arg;
    struct timespec until;

    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        pthread_mutex_unlock(&m->lock);
        run_once(m);
        pthread_mutex_lock(&m->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += m->app->cfg->seal_maintenance_seconds;
        while (!m->stop &&
               pthread_cond_timedwait(&m->wake, &m->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&m->lock);
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
