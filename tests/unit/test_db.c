/*
 * test_db.c - unit tests of the database layer (db.h, db_sqlite.c) and
 * the statement table (db_stmt.c), on a real SQLite file with the real
 * schema:
 *   - every statement id has text and prepares against the migrated
 *     schema (a typo in any statement fails here, not in production);
 *   - each id is prepared once per connection and never evicted: after
 *     preparing every statement twice, the live count is what it was after
 *     the first round;
 *   - a row callback that runs the statement being stepped gets a copy of
 *     its own, which release finalizes; a nested lookup of another
 *     statement works while a list is stepped;
 *   - failures come back in their classes: unique -> ERR_CONFLICT, other
 *     constraints -> ERR_INVALID, a writer locked out -> busy (ERR_DB);
 *   - a bind the database refuses fails the step and runs nothing;
 *   - a database closed and another opened never shares a connection;
 *   - seald migrate's copy list (store_copy.c) agrees with its statements
 *     and names every table of the schema but schema_version, each with
 *     every column in order (PRAGMA table_info): a migration that adds a
 *     table or a column the copy misses fails here (pg.migrate checks the
 *     PostgreSQL series the same way).
 * Run under AddressSanitizer (build-asan) a statement freed under its
 * caller is a heap-use-after-free report.
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
#include "store_account.h"
#include "store_copy.h"
#include "store.h"

#define NORGS        3
#define CALLBACK_MAX 100   /* bounds a callback that a reset list repeats */

static char dir[64], path[128];
static struct store *store;
static struct store_conn *conn;
static const int64_t every_org[NORGS] = {1, 2, 3};

static int
setup(void **state)
{
    struct err e;
    int64_t id;
    int i;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/seald-db-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/d.db", dir);
    if (store_open(path, NULL, 200, 1, &store, &e) != ERR_OK ||
        store_conn_get(store, &conn, &e) != ERR_OK ||
        store_migrate(store, NULL, &e) != ERR_OK)
        return -1;
    for (i = 0; i < NORGS; i++) {
        char name[32];

        snprintf(name, sizeof(name), "org %d", i + 1);
        if (store_org_insert(conn, 0, name, "region", NULL, 1, &id, &e)
            != ERR_OK || id != i + 1)
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

static void
test_every_statement_prepares_once(void **state)
{
    struct db_stmt *st;
    struct err e;
    size_t after_first;
    int id, round;

    (void)state;
    for (round = 0; round < 2; round++) {
        for (id = 0; id < DB_STMT__COUNT; id++) {
            assert_non_null(db_stmt_text((enum db_stmt_id)id));
            st = db_prep(conn->dbc, (enum db_stmt_id)id, &e);
            if (st == NULL)
                fail_msg("statement %d: %s\n%s", id, e.msg,
                         db_stmt_text((enum db_stmt_id)id));
            db_release(st);
        }
        if (round == 0)
            after_first = db_live_statements(conn->dbc);
    }
    /* every id prepared, none twice, none evicted */
    assert_true(after_first >= DB_STMT__COUNT);
    assert_int_equal(db_live_statements(conn->dbc), after_first);
    assert_null(db_stmt_text(DB_STMT__COUNT));
    assert_null(db_prep(conn->dbc, DB_STMT__COUNT, &e));
    assert_int_equal(e.code, ERR_INTERNAL);
}

struct visit {
    int rows;          /* rows the outer list delivered */
    int inner_rows;    /* rows the nested queries found */
};

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
    return store_org_list(conn, every_org, NORGS, -1, 0, 100, count_org,
                          &v->inner_rows, &e);
}

/* Row callback that looks up the row's organisation again. */
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
test_nested_statements(void **state)
{
    struct visit v = {0, 0};
    struct err e;
    size_t live;

    (void)state;
    /* prepare both statements first, so the count below is steady */
    assert_int_equal(store_org_list(conn, every_org, NORGS, -1, 0, 100,
                                    lookup_each, &v, &e), ERR_OK);
    assert_int_equal(v.rows, NORGS);
    assert_int_equal(v.inner_rows, NORGS);
    live = db_live_statements(conn->dbc);
    memset(&v, 0, sizeof(v));
    assert_int_equal(store_org_list(conn, every_org, NORGS, -1, 0, 100,
                                    list_again, &v, &e), ERR_OK);
    assert_int_equal(v.rows, NORGS);
    assert_int_equal(v.inner_rows, NORGS * NORGS);
    /* the nested run's own copy was finalized on release */
    assert_int_equal(db_live_statements(conn->dbc), live);
}

static void
test_failure_classes(void **state)
{
    struct store_org o;
    struct err e;
    int64_t id;
    sqlite3 *other;

    (void)state;
    /* unique: a second account of the same name */
    assert_int_equal(store_account_insert(conn, "dup", "person", "Dup", 1,
                                          NULL, NULL, 0, 1, &id, &e), ERR_OK);
    assert_int_equal(store_account_insert(conn, "dup", "person", "Dup", 1,
                                          NULL, NULL, 0, 1, &id, &e),
                     ERR_CONFLICT);
    assert_int_equal(db_last_fail(conn->dbc), DB_FAIL_UNIQUE);
    /* another constraint: a kind the schema's CHECK refuses */
    assert_int_equal(store_account_insert(conn, "odd", "robot", "Odd", 1,
                                          NULL, NULL, 0, 1, &id, &e),
                     ERR_INVALID);
    assert_int_equal(db_last_fail(conn->dbc), DB_FAIL_CONSTRAINT);
    assert_non_null(strstr(e.msg, "constraint failed"));
    /* busy: another connection holds the write lock past the timeout */
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
                                  NULL), SQLITE_OK);
    assert_int_equal(store_org_insert(conn, 0, "late", "region", NULL, 1,
                                      &id, &e), ERR_DB);
    assert_int_equal(db_last_fail(conn->dbc), DB_FAIL_BUSY);
    assert_int_equal(db_fail_code(DB_FAIL_BUSY), ERR_DB);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    /* and the connection goes on */
    assert_int_equal(store_org_get(conn, 2, &o, &e), ERR_OK);
    assert_string_equal(o.name, "org 2");
    assert_int_equal(db_last_fail(conn->dbc), DB_FAIL_NONE);
}

