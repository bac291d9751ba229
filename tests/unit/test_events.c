/*
 * test_events.c - unit tests of the outbox (event.c, unit.c's hook) and of
 * the delivery signature (delivery.c) on a real SQLite file: an audited
 * lifecycle change writes its event in its unit, a refused one writes
 * none and leaves no gap in seq, a non-lifecycle action has no event, a
 * group commit in which units fail keeps exactly the others' events, and
 * the signature matches one computed elsewhere (Python's hmac with sm3).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "delivery.h"
#include "event.h"
#include "store.h"
#include "unit.h"

static char dir[64], path[128];
static struct store *st;

/* One column of one row of sql (a test's own query, no input), as text
 * into out; "" for no row. */
static void
query(const char *sql, char *out, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;

    out[0] = '\0';
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static long
query_long(const char *sql)
{
    char buf[64];

    query(sql, buf, sizeof(buf));
    return atol(buf);
}

static int
setup(void **state)
{
    struct err e;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/seald-events-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/ev.db", dir);
    if (store_open(path, NULL, 5000, 1, &st, &e) != ERR_OK ||
        store_migrate(st, NULL, &e) != ERR_OK)
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    char p[160];

    (void)state;
    store_close(st);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
    unlink(path);
    rmdir(dir);
    return 0;
}

/* A unit naming an audit action, then failing with fail (ERR_OK: not). */
struct work {
    const char *action;
    const char *target;
    err_code    fail;
};

static err_code
work_fn(struct unit *u, void *ctx, struct err *e)
{
    struct work *w = ctx;
    err_code rc = unit_audit(u, w->action, "seal", w->target, NULL, e);

    if (rc != ERR_OK)
        return rc;
    return w->fail == ERR_OK ? ERR_OK
                             : err_set(e, w->fail, "refused by the test");
}

static err_code
run(const char *action, const char *target, err_code fail, int grouped)
{
    struct store_conn *c;
    struct err e;
    struct work w = {action, target, fail};
    struct actor_ctx a;

    assert_int_equal(store_conn_get(st, &c, &e), ERR_OK);
    memset(&a, 0, sizeof(a));
    a.db = c;
    a.who.role = "system";
    a.who.client_addr = "test";
    return grouped ? unit_run_grouped(&a, work_fn, &w, &e)
                   : unit_run(&a, work_fn, &w, &e);
}

static void
test_event_with_its_change(void **state)
{
    char buf[256];
    long before = query_long("SELECT count(*) FROM events");
    uint64_t gen = event_generation();

    (void)state;
    assert_int_equal(run("seal.revoke", "E1", ERR_OK, 0), ERR_OK);
    assert_int_equal(query_long("SELECT count(*) FROM events"), before + 1);
    query("SELECT type || ' ' || target_type || ' ' || target_id || ' ' || "
          "data FROM events ORDER BY seq DESC LIMIT 1", buf, sizeof(buf));
    assert_string_equal(buf, "seal.revoked seal E1 {\"action\":"
                        "\"seal.revoke\"}");
    assert_true(event_generation() > gen);      /* readers woken */
    /* the head row and the newest event agree */
    assert_int_equal(query_long("SELECT seq FROM event_head"),
                     query_long("SELECT max(seq) FROM events"));
    query("SELECT length(event_id) FROM events ORDER BY seq DESC LIMIT 1",
          buf, sizeof(buf));
    assert_string_equal(buf, "32");
}

static void
test_refused_change_writes_none(void **state)
{
    long n = query_long("SELECT count(*) FROM events");
    long head = query_long("SELECT seq FROM event_head");

    (void)state;
    assert_int_equal(run("seal.suspend", "E2", ERR_CONFLICT, 0),
                     ERR_CONFLICT);
    assert_int_equal(run("seal.suspend", "E2", ERR_FORBIDDEN, 1),
                     ERR_FORBIDDEN);
    assert_int_equal(query_long("SELECT count(*) FROM events"), n);
    /* not a lifecycle action: audited, no event */
    assert_int_equal(run("organisation.update", "E2", ERR_OK, 0), ERR_OK);
    assert_int_equal(query_long("SELECT count(*) FROM events"), n);
    /* no gap: the refused units gave their seq back */
    assert_int_equal(run("seal.suspend", "E2", ERR_OK, 0), ERR_OK);
    assert_int_equal(query_long("SELECT max(seq) FROM events"), head + 1);
}

#define NTHREADS 4
#define NPER     25

static void *
group_thread(void *arg)
{
    long t = (long)(intptr_t)arg, i;
    char target[32];

    for (i = 0; i < NPER; i++) {
        err_code want = (i % 5 == 0) ? ERR_CONFLICT : ERR_OK;
        snprintf(target, sizeof(target), "G%ld-%ld", t, i);
        assert_int_equal(run("seal.confirm", target, want, 1), want);
    }
    return NULL;
}

static void
test_group_keeps_the_others_events(void **state)
{
    pthread_t th[NTHREADS];
    long n0 = query_long("SELECT count(*) FROM events"), i;

    (void)state;
    for (i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, group_thread,
                                        (void *)(intptr_t)i), 0);
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    /* 4 of 5 units succeed; their events only, and the seqs dense */
    assert_int_equal(query_long("SELECT count(*) FROM events WHERE "
                                "type = 'seal.activated'"),
                     NTHREADS * NPER * 4 / 5);
    assert_int_equal(query_long("SELECT count(*) FROM events WHERE "
                                "target_id LIKE 'G%-0'"), 0);
    assert_int_equal(query_long("SELECT count(*) FROM events"),
                     n0 + NTHREADS * NPER * 4 / 5);
    assert_int_equal(query_long("SELECT max(seq) - min(seq) + 1 - count(*) "
                                "FROM events"), 0);
    /* and each event's audit entry is there */
    assert_int_equal(query_long("SELECT count(*) FROM audit_log WHERE "
                                "action = 'seal.confirm'"),
                     NTHREADS * NPER * 4 / 5);
}

static void
test_signature_vector(void **state)
{
    static const uint8_t key[16] = "kkkkkkkkkkkkkkkk";
    char sig[128];
    struct err e;

    (void)state;
    /* python3: hmac.new(b'k'*16, b'1700000000.{"a":1}', 'sm3') */
    assert_int_equal(delivery_sign(key, sizeof(key), 1700000000LL,
                                   "{\"a\":1}", 7, sig, sizeof(sig), &e),
                     ERR_OK);
    assert_string_equal(sig, "t=1700000000,v1=da5496d33b4efa74ecb5590c950b92"
                        "0ae5a144e1d929fc54d737a6da6d767245");
    assert_int_equal(delivery_sign(key, sizeof(key), 1700000000LL,
                                   "{\"a\":1}", 7, sig, 40, &e),
                     ERR_INTERNAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_with_its_change),
        cmocka_unit_test(test_refused_change_writes_none),
        cmocka_unit_test(test_group_keeps_the_others_events),
        cmocka_unit_test(test_signature_vector),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
