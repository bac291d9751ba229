/*
 * test_store_cache.c - unit tests of the store's statement cache (st_prep
 * and st_release in store.c): with the cache full, a row callback of a list
 * that runs another query must not free the list's statement under it; a
 * nested run of the same list gets a statement of its own; when every slot
 * is held, the query still runs and nothing held is touched; eviction takes
 * the least recently used free slot.  The first three are memory-safety
 * properties: run under AddressSanitizer (build-asan) a violation is a
 * heap-use-after-free report, in a normal build a crash or a wrong count.
 * Uses a real SQLite file with the real schema.
 */
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

#define NORGS        3
#define NFILLERS     (STORE_STMT_CACHE + 4)
#define CALLBACK_MAX 100   /* bounds a callback that a reset list repeats */

static char dir[64], path[128];
static struct store *store;
static struct store_conn *conn;
/* Filler queries: distinct addresses, so each takes a cache slot. */
static char fillers[NFILLERS][48];

/* A new database whose connection has prepared nothing yet: the cache
 * is empty. */
static int
setup_empty(void **state)
{
    struct err e;
    int i;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/seald-cache-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/c.db", dir);
    if (store_open(path, 5000, 1, &store, &e) != ERR_OK ||
        store_conn_get(store, &conn, &e) != ERR_OK || conn->ncache != 0)
        return -1;
    /* Without lookaside every statement is its own malloc block, so a
     * statement freed while still in use is a heap-use-after-free that
     * AddressSanitizer reports, not a silent reuse of a lookaside slot. */
    if (sqlite3_db_config(conn->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 0, 0)
        != SQLITE_OK)
        return -1;
    for (i = 0; i < NFILLERS; i++)
        snprintf(fillers[i], sizeof(fillers[i]), "SELECT %d", i);
    return 0;
}

/* The ids of the NORGS organisations (1..NORGS in a fresh database): the
 * scope of the lists below, which cover them all. */
static const int64_t every_org[NORGS] = {1, 2, 3};

/* The real schema and NORGS organisations (some statements cached). */
static int
setup(void **state)
{
    struct err e;
    int64_t id;
    int i;

    if (setup_empty(state) != 0 || store_migrate(store, NULL, &e) != ERR_OK)
        return -1;
    for (i = 0; i < NORGS; i++) {
        char name[32];

        snprintf(name, sizeof(name), "org %d", i + 1);
        if (store_org_insert(conn, 0, name, "agency", NULL, 1, &id, &e)
            != ERR_OK)
            return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    char p[160];

    (void)state;
    store_close(store);
    store = NULL;
    conn = NULL;
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
    unlink(path);
    rmdir(dir);
    return 0;
}

/* Prepare filler i, step it to its row and check the value; the statement
 * stays held (and busy) until finish_filler. */
static sqlite3_stmt *
hold_filler(int i)
{
    struct err e;
    sqlite3_stmt *s = st_prep(conn, fillers[i], &e);

    assert_non_null(s);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), i);
    return s;
}

/* Step a held filler to its end, which releases it (st_step_done). */
static void
finish_filler(sqlite3_stmt *s)
{
    struct err e;

    assert_int_equal(st_step_done(conn, s, &e), ERR_OK);
}

/* Fill every cache slot with filler statements, each given back. */
static void
fill_cache(void)
{
    int i;

    for (i = 0; conn->ncache < STORE_STMT_CACHE; i++) {
        assert_true(i < NFILLERS);
        finish_filler(hold_filler(i));
    }
}

/* Whether s is one of the database layer's statements (prepared from
 * the statement table or a transaction statement), not the store's.  The
 * organisation functions this test calls are on statement ids, so the
 * only statements st_prep makes here are the fillers ("SELECT <n>"). */
static int
db_owns(sqlite3_stmt *s)
{
    const char *sql = sqlite3_sql(s);

    return !(strncmp(sql, "SELECT ", 7) == 0 && sql[7] >= '0' &&
             sql[7] <= '9');
}

/* Statements alive on the connection: the cached ones plus any uncached
 * one not yet finalized: a filler st_prep did not cache, or a second
 * statement of the database layer with the text of another (an uncached
 * twin db_prep made for a nested run, left unreleased). */
static size_t
live_statements(void)
{
    sqlite3_stmt *s = NULL, *t;
    size_t n = 0;

    size_t i;

    while ((s = sqlite3_next_stmt(conn->db, s)) != NULL) {
        for (i = 0; i < conn->ncache; i++)
            if (conn->cache[i].stmt == s)
                break;
        if (i < conn->ncache || !db_owns(s)) {
            n++;
            continue;
        }
        /* the database layer's: one per text, any more is a twin */
        for (t = sqlite3_next_stmt(conn->db, s); t != NULL;
             t = sqlite3_next_stmt(conn->db, t))
            if (db_owns(t) && strcmp(sqlite3_sql(t), sqlite3_sql(s)) == 0) {
                n++;
                break;
            }
    }
    return n;
}

