/*
 * store_testutil.h - a real SQLite store for the unit tests: a fresh,
 * migrated database file in a temporary directory of its own, and its
 * removal.  The store tests (test_audit, test_lockout, test_auth,
 * test_store_faults) each had their own copy of these lines.
 *
 * Header-only (static functions); include after <cmocka.h>.
 */
#ifndef SEALD_STORE_TESTUTIL_H
#define SEALD_STORE_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "store.h"

#define STORE_T_DIR_MAX  64
#define STORE_T_PATH_MAX 128

/* A new directory /tmp/seald-<name>-XXXXXX (in dir) holding a migrated
 * database t.db (its path in path), opened (*s) with this thread's
 * connection (*c).  Fails the test on any error.  Undo with
 * store_t_remove. */
static __attribute__((unused)) void
store_t_open(const char *name, char dir[STORE_T_DIR_MAX],
             char path[STORE_T_PATH_MAX], struct store **s,
             struct store_conn **c)
{
    struct err e;

    snprintf(dir, STORE_T_DIR_MAX, "/tmp/seald-%s-XXXXXX", name);
    assert_non_null(mkdtemp(dir));
    snprintf(path, STORE_T_PATH_MAX, "%s/t.db", dir);
    assert_int_equal(store_open(path, NULL, 5000, 1, s, &e), ERR_OK);
    assert_int_equal(store_migrate(*s, NULL, &e), ERR_OK);
    assert_int_equal(store_conn_get(*s, c, &e), ERR_OK);
}

/* Close s and remove dir with everything in it. */
static __attribute__((unused)) void
store_t_remove(struct store *s, const char *dir)
{
    char cmd[STORE_T_DIR_MAX + 16];

    store_close(s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

#endif
