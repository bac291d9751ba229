/*
 * test_lockout.c - unit tests of the lockout (lockout.c): failures under
 * the threshold are counted in memory and written by a flush, the failure
 * that reaches the threshold writes the lock at once, counts from the
 * database (other nodes) add to this node's, a success forgets them, and a
 * full table is flushed rather than grown.  Uses a real SQLite file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lockout.h"
#include "store.h"
#include "store_testutil.h"
#include "store_account.h"

#define NOW 1000000000000LL

static const struct lockout_rule rule = {900000, 5, 60000};

struct db {
    char          dir[STORE_T_DIR_MAX];
    char          path[STORE_T_PATH_MAX];
    struct store *s;
    struct store_conn *c;
};

static int
db_setup(void **state)
{
    struct db *d = calloc(1, sizeof(*d));

    assert_non_null(d);
    store_t_open("lockout", d->dir, d->path, &d->s, &d->c);
    *state = d;
    return 0;
}

static int
db_teardown(void **state)
{
    struct db *d = *state;
    struct err e;

    /* leave the process-wide table empty for the next test */
    assert_int_equal(lockout_flush(d->c, NOW, NULL, &e), ERR_OK);
    store_t_remove(d->s, d->dir);
    free(d);
    return 0;
}

/* (failures in the window, locked until) of subject in the database. */
static void
in_db(struct db *d, const char *kind, const char *subject, long *failures,
      int64_t *until)
{
    struct err e;

    assert_int_equal(store_authfail_get(d->c, kind, subject, NOW,
                                        rule.window_ms, failures, until, &e),
                     ERR_OK);
}

static void
fail_once(struct db *d, const char *kind, const char *subject)
{
    struct err e;

    assert_int_equal(lockout_fail(d->c, kind, subject, &rule, NOW, &e),
                     ERR_OK);
}

static void
test_counted_then_written(void **state)
{
    struct db *d = *state;
    long n;
    int64_t until;
    int rows = -1;
    int i;
    struct err e;

    for (i = 0; i < 4; i++)
        fail_once(d, LOCKOUT_ADDRESS, "192.0.2.7");
    in_db(d, LOCKOUT_ADDRESS, "192.0.2.7", &n, &until);
    assert_int_equal(n, 0);                     /* nothing written yet */
    assert_int_equal(lockout_flush(d->c, NOW, &rows, &e), ERR_OK);
    assert_int_equal(rows, 1);
    in_db(d, LOCKOUT_ADDRESS, "192.0.2.7", &n, &until);
    assert_int_equal(n, 4);
    assert_int_equal(until, 0);
    /* the fifth, after the flush, reaches the threshold: locked at once */
    fail_once(d, LOCKOUT_ADDRESS, "192.0.2.7");
    in_db(d, LOCKOUT_ADDRESS, "192.0.2.7", &n, &until);
    assert_int_equal(until, NOW + rule.lock_ms);
    assert_int_equal(lockout_flush(d->c, NOW, &rows, &e), ERR_OK);
    assert_int_equal(rows, 0);                  /* written with the lock */
}

static void
test_lock_without_flush_and_other_nodes(void **state)
{
    struct db *d = *state;
    long n;
    int64_t until;
    int i;
    struct err e;

    /* five on this node alone: the fifth writes the count and the lock */
    for (i = 0; i < 5; i++)
        fail_once(d, LOCKOUT_ACCOUNT, "17");
    in_db(d, LOCKOUT_ACCOUNT, "17", &n, &until);
    assert_int_equal(until, NOW + rule.lock_ms);
    /* three written by another node, two here: locked at the second */
    assert_int_equal(store_authfail_add(d->c, LOCKOUT_ACCOUNT, "18", 3, NOW,
                                        rule.window_ms, rule.threshold,
                                        rule.lock_ms, &e), ERR_OK);
    fail_once(d, LOCKOUT_ACCOUNT, "18");
    in_db(d, LOCKOUT_ACCOUNT, "18", &n, &until);
    assert_int_equal(until, 0);
    fail_once(d, LOCKOUT_ACCOUNT, "18");
    in_db(d, LOCKOUT_ACCOUNT, "18", &n, &until);
    assert_int_equal(until, NOW + rule.lock_ms);
}

static void
test_success_forgets(void **state)
{
    struct db *d = *state;
    long n;
    int64_t until;
    int i, rows = -1;
    struct err e;

    for (i = 0; i < 4; i++)
        fail_once(d, LOCKOUT_ACCOUNT, "21");
    assert_int_equal(lockout_clear(d->c, LOCKOUT_ACCOUNT, "21", 0, &e),
                     ERR_OK);
    assert_int_equal(lockout_flush(d->c, NOW, &rows, &e), ERR_OK);
    assert_int_equal(rows, 0);
    /* and with failures in the database it deletes them too */
    for (i = 0; i < 3; i++)
        fail_once(d, LOCKOUT_ACCOUNT, "21");
    assert_int_equal(lockout_flush(d->c, NOW, &rows, &e), ERR_OK);
    assert_int_equal(lockout_clear(d->c, LOCKOUT_ACCOUNT, "21", 1, &e),
                     ERR_OK);
    in_db(d, LOCKOUT_ACCOUNT, "21", &n, &until);
    assert_int_equal(n, 0);
}

static void
test_full_table_is_flushed(void **state)
{
    struct db *d = *state;
    char addr[32];
    long n;
    int64_t until;
    int i, rows = -1;
    struct err e;

    for (i = 0; i < LOCKOUT_PENDING_MAX + 10; i++) {
        snprintf(addr, sizeof(addr), "198.51.100.%d/%d", i % 250, i / 250);
        fail_once(d, LOCKOUT_ADDRESS, addr);
    }
    /* the first LOCKOUT_PENDING_MAX were written when the table filled */
    in_db(d, LOCKOUT_ADDRESS, "198.51.100.0/0", &n, &until);
    assert_int_equal(n, 1);
    snprintf(addr, sizeof(addr), "198.51.100.%d/%d",
             (LOCKOUT_PENDING_MAX + 9) % 250, (LOCKOUT_PENDING_MAX + 9) / 250);
    in_db(d, LOCKOUT_ADDRESS, addr, &n, &until);
    assert_int_equal(n, 0);
    assert_int_equal(lockout_flush(d->c, NOW, &rows, &e), ERR_OK);
    assert_int_equal(rows, 10);
    in_db(d, LOCKOUT_ADDRESS, addr, &n, &until);
    assert_int_equal(n, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counted_then_written,
                                        db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_lock_without_flush_and_other_nodes,
                                        db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_success_forgets,
                                        db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_full_table_is_flushed,
                                        db_setup, db_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
