/*
 * cpubudget.h - a shared CPU budget for work anybody may ask for (the
 * public verification, issue 17): at most `slots` holders at once, and a
 * bucket of CPU milliseconds refilled at `rate_ms` per second up to
 * `burst_ms`.  A holder is let in while a slot is free and the balance is
 * positive; what it really spent (its thread's CPU clock,
 * CLOCK_THREAD_CPUTIME_ID, from enter to leave) is charged when it leaves,
 * so one expensive request can overdraw the bucket and the next wait until
 * the debt is paid back.  Per node and in memory, like the rate limits.
 */
#ifndef SEALD_CPUBUDGET_H
#define SEALD_CPUBUDGET_H

#include <stdint.h>

struct cpubudget;

/* What enter hands the holder and leave takes back. */
struct cpubudget_ticket {
    int64_t cpu_ns;          /* the thread's CPU clock at enter */
    int     held;            /* 1 between a successful enter and leave */
};

/* A budget of slots (at least 1) holders and rate_ms CPU milliseconds per
 * second (0: no CPU bucket, only the slots), banking at most burst_ms
 * (raised to rate_ms if smaller).  The bucket starts full.  NULL on OOM;
 * free with cpubudget_free. */
struct cpubudget *cpubudget_new(int slots, double rate_ms, double burst_ms);
void cpubudget_free(struct cpubudget *b);

/* Would a holder be let in at now_ms?  0 if so (nothing is taken), else
 * the seconds to wait (at least 1).  For a refusal before any work. */
int cpubudget_check(struct cpubudget *b, int64_t now_ms);

/* Take a slot: 0 and *t filled, else the seconds to wait (at least 1) and
 * *t left not held. */
int cpubudget_enter(struct cpubudget *b, int64_t now_ms,
                    struct cpubudget_ticket *t);

/* Give the slot of *t back and charge the CPU the calling thread spent
 * since enter (it must be the thread that entered).  Returns the
 * milliseconds charged; a ticket not held is ignored (0). */
double cpubudget_leave(struct cpubudget *b, struct cpubudget_ticket *t,
                       int64_t now_ms);

/* Charge ms of CPU spent outside enter/leave (reading the request, say)
 * to the bucket. */
void cpubudget_charge(struct cpubudget *b, double ms, int64_t now_ms);

/* The calling thread's CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID). */
int64_t cpubudget_thread_ns(void);

/* Counters, for tests and monitoring. */
struct cpubudget_stats {
    int      slots, in_use;
    double   balance_ms;      /* may be negative: a debt */
    uint64_t entered, refused_slots, refused_cpu;
    double   charged_ms;      /* all CPU charged so far */
};
void cpubudget_stats_get(struct cpubudget *b, int64_t now_ms,
                         struct cpubudget_stats *out);

#endif