static void
test_bad_bind_runs_nothing(void **state)
{
    struct db_stmt *st;
    struct store_org o;
    struct err e;

    (void)state;
    assert_non_null(st = db_prep(conn->dbc, DB_ORG_UPDATE, &e));
    db_bind_text(st, 1, "renamed");
    db_bind_i64(st, 99, 1);            /* no parameter 99 */
    db_bind_i64(st, 3, 1);
    assert_int_equal(db_step_done(st, &e), ERR_INTERNAL);
    assert_non_null(strstr(e.msg, "bind"));
    assert_int_equal(store_org_get(conn, 1, &o, &e), ERR_OK);
    assert_string_equal(o.name, "org 1");
}

static void
test_reopened_database_gets_its_own_connection(void **state)
{
    struct store *s2;
    struct store_conn *c2;
    struct store_org o;
    struct err e;

    (void)state;
    store_close(store);
    store = NULL;
    assert_int_equal(store_open(path, NULL, 200, 0, &s2, &e), ERR_OK);
    assert_int_equal(store_conn_get(s2, &c2, &e), ERR_OK);
    assert_ptr_equal(db_of(c2->dbc), s2->db);
    assert_int_equal(store_org_get(c2, 3, &o, &e), ERR_OK);
    assert_string_equal(o.name, "org 3");
    store = s2;
    conn = c2;
}

/* The columns of table as PRAGMA table_info lists them, space-separated,
 * into out. */
static void
schema_columns(sqlite3 *h, const char *table, char *out, size_t cap)
{
    sqlite3_stmt *st;
    size_t k = 0;

    out[0] = '\0';
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT name FROM "
                                        "pragma_table_info(?1) ORDER BY cid",
                                        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);

        k += snprintf(out + k, cap - k, "%s%s", k ? " " : "", c);
        assert_true(k < cap);
    }
    sqlite3_finalize(st);
}

static void
test_copy_list_covers_the_schema(void **state)
{
    char want[STORE_COPY_COLS_MAX], got[STORE_COPY_COLS_MAX];
    const char *name;
    sqlite3_stmt *st;
    sqlite3 *h;
    struct err e;
    size_t i, tables = 0;

    (void)state;
    assert_int_equal(store_copy_check(&e), ERR_OK);
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    for (i = 0; i < STORE_COPY_TABLES; i++) {
        assert_int_equal(store_copy_table(i, &name, got, sizeof(got), &e),
                         ERR_OK);
        schema_columns(h, name, want, sizeof(want));
        if (strcmp(want, got) != 0)
            fail_msg("copy of %s: the copy has \"%s\", the schema \"%s\"",
                     name, got, want);
    }
    /* no table the copy leaves out, and no AUTOINCREMENT (sqlite_sequence
     * would have to be copied too) */
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM "
                                        "sqlite_master WHERE type = 'table' "
                                        "AND name NOT IN ('schema_version', "
                                        "'job_leases')", -1,
                                        &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    tables = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    assert_int_equal(tables, STORE_COPY_TABLES);
    assert_int_equal(store_copy_table(STORE_COPY_TABLES, &name, got,
                                      sizeof(got), &e), ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_statement_prepares_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_statements, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failure_classes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_bind_runs_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_reopened_database_gets_its_own_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_list_covers_the_schema,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
