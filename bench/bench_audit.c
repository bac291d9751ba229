/*
 * bench_audit.c - micro-benchmark of the audit append: entries per second
 * with the hash chain and a durable commit per entry (WAL,
 * synchronous=FULL, as the store opens every connection), on a real SQLite
 * file.  Usage: bench_audit [ENTRIES] [DIR] (default 2000 entries in /tmp).
 * Also measures appends batched 100 per transaction, and the verifier.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "store.h"
#include "util.h"

#define BENCH_DEFAULT_ENTRIES 2000
#define BENCH_MAX_ENTRIES     10000000L
#define BENCH_BATCH           100

/* One batch of appends: store_run's work. */
struct batch {
    const struct audit_actor *who;
    const struct audit_event *ev;
    long                      n;
};

static err_code
batch_work(struct store_conn *c, void *ctx, struct err *e)
{
    const struct batch *b = ctx;
    long i;
    err_code rc = ERR_OK;

    for (i = 0; i < b->n && rc == ERR_OK; i++)
        rc = audit_append(c, b->who, b->ev, e);
    return rc;
}

/* Append n entries, each in its own transaction (batch 0) or
 * BENCH_BATCH per transaction. */
static err_code
append_n(struct store_conn *c, long n, int batch, struct err *e)
{
    struct audit_actor who = {.account_id = 1, .role = "sysadmin",
                              .client_addr = "127.0.0.1",
                              .request_id = "0123456789abcdef"};
    json_t *details = json_pack("{s:s, s:i}", "name", "bench", "n", 1);
    struct audit_event ev = {"account.create", "account", "17", AUDIT_OK,
                             NULL, details};
    struct batch b = {&who, &ev, 0};
    long i;
    err_code rc = ERR_OK;

    for (i = 0; i < n && rc == ERR_OK; i += b.n) {
        if (!batch) {
            b.n = 1;
            rc = audit_append(c, &who, &ev, e);
            continue;
        }
        b.n = n - i < BENCH_BATCH ? n - i : BENCH_BATCH;
        rc = store_run(c, batch_work, &b, e);
    }
    json_decref(details);
    return rc;
}

int
main(int argc, char **argv)
{
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    char path[4096], side[4200];
    struct store *s = NULL;
    struct store_conn *c = NULL;
    struct audit_verify_report r;
    struct audit_verify_opts o;
    long n = BENCH_DEFAULT_ENTRIES;
    int64_t t0, t1, t2, t3;
    struct err e;
    int status = 1;

    err_clear(&e);
    if (argc > 1 && util_parse_long(argv[1], 1, BENCH_MAX_ENTRIES, &n, &e)
        != ERR_OK) {
        fprintf(stderr, "usage: bench_audit [ENTRIES] [DIR]\n");
        return 64;
    }
    snprintf(path, sizeof(path), "%s/bench_audit_%ld.db", dir,
             (long)getpid());
    if (store_open(path, NULL, 5000, 1, &s, &e) != ERR_OK ||
        store_migrate(s, NULL, &e) != ERR_OK ||
        store_conn_get(s, &c, &e) != ERR_OK)
        goto done;
    t0 = util_mono_ms();
    if (append_n(c, n, 0, &e) != ERR_OK)
        goto done;
    t1 = util_mono_ms();
    if (append_n(c, n, 1, &e) != ERR_OK)
        goto done;
    t2 = util_mono_ms();
    /* No checkpointer runs here: allow the whole log uncovered. */
    memset(&o, 0, sizeof(o));
    o.every = 2 * n;
    if (audit_verify(c, &o, &r, &e) != ERR_OK || !r.ok) {
        fprintf(stderr, "verify failed: %s\n", r.reason);
        goto done;
    }
    t3 = util_mono_ms();
    printf("audit append, one durable commit each: %ld entries in %lld ms "
           "= %.0f entries/s\n", n, (long long)(t1 - t0),
           n * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1));
    printf("audit append, %d per transaction:      %ld entries in %lld ms "
           "= %.0f entries/s\n", BENCH_BATCH, n, (long long)(t2 - t1),
           n * 1000.0 / (double)(t2 - t1 > 0 ? t2 - t1 : 1));
    printf("audit verify:                           %lld entries in %lld ms "
           "= %.0f entries/s\n", (long long)r.entries, (long long)(t3 - t2),
           (double)r.entries * 1000.0 / (double)(t3 - t2 > 0 ? t3 - t2 : 1));
    status = 0;
done:
    if (status != 0)
        fprintf(stderr, "bench_audit: %s\n", e.msg);
    store_close(s);
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    return status;
}
