/*
 * tarpit.c - refused anonymous requests held before their answer
 * (tarpit.h): a ring of (item, due time) and one thread that releases
 * each item when it is due.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "tarpit.h"
#include "util.h"

struct tarpit_slot {
    void    *item;
    int64_t  due_ms;              /* util_mono_ms() */
};

struct tarpit {
    pthread_mutex_t     lock;
    pthread_cond_t      wake;     /* on CLOCK_MONOTONIC */
    pthread_t           thread;
    int                 started;  /* the thread exists */
    int                 stopping;
    tarpit_release_fn   release;
    long                delay_ms;
    size_t              cap, first, n;
    struct tarpit_slot *slots;
};

/* Wait on t->wake until due_ms (monotonic), or without limit if due_ms is
 * negative.  Called with t->lock held. */
static void
wait_until(struct tarpit *t, int64_t due_ms)
{
    struct timespec ts;

    if (due_ms < 0) {
        pthread_cond_wait(&t->wake, &t->lock);
        return;
    }
    ts.tv_sec = (time_t)(due_ms / 1000);
    ts.tv_nsec = (long)(due_ms % 1000) * 1000000L;
    pthread_cond_timedwait(&t->wake, &t->lock, &ts);
}

/* The thread: release the oldest item when it is due (every item at once
 * when stopping), until stopping with nothing held. */
static void *
tarpit_main(void *arg)
{
    struct tarpit *t = arg;
    void *item;

    pthread_mutex_lock(&t->lock);
    for (;;) {
        if (t->n > 0 &&
            (t->stopping || t->slots[t->first].due_ms <= util_mono_ms())) {
            item = t->slots[t->first].item;
            t->first = (t->first + 1) % t->cap;
            t->n--;
            pthread_mutex_unlock(&t->lock);
            t->release(item);
            pthread_mutex_lock(&t->lock);
            continue;
        }
        if (t->stopping)
            break;
        wait_until(t, t->n > 0 ? t->slots[t->first].due_ms : -1);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

err_code
tarpit_start(size_t cap, long delay_ms, tarpit_release_fn release,
             struct tarpit **out, struct err *e)
{
    struct tarpit *t;
    pthread_condattr_t ca;
    err_code rc = ERR_OK;

    *out = NULL;
    if (cap == 0 || delay_ms < 1 || delay_ms > TARPIT_DELAY_MAX_MS ||
        release == NULL)
        return err_set(e, ERR_INTERNAL, "tarpit: bad arguments");
    if ((t = calloc(1, sizeof(*t))) == NULL ||
        (t->slots = calloc(cap, sizeof(*t->slots))) == NULL) {
        free(t);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    t->cap = cap;
    t->delay_ms = delay_ms;
    t->release = release;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&t->thread, NULL, tarpit_main, t) != 0)
        rc = err_set(e, ERR_INTERNAL, "cannot start the tarpit thread");
    else
        t->started = 1;
    if (rc != ERR_OK) {
        tarpit_free(t);
        return rc;
    }
    *out = t;
    return ERR_OK;
}

err_code
tarpit_hold(struct tarpit *t, void *item, struct err *e)
{
    struct tarpit_slot *s;

    pthread_mutex_lock(&t->lock);
    if (t->stopping || t->n == t->cap) {
        pthread_mutex_unlock(&t->lock);
        return err_set(e, ERR_UNAVAILABLE, "tarpit %s",
                       t->stopping ? "stopping" : "full");
    }
    s = &t->slots[(t->first + t->n) % t->cap];
    s->item = item;
    s->due_ms = util_mono_ms() + t->delay_ms;
    if (t->n++ == 0)        /* the thread waits without limit when empty */
        pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    return ERR_OK;
}

size_t
tarpit_held(struct tarpit *t)
{
    size_t n;

    pthread_mutex_lock(&t->lock);
    n = t->n;
    pthread_mutex_unlock(&t->lock);
    return n;
}

void
tarpit_stop(struct tarpit *t)
{
    int join;

    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    join = t->started;
    t->started = 0;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    if (join)
        pthread_join(t->thread, NULL);
}

void
tarpit_free(struct tarpit *t)
{
    if (t == NULL)
        return;
    tarpit_stop(t);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t->slots);
    free(t);
}
