/*
 * lease.c - the node id and the leases of the periodic jobs (lease.h).
 * The SQL is in store_lease.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lease.h"
#include "util.h"
#include "store.h"
#include "store_lease.h"

static pthread_once_t node_once = PTHREAD_ONCE_INIT;
static char node_id[LEASE_NODE_HEX + 1];

/* pthread_once routine: random bytes as hex; should the random source
 * fail, the pid and the clock, which still differ between live nodes. */
static void
node_make(void)
{
    uint8_t b[LEASE_NODE_HEX / 2];
    struct err e;

    err_clear(&e);
    if (util_random(b, sizeof(b), &e) == ERR_OK) {
        util_hex_encode(b, sizeof(b), node_id);
        node_id[LEASE_NODE_HEX] = '\0';
        return;
    }
    snprintf(node_id, sizeof(node_id), "%08lx%08llx",
             (unsigned long)getpid() & 0xffffffffUL,
             (unsigned long long)util_now_ms() & 0xffffffffULL);
}

const char *
lease_node_id(void)
{
    pthread_once(&node_once, node_make);
    return node_id;
}

struct claim_call {
    const char *job;
    int64_t     now_ms, period_ms;
    int         won;
};

static err_code
claim_work(struct store_conn *c, void *ctx, struct err *e)
{
    struct claim_call *w = ctx;

    return store_lease_claim(c, w->job, lease_node_id(), w->now_ms,
                             w->now_ms + w->period_ms, &w->won, e);
}

err_code
lease_claim(struct store_conn *c, const char *job, int64_t period_ms,
            int *won, struct err *e)
{
    struct claim_call w = {job, util_now_ms(), period_ms, 0};
    err_code rc = store_run(c, claim_work, &w, e);

    *won = rc == ERR_OK && w.won;
    return rc;
}

static err_code
release_work(struct store_conn *c, void *ctx, struct err *e)
{
    return store_lease_release(c, ctx, lease_node_id(), e);
}

void
lease_release(struct store_conn *c, const char *job)
{
    struct err e;

    err_clear(&e);
    (void)store_run(c, release_work, (void *)job, &e);
}
