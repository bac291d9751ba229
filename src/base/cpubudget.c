/*
 * cpubudget.c - slots and a CPU-millisecond bucket under one mutex
 * (cpubudget.h).  The bucket is refilled lazily on each call from the time
 * since the last; the balance may go below zero (a charge is what was
 * spent, taken after the fact), and nobody is let in until it is above
 * zero again.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "cpubudget.h"

struct cpubudget {
    pthread_mutex_t lock;
    int             slots, in_use;
    double          rate_ms, burst_ms;   /* per second; most banked */
    double          balance_ms;
    int64_t         last_ms;             /* of the last refill, 0: none */
    uint64_t        entered, refused_slots, refused_cpu;
    double          charged_ms;
};

struct cpubudget *
cpubudget_new(int slots, double rate_ms, double burst_ms)
{
    struct cpubudget *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->slots = slots < 1 ? 1 : slots;
    b->rate_ms = rate_ms > 0 ? rate_ms : 0;
    b->burst_ms = burst_ms < b->rate_ms ? b->rate_ms : burst_ms;
    b->balance_ms = b->burst_ms;
    return b;
}

void
cpubudget_free(struct cpubudget *b)
{
    if (b == NULL)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b);
}

int64_t
cpubudget_thread_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Refill to now_ms (lock held). */
static void
refill(struct cpubudget *b, int64_t now_ms)
{
    if (b->last_ms != 0 && now_ms > b->last_ms) {
        b->balance_ms += (double)(now_ms - b->last_ms) / 1000.0 * b->rate_ms;
        if (b->balance_ms > b->burst_ms)
            b->balance_ms = b->burst_ms;
    }
    if (now_ms > b->last_ms)
        b->last_ms = now_ms;
}

/* 0 if a holder may come in now, else seconds to wait (lock held); a
 * refusal is counted. */
static int
admit(struct cpubudget *b, int64_t now_ms)
{
    refill(b, now_ms);
    if (b->in_use >= b->slots) {
        b->refused_slots++;
        return 1;
    }
    if (b->rate_ms > 0 && b->balance_ms <= 0) {
        b->refused_cpu++;
        return (int)ceil((1.0 - b->balance_ms) / b->rate_ms);
    }
    return 0;
}

int
cpubudget_check(struct cpubudget *b, int64_t now_ms)
{
    int wait;

    pthread_mutex_lock(&b->lock);
    wait = admit(b, now_ms);
    pthread_mutex_unlock(&b->lock);
    return wait;
}

int
cpubudget_enter(struct cpubudget *b, int64_t now_ms,
                struct cpubudget_ticket *t)
{
    int wait;

    t->held = 0;
    pthread_mutex_lock(&b->lock);
    if ((wait = admit(b, now_ms)) == 0) {
        b->in_use++;
        b->entered++;
    }
    pthread_mutex_unlock(&b->lock);
    if (wait == 0) {
        t->cpu_ns = cpubudget_thread_ns();
        t->held = 1;
    }
    return wait;
}

double
cpubudget_leave(struct cpubudget *b, struct cpubudget_ticket *t,
                int64_t now_ms)
{
    double ms;

    if (!t->held)
        return 0;
    ms = (double)(cpubudget_thread_ns() - t->cpu_ns) / 1e6;
    if (ms < 0)
        ms = 0;
    t->held = 0;
    pthread_mutex_lock(&b->lock);
    refill(b, now_ms);
    b->in_use--;
    if (b->rate_ms > 0)
        b->balance_ms -= ms;
    b->charged_ms += ms;
    pthread_mutex_unlock(&b->lock);
    return ms;
}

void
cpubudget_charge(struct cpubudget *b, double ms, int64_t now_ms)
{
    if (ms <= 0)
        return;
    pthread_mutex_lock(&b->lock);
    refill(b, now_ms);
    if (b->rate_ms > 0)
        b->balance_ms -= ms;
    b->charged_ms += ms;
    pthread_mutex_unlock(&b->lock);
}

void
cpubudget_stats_get(struct cpubudget *b, int64_t now_ms,
                    struct cpubudget_stats *out)
{
    pthread_mutex_lock(&b->lock);
    refill(b, now_ms);
    out->slots = b->slots;
    out->in_use = b->in_use;
    out->balance_ms = b->balance_ms;
    out->entered = b->entered;
    out->refused_slots = b->refused_slots;
    out->refused_cpu = b->refused_cpu;
    out->charged_ms = b->charged_ms;
    pthread_mutex_unlock(&b->lock);
}