struct visit {
    int rows;          /* rows the outer list delivered */
    int inner_rows;    /* rows the nested queries found */
};

/* Row callback that looks up the row's organisation again: a query the
 * cache has not seen, so the cache must find it a slot while the list's
 * statement is being stepped. */
static err_code
lookup_each(void *ctx, const struct store_org *o)
{
    struct visit *v = ctx;
    struct store_org again;
    struct err e;

    if (++v->rows > CALLBACK_MAX)
        return ERR_INTERNAL;
    if (store_org_get(conn, o->id, &again, &e) != ERR_OK ||
        strcmp(again.name, o->name) != 0)
        return ERR_INTERNAL;
    v->inner_rows++;
    return ERR_OK;
}

static void
test_nested_lookup_in_full_cache(void **state)
{
    struct visit v = {0, 0};
    struct err e;

    (void)state;
    fill_cache();
    assert_int_equal(store_org_list(conn, every_org, NORGS, -1, 0, 100, lookup_each, &v, &e),
                     ERR_OK);
    assert_int_equal(v.rows, NORGS);
    assert_int_equal(v.inner_rows, NORGS);
    assert_int_equal(live_statements(), conn->ncache);
}

static err_code
count_org(void *ctx, const struct store_org *o)
{
    (void)o;
    ++*(int *)ctx;
    return ERR_OK;
}

/* Row callback that runs the very list being stepped. */
static err_code
list_again(void *ctx, const struct store_org *o)
{
    struct visit *v = ctx;
    struct err e;

    (void)o;
    if (++v->rows > CALLBACK_MAX)
        return ERR_INTERNAL;
    return store_org_list(conn, every_org, NORGS, -1, 0, 100, count_org, &v->inner_rows, &e);
}

static void
test_nested_same_list(void **state)
{
    struct visit v = {0, 0};
    struct err e;

    (void)state;
    assert_int_equal(store_org_list(conn, every_org, NORGS, -1, 0, 100, list_again, &v, &e),
                     ERR_OK);
    assert_int_equal(v.rows, NORGS);
    assert_int_equal(v.inner_rows, NORGS * NORGS);
    /* the nested run's own statement was finalized on release */
    assert_int_equal(live_statements(), conn->ncache);
}

static void
test_every_slot_held(void **state)
{
    sqlite3_stmt *held[STORE_STMT_CACHE];
    struct store_org o;
    struct err e;
    int i;

    (void)state;
    /* The first fillers take the empty slots, the rest evict the free
     * ones (the schema's): then every slot is a held filler. */
    for (i = 0; i < STORE_STMT_CACHE; i++)
        held[i] = hold_filler(i);
    assert_int_equal(conn->ncache, STORE_STMT_CACHE);
    assert_int_equal(store_org_get(conn, 2, &o, &e), ERR_OK);
    assert_string_equal(o.name, "org 2");
    assert_int_equal(conn->ncache, STORE_STMT_CACHE);
    /* the lookup's uncached statement is gone, every held one intact:
     * its row, then its end */
    assert_int_equal(live_statements(), STORE_STMT_CACHE);
    for (i = 0; i < STORE_STMT_CACHE; i++) {
        assert_int_equal(sqlite3_column_int(held[i], 0), i);
        finish_filler(held[i]);
    }
}

/* Index of the cache slot holding sql, or -1. */
static int
slot_of(const char *sql)
{
    size_t i;

    for (i = 0; i < conn->ncache; i++)
        if (conn->cache[i].sql == sql)
            return (int)i;
    return -1;
}

static void
test_evicts_least_recently_used(void **state)
{
    int first, second, i;

    (void)state;
    fill_cache();
    /* on an empty cache the first two fillers are the oldest; use the
     * first again */
    first = slot_of(fillers[0]);
    second = slot_of(fillers[1]);
    assert_true(first >= 0 && second >= 0);
    finish_filler(hold_filler(0));
    for (i = 0; slot_of(fillers[i]) >= 0; i++)
        assert_true(i + 1 < NFILLERS);
    finish_filler(hold_filler(i));      /* a new query: one eviction */
    assert_int_equal(slot_of(fillers[0]), first);
    assert_int_equal(slot_of(fillers[1]), -1);
    assert_int_equal(slot_of(fillers[i]), second);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nested_lookup_in_full_cache,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_same_list, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_every_slot_held, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_evicts_least_recently_used,
                                        setup_empty, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
