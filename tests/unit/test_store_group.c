/*
 * test_store_group.c - unit tests of the store's group commit
 * (store_group_run in store.c): concurrent writers share transactions, an
 * item that fails undoes only its own writes and gets its own error, a
 * database error fails its whole group and nothing of it is written, and
 * everything answered ERR_OK is in the file afterwards.  Uses a real SQLite
 * file in a temp directory and real threads.
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

#include "store_int.h"
#include "store.h"

#define NTHREADS 8
#define NITEMS   60

static char dir[64], path[128];
static struct store *st;

/* Work item: insert key k; fail (after the insert) when told to. */
struct item {
    int64_t  k;
    err_code fail_with;             /* ERR_OK: succeed */
};

static err_code
insert_key(struct store_conn *c, void *ctx, struct err *e)
{
    struct item *it = ctx;
    char sql[64];

    /* the test's own table has no statement id: a script of one INSERT
     * (the key is the test's integer, not outside input) */
    snprintf(sql, sizeof(sql), "INSERT INTO t (k) VALUES (%lld)",
             (long long)it->k);
    if (db_exec_script(c->dbc, sql, e) != ERR_OK)
        return err_set(e, ERR_DB, "insert %lld", (long long)it->k);
    if (it->fail_with != ERR_OK)
        return err_set(e, it->fail_with, "item %lld refused",
                       (long long)it->k);
    return ERR_OK;
}

static int64_t
count_rows(const char *where_sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    char sql[128];
    int64_t n = -1;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM t %s", where_sql);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static int
setup(void **state)
{
    struct store_conn *c;
    struct err e;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/seald-group-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/g.db", dir);
    if (store_open(path, NULL, 5000, 1, &st, &e) != ERR_OK ||
        store_conn_get(st, &c, &e) != ERR_OK ||
        db_exec_script(c->dbc, "CREATE TABLE t (k INTEGER PRIMARY KEY)", &e)
        != ERR_OK)
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    char p[160];

    (void)state;
    store_close(st);
    st = NULL;
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
    unlink(path);
    rmdir(dir);
    return 0;
}

struct worker {
    int      id;
    int      ok, refused, wrong;   /* answers as expected / not */
};

/* Every 7th item is refused with ERR_CONFLICT; the rest must commit. */
static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    struct store_conn *c = NULL;
    struct err e;
    int i;

    if (store_conn_get(st, &c, &e) != ERR_OK) {
        w->wrong = NITEMS;
        return NULL;
    }
    for (i = 0; i < NITEMS; i++) {
        struct item it = {(int64_t)w->id * 1000 + i,
                          i % 7 == 3 ? ERR_CONFLICT : ERR_OK};
        char want[64];
        err_code rc;

        err_clear(&e);
        rc = store_group_run(c, insert_key, &it, &e);
        snprintf(want, sizeof(want), "item %lld refused", (long long)it.k);
        if (it.fail_with == ERR_OK && rc == ERR_OK)
            w->ok++;
        else if (it.fail_with != ERR_OK && rc == ERR_CONFLICT &&
                 strcmp(e.msg, want) == 0)
            w->refused++;
        else
            w->wrong++;
    }
    return NULL;
}

/* Concurrent writers: each answer is its own, refused items leave nothing,
 * and every accepted item is in the file. */
static void
test_concurrent_groups(void **state)
{
    pthread_t t[NTHREADS];
    struct worker w[NTHREADS];
    int i, ok = 0, refused = 0;

    (void)state;
    for (i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].id = i + 1;
        assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].wrong, 0);
        ok += w[i].ok;
        refused += w[i].refused;
    }
    assert_int_equal(refused, NTHREADS * ((NITEMS - 3 + 6) / 7));
    assert_int_equal(ok + refused, NTHREADS * NITEMS);
    assert_int_equal(count_rows(""), ok);
    /* the refused keys (i % 7 == 3) are absent */
    assert_int_equal(count_rows("WHERE k % 1000 % 7 = 3"), 0);
}

/* A database error in an item fails the group with ERR_DB and writes
 * nothing of it; the next group works. */
static void
test_db_error_fails_group(void **state)
{
    struct store_conn *c = NULL;
    struct item bad = {5, ERR_DB}, good = {6, ERR_OK}, dup = {6, ERR_OK};
    struct err e;

    (void)state;
    assert_int_equal(store_conn_get(st, &c, &e), ERR_OK);
    assert_int_equal(store_group_run(c, insert_key, &bad, &e), ERR_DB);
    assert_int_equal(count_rows("WHERE k = 5"), 0);
    assert_int_equal(store_group_run(c, insert_key, &good, &e), ERR_OK);
    assert_int_equal(count_rows("WHERE k = 6"), 1);
    /* a constraint failure inside an item is a database error too */
    assert_int_equal(store_group_run(c, insert_key, &dup, &e), ERR_DB);
    assert_int_equal(count_rows(""), 1);
    /* and the connection is usable afterwards, outside any transaction */
    assert_false(db_in_transaction(c->dbc));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_groups, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_error_fails_group, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
