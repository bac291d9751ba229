/*
 * lockout.c - failed authentications and lockouts (lockout.h): this node's
 * unwritten failures in a bounded table, written to auth_failures in
 * batches, and at once when they lock a subject.  The SQL is in store.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lockout.h"
#include "store.h"
#include "store_account.h"

#define LOCKOUT_KIND_MAX    8
#define LOCKOUT_SUBJECT_MAX 64      /* an address or an account id */

struct pending {
    uint32_t            hash;
    char                kind[LOCKOUT_KIND_MAX];
    char                subject[LOCKOUT_SUBJECT_MAX];
    struct lockout_rule rule;
    long                count;      /* 0: written or cleared since */
};

struct pending_table {
    size_t         n;
    struct pending p[LOCKOUT_PENDING_MAX];
};

/* Two tables, as for the audit's refusal summaries: failures count into
 * t[cur] under `lock`; a flush swaps cur and writes the other with only
 * `flush_lock` held, so that counting never waits on the database.
 * Outside a flush the table that is not cur is empty. */
static struct {
    pthread_mutex_t      lock;
    pthread_mutex_t      flush_lock;
    int                  cur;
    struct pending_table t[2];
} pend = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .flush_lock = PTHREAD_MUTEX_INITIALIZER};

static uint32_t
key_hash(const char *kind, const char *subject)
{
    uint32_t h = 2166136261u;       /* FNV-1a over kind, NUL, subject */
    const char *p;

    for (p = kind; *p != '\0'; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    h *= 16777619u;
    for (p = subject; *p != '\0'; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h;
}

/* The entry of (kind, subject) in t, or NULL.  Caller holds pend.lock. */
static struct pending *
find(struct pending_table *t, uint32_t h, const char *kind,
     const char *subject)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        if (t->p[i].hash == h && strcmp(t->p[i].kind, kind) == 0 &&
            strcmp(t->p[i].subject, subject) == 0)
            return &t->p[i];
    return NULL;
}

/* Add n failures of (kind, subject) to t; *total gets its unwritten count.
 * Returns 0, or -1 when t is full.  Caller holds pend.lock. */
static int
add(struct pending_table *t, const char *kind, const char *subject,
    const struct lockout_rule *r, long n, long *total)
{
    uint32_t h = key_hash(kind, subject);
    struct pending *p = find(t, h, kind, subject);

    if (p == NULL) {
        if (t->n == LOCKOUT_PENDING_MAX)
            return -1;
        p = &t->p[t->n++];
        memset(p, 0, sizeof(*p));
        p->hash = h;
        snprintf(p->kind, sizeof(p->kind), "%s", kind);
        snprintf(p->subject, sizeof(p->subject), "%s", subject);
    }
    p->rule = *r;       /* the newest rule: the same config in practice */
    p->count += n;
    *total = p->count;
    return 0;
}

/* Take (and zero) the unwritten count of (kind, subject) in t. */
static long
take(struct pending_table *t, const char *kind, const char *subject)
{
    struct pending *p = find(t, key_hash(kind, subject), kind, subject);
    long n = p ? p->count : 0;

    if (p != NULL)
        p->count = 0;
    return n;
}

/* Put n failures back for a later flush (after a failed write); if the
 * table is full they are lost, which errs on the side of serving. */
static void
put_back(const char *kind, const char *subject, const struct lockout_rule *r,
         long n)
{
    long total;

    pthread_mutex_lock(&pend.lock);
    (void)add(&pend.t[pend.cur], kind, subject, r, n, &total);
    pthread_mutex_unlock(&pend.lock);
}

/* n failures of subject at now_ms under rule r: store_run's work. */
struct add_call {
    const char                *kind, *subject;
    const struct lockout_rule *r;
    long                       n;
    int64_t                    now_ms;
};

static err_code
add_work(struct store_conn *c, void *ctx, struct err *e)
{
    const struct add_call *w = ctx;

    return store_authfail_add(c, w->kind, w->subject, w->n, w->now_ms,
                              w->r->window_ms, w->r->threshold,
                              w->r->lock_ms, e);
}

/* Write n failures of subject now, in a transaction of their own: one
 * commit for the count and, if it reaches the threshold, the lock. */
static err_code
write_now(struct store_conn *c, const char *kind, const char *subject,
          const struct lockout_rule *r, long n, int64_t now_ms,
          struct err *e)
{
    struct add_call w = {kind, subject, r, n, now_ms};
    err_code rc;

    if ((rc = store_run(c, add_work, &w, e)) == ERR_OK)
        return ERR_OK;
    put_back(kind, subject, r, n);
    return rc;
}

err_code
lockout_fail(struct store_conn *c, const char *kind, const char *subject,
             const struct lockout_rule *r, int64_t now_ms, struct err *e)
{
    long n = 0, counted = 0;
    int64_t until = 0;
    int full;
    err_code rc;

    if (c == NULL || store_in_transaction(c))
        return err_set(e, ERR_INTERNAL, "lockout outside a free connection");
    pthread_mutex_lock(&pend.lock);
    full = add(&pend.t[pend.cur], kind, subject, r, 1, &n) != 0;
    pthread_mutex_unlock(&pend.lock);
    if (full) {
        /* write the whole table (one commit), then count in the empty one;
         * if another thread filled that too, this one is written alone */
        rc = lockout_flush(c, now_ms, NULL, e);
        pthread_mutex_lock(&pend.lock);
        full = add(&pend.t[pend.cur], kind, subject, r, 1, &n) != 0;
        pthread_mutex_unlock(&pend.lock);
        if (full)
            return write_now(c, kind, subject, r, 1, now_ms, e);
        if (rc != ERR_OK)
            return rc;
    }
    if ((rc = store_authfail_get(c, kind, subject, now_ms, r->window_ms,
                                 &counted, &until, e)) != ERR_OK)
        return rc;
    /* not yet at the threshold, or locked already (the flush adds these,
     * which may extend the lock): nothing to write now */
    if (until > now_ms || counted + n < r->threshold)
        return ERR_OK;
    pthread_mutex_lock(&pend.lock);
    n = take(&pend.t[pend.cur], kind, subject);
    pthread_mutex_unlock(&pend.lock);
    if (n == 0)                 /* another thread wrote them */
        return ERR_OK;
    return write_now(c, kind, subject, r, n, now_ms, e);
}

err_code
lockout_clear(struct store_conn *c, const char *kind, const char *subject,
              int counted, struct err *e)
{
    pthread_mutex_lock(&pend.lock);
    (void)take(&pend.t[pend.cur], kind, subject);
    pthread_mutex_unlock(&pend.lock);
    if (!counted)
        return ERR_OK;
    return store_authfail_clear(c, kind, subject, e);
}

/* Write every counted entry of t in one transaction; *rows gets how many. */
/* Every pending count of a table at now_ms: store_run's work. */
struct table_call {
    const struct pending_table *t;
    int64_t                     now_ms;
    int                         rows;
};

static err_code
table_work(struct store_conn *c, void *ctx, struct err *e)
{
    struct table_call *w = ctx;
    const struct pending *p;
    size_t i;
    err_code rc = ERR_OK;

    w->rows = 0;
    for (i = 0; i < w->t->n && rc == ERR_OK; i++) {
        p = &w->t->p[i];
        if (p->count == 0)
            continue;
        rc = store_authfail_add(c, p->kind, p->subject, p->count, w->now_ms,
                                p->rule.window_ms, p->rule.threshold,
                                p->rule.lock_ms, e);
        w->rows++;
    }
    return rc;
}

/* Write every pending count of t in one transaction; *rows how many. */
static err_code
write_table(struct store_conn *c, const struct pending_table *t,
            int64_t now_ms, int *rows, struct err *e)
{
    struct table_call w = {t, now_ms, 0};
    err_code rc = store_run(c, table_work, &w, e);

    *rows = rc == ERR_OK ? w.rows : 0;
    return rc;
}

err_code
lockout_flush(struct store_conn *c, int64_t now_ms, int *rows,
              struct err *e)
{
    struct pending_table *t;
    size_t i;
    long total;
    int n = 0;
    err_code rc = ERR_OK;

    if (store_in_transaction(c))
        return err_set(e, ERR_INTERNAL, "lockout flush inside a transaction");
    pthread_mutex_lock(&pend.flush_lock);
    pthread_mutex_lock(&pend.lock);
    t = &pend.t[pend.cur];
    pend.cur ^= 1;              /* new failures count into the other */
    pthread_mutex_unlock(&pend.lock);
    if (t->n > 0)
        rc = write_table(c, t, now_ms, &n, e);
    if (rc != ERR_OK) {
        pthread_mutex_lock(&pend.lock);
        for (i = 0; i < t->n; i++)
            if (t->p[i].count > 0)
                (void)add(&pend.t[pend.cur], t->p[i].kind, t->p[i].subject,
                          &t->p[i].rule, t->p[i].count, &total);
        pthread_mutex_unlock(&pend.lock);
    }
    t->n = 0;
    pthread_mutex_unlock(&pend.flush_lock);
    if (rows != NULL)
        *rows = n;
    return rc;
}
