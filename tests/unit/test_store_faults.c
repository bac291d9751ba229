/*
 * test_store_faults.c - unit tests of what a failed write or fsync does to
 * a state change (store.c, audit.c), with the fault-injecting VFS of
 * tests/fault: for every write and every fsync a transaction makes, the
 * transaction is run again with that one failing, and it must return
 * ERR_DB (HTTP 503), leave no transaction open, leave the database
 * exactly as it was (row counts, audit head, as a second connection sees
 * it), leave the audit chain valid, and let the next transaction succeed.
 * Three shapes of state change are swept: an organisation and its audit
 * record in one transaction (what a unit of work does: store_run), the same
 * through group commit, and an audit record committed on its own.  Also:
 * a failed commit fsync is not reported as committed, a copy of the files
 * taken right after it ("the crash") holds either all of the change or
 * none and a valid chain, and a disk that fails every write fails every
 * change until it comes back.  Uses a real SQLite file in a temp
 * directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "audit.h"
#include "faultvfs.h"
#include "store.h"
#include "store_testutil.h"
#include "util.h"
#include "store_account.h"
#include "store_audit.h"

struct db {
    char               dir[STORE_T_DIR_MAX];
    char               path[STORE_T_PATH_MAX];
    struct store      *s;
    struct store_conn *c;
    sqlite3           *raw;      /* a second connection, to look with */
    int                serial;   /* names the organisations made */
    long               faults;   /* fault points exercised, all tests */
};

static long total_faults;

static int
db_setup(void **state)
{
    struct db *d = calloc(1, sizeof(*d));

    assert_non_null(d);
    /* before the first connection: it keeps the VFS it was opened with */
    assert_int_equal(faultvfs_install(), SQLITE_OK);
    assert_string_equal(sqlite3_vfs_find(NULL)->zName, FAULTVFS_NAME);
    faultvfs_disarm();
    store_t_open("faults", d->dir, d->path, &d->s, &d->c);
    assert_int_equal(sqlite3_open_v2(d->path, &d->raw, SQLITE_OPEN_READWRITE,
                                     NULL), SQLITE_OK);
    *state = d;
    return 0;
}

static int
db_teardown(void **state)
{
    struct db *d = *state;

    faultvfs_disarm();
    total_faults += d->faults;
    sqlite3_close(d->raw);
    store_t_remove(d->s, d->dir);
    free(d);
    return 0;
}

/* ---- what the database holds ---- */

struct snap {
    int64_t orgs, audit;             /* row counts (second connection) */
    int64_t head;                    /* audit head seq (store's own)   */
    uint8_t hash[STORE_AUDIT_HASH_LEN];
};

static int64_t
count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t n;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void
snapshot(struct db *d, struct snap *s)
{
    int has = 0;
    struct err e;

    memset(s, 0, sizeof(*s));
    s->orgs = count_rows(d->raw, "SELECT count(*) FROM organisations");
    s->audit = count_rows(d->raw, "SELECT count(*) FROM audit_log");
    assert_int_equal(store_audit_head(d->c, &s->head, s->hash, &has, &e),
                     ERR_OK);
    assert_int_equal(s->head, s->audit);
}

/* The whole chain verifies and has n entries. */
static void
chain_ok(struct store_conn *c, int64_t n)
{
    struct audit_verify_report r;
    struct err e;

    assert_int_equal(audit_verify(c, NULL, &r, &e), ERR_OK);
    if (!r.ok)
        print_message("audit_verify: %s (seq %lld)\n", r.reason,
                      (long long)r.bad_seq);
    assert_true(r.ok);
    assert_int_equal(r.entries, n);
}

/* ---- the state changes swept ---- */

/* Run one state change on d; ERR_OK or its error.  Adds one audit entry
 * and *orgs organisations when it succeeds. */
typedef err_code (*change_fn)(struct db *d, int64_t *orgs, struct err *e);

static const struct audit_actor who = {
    .account_id = 1, .role = "sysadmin", .client_addr = "127.0.0.1",
    .request_id = "fault-test"};

/* Insert the next organisation and its audit record on c, in the caller's
 * transaction. */
static err_code
org_and_audit(struct store_conn *c, struct db *d, struct err *e)
{
    struct audit_event ev = {"organisation.create", "organisation", NULL,
                             AUDIT_OK, NULL, NULL};
    char name[64], id[24];
    int64_t oid;
    err_code rc;

    snprintf(name, sizeof(name), "Fault bureau %d", ++d->serial);
    if ((rc = store_org_insert(c, 0, name, "region", NULL, util_now_ms(),
                               &oid, e)) != ERR_OK)
        return rc;
    snprintf(id, sizeof(id), "%lld", (long long)oid);
    ev.target_id = id;
    return audit_append(c, &who, &ev, e);
}

static err_code
group_work(struct store_conn *c, void *ctx, struct err *e)
{
    return org_and_audit(c, ctx, e);
}

/* As a unit of work does it (unit_run on store_run): the change and its
 * audit entry in one transaction, rolled back on any failure. */
static err_code
change_explicit(struct db *d, int64_t *orgs, struct err *e)
{
    *orgs = 1;
    return store_run(d->c, group_work, d, e);
}

/* The same change through group commit (the signing path's shape). */
static err_code
change_group(struct db *d, int64_t *orgs, struct err *e)
{
    *orgs = 1;
    return store_group_run(d->c, group_work, d, e);
}

/* An audit record alone: audit_append with no transaction open takes
 * its own (a refusal of an authenticated caller). */
static err_code
change_audit_only(struct db *d, int64_t *orgs, struct err *e)
{
    struct audit_event ev = {"seal.revoke", "seal", "7", AUDIT_REFUSED,
                             "not the custodian", NULL};

    *orgs = 0;
    return audit_append(d->c, &who, &ev, e);
}

/* Run change with nothing armed: it must succeed and add what it says. */
static void
change_succeeds(struct db *d, change_fn change)
{
    struct snap before, after;
    int64_t orgs;
    struct err e;

    snapshot(d, &before);
    err_clear(&e);
    assert_int_equal(change(d, &orgs, &e), ERR_OK);
    assert_false(store_in_transaction(d->c));
    snapshot(d, &after);
    assert_int_equal(after.orgs, before.orgs + orgs);
    assert_int_equal(after.audit, before.audit + 1);
    chain_ok(d->c, after.audit);
}

/* Run change with the write_n-th write or the sync_n-th fsync failing
 * (one of them non-zero), then check what a failed change must leave:
 * the fault fired once, ERR_DB (503, "database_error") came back with an
 * I/O message, no transaction is open, the database is as it was and its
 * chain valid, and the change succeeds once the fault is gone. */
static void
change_fails(struct db *d, change_fn change, long write_n, long sync_n)
{
    struct faultvfs_counts n;
    struct snap before, after;
    int64_t orgs;
    struct err e;
    err_code rc;

    snapshot(d, &before);
    err_clear(&e);
    faultvfs_arm(write_n, sync_n);
    rc = change(d, &orgs, &e);
    faultvfs_counts(&n);
    faultvfs_disarm();
    d->faults++;
    if (rc != ERR_DB)
        print_message("write %ld sync %ld: %s (%s)\n", write_n, sync_n,
                      err_name(rc), e.msg);
    assert_int_equal(n.failed_writes, write_n ? 1 : 0);
    assert_int_equal(n.failed_syncs, sync_n ? 1 : 0);
    assert_int_equal(rc, ERR_DB);
    assert_int_equal(e.code, ERR_DB);
    assert_int_equal(err_http_status(rc), 503);
    assert_string_equal(err_name(rc), "database_error");
    assert_non_null(strstr(e.msg, "I/O error"));
    assert_false(store_in_transaction(d->c));
    snapshot(d, &after);
    assert_int_equal(after.orgs, before.orgs);
    assert_int_equal(after.audit, before.audit);
    assert_int_equal(after.head, before.head);
    assert_memory_equal(after.hash, before.hash, STORE_AUDIT_HASH_LEN);
    chain_ok(d->c, before.audit);
    change_succeeds(d, change);
}

/* Count the writes and fsyncs one run of change makes (after a first run,
 * so that nothing of the first use is counted), then fail each of them
 * in turn.  Returns how many fault points were swept. */
static long
sweep(struct db *d, change_fn change, const char *what)
{
    struct faultvfs_counts n;
    long i;

    change_succeeds(d, change);
    faultvfs_disarm();
    change_succeeds(d, change);
    faultvfs_counts(&n);
    print_message("%s: %ld writes, %ld fsyncs per change\n", what,
                  n.writes, n.syncs);
    /* WAL with synchronous=FULL: a commit writes frames and syncs them */
    assert_true(n.writes >= 1);
    assert_true(n.syncs >= 1);
    assert_int_equal(n.failed_writes + n.failed_syncs, 0);
    for (i = 1; i <= n.writes; i++)
        change_fails(d, change, i, 0);
    for (i = 1; i <= n.syncs; i++)
        change_fails(d, change, 0, i);
    return n.writes + n.syncs;
}

static void
test_sweep_explicit(void **state)
{
    struct db *d = *state;

    assert_true(sweep(d, change_explicit, "begin/insert/audit/commit") >= 2);
}

static void
test_sweep_group(void **state)
{
    struct db *d = *state;

    assert_true(sweep(d, change_group, "group commit") >= 2);
}

static void
test_sweep_audit_only(void **state)
{
    struct db *d = *state;

    assert_true(sweep(d, change_audit_only, "audit_append alone") >= 2);
}

/* ---- the commit's fsync ---- */

/* Copy file src to dst if src exists (a WAL may not). */
static void
copy_file(const char *src, const char *dst)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd), "test ! -e '%s' || cp '%s' '%s'", src, src,
             dst);
    assert_int_equal(system(cmd), 0);
}

/* The WAL's fsync at COMMIT fails: the commit is not reported done, a
 * second connection does not see it, and the files as they are right
 * then (what a crash would leave: the frames were written, only their
 * fsync failed) hold either the whole change or none of it, with a valid
 * chain.  Which one is printed: SQLite's WAL recovery takes frames whose
 * checksums hold, so this is where a failed fsync's change may come back
 * after a crash (until the next commit overwrites those frames). */
static void
test_commit_fsync(void **state)
{
    struct db *d = *state;
    struct faultvfs_counts n;
    struct snap before, after;
    struct store *cs;
    struct store_conn *cc;
    sqlite3 *craw;
    char cdir[128], cpath[160], src[160], dst[200];
    int64_t orgs, corgs, caudit;
    struct err e;
    err_code rc;

    change_succeeds(d, change_explicit);
    snapshot(d, &before);
    /* the commit's sync is the last (for WAL: the only) one */
    faultvfs_disarm();
    change_succeeds(d, change_explicit);
    faultvfs_counts(&n);
    snapshot(d, &before);
    faultvfs_arm(0, n.syncs);
    rc = change_explicit(d, &orgs, &e);
    faultvfs_counts(&n);
    faultvfs_disarm();
    d->faults++;
    assert_int_equal(n.failed_syncs, 1);
    assert_int_equal(rc, ERR_DB);
    assert_int_equal(e.code, ERR_DB);
    assert_int_equal(err_http_status(rc), 503);
    assert_false(store_in_transaction(d->c));
    /* the "crash": the files as they are now, before anything else */
    snprintf(cdir, sizeof(cdir), "%s/crash", d->dir);
    assert_int_equal(mkdir(cdir, 0700), 0);
    snprintf(cpath, sizeof(cpath), "%s/t.db", cdir);
    copy_file(d->path, cpath);
    snprintf(src, sizeof(src), "%s-wal", d->path);
    snprintf(dst, sizeof(dst), "%s-wal", cpath);
    copy_file(src, dst);
    snapshot(d, &after);
    assert_int_equal(after.orgs, before.orgs);
    assert_int_equal(after.audit, before.audit);
    chain_ok(d->c, before.audit);

    /* the copy, opened afresh (recovering its WAL) */
    assert_int_equal(store_open(cpath, NULL, 5000, 0, &cs, &e), ERR_OK);
    assert_int_equal(store_conn_get(cs, &cc, &e), ERR_OK);
    assert_int_equal(sqlite3_open_v2(cpath, &craw, SQLITE_OPEN_READONLY,
                                     NULL), SQLITE_OK);
    corgs = count_rows(craw, "SELECT count(*) FROM organisations");
    caudit = count_rows(craw, "SELECT count(*) FROM audit_log");
    sqlite3_close(craw);
    print_message("after the failed fsync, a crash copy holds %s of the "
                  "change\n", caudit == before.audit ? "none" : "all");
    assert_true((corgs == before.orgs && caudit == before.audit) ||
                (corgs == before.orgs + 1 && caudit == before.audit + 1));
    chain_ok(cc, caudit);
    store_close(cs);

    /* the live database goes on: the next commit overwrites those frames */
    change_succeeds(d, change_explicit);
}

/* A disk that fails every write from now on: every change fails with
 * ERR_DB and nothing written, reads and audit_verify still work, and
 * once it is back the next change succeeds with the chain intact. */
static void
test_disk_gone(void **state)
{
    struct db *d = *state;
    struct faultvfs_counts n;
    struct snap before, after;
    int64_t orgs;
    struct err e;
    int i;

    change_succeeds(d, change_explicit);
    snapshot(d, &before);
    faultvfs_arm_from(1, 1);
    for (i = 0; i < 3; i++) {
        assert_int_equal(change_explicit(d, &orgs, &e), ERR_DB);
        assert_int_equal(change_group(d, &orgs, &e), ERR_DB);
        assert_int_equal(change_audit_only(d, &orgs, &e), ERR_DB);
        assert_false(store_in_transaction(d->c));
        snapshot(d, &after);
        assert_int_equal(after.orgs, before.orgs);
        assert_int_equal(after.audit, before.audit);
        chain_ok(d->c, before.audit);
    }
    faultvfs_counts(&n);
    faultvfs_disarm();
    d->faults += n.failed_writes + n.failed_syncs;
    assert_true(n.failed_writes >= 9);
    change_succeeds(d, change_explicit);
    change_succeeds(d, change_group);
    change_succeeds(d, change_audit_only);
}

/* The shim itself: unarmed it only counts; armed, exactly the chosen
 * call fails, once, or from then on with faultvfs_arm_from. */
static void
test_shim_counts(void **state)
{
    struct db *d = *state;
    struct faultvfs_counts n;
    int64_t orgs;
    struct err e;

    faultvfs_disarm();
    faultvfs_counts(&n);
    assert_int_equal(n.writes + n.syncs, 0);
    assert_int_equal(change_explicit(d, &orgs, &e), ERR_OK);
    faultvfs_counts(&n);
    assert_true(n.writes > 0);
    assert_int_equal(n.failed_writes + n.failed_syncs, 0);
    /* one-shot: the second change after arming goes through */
    faultvfs_arm(1, 0);
    assert_int_equal(change_explicit(d, &orgs, &e), ERR_DB);
    assert_int_equal(change_explicit(d, &orgs, &e), ERR_OK);
    faultvfs_counts(&n);
    assert_int_equal(n.failed_writes, 1);
    /* from N on: both fail */
    faultvfs_arm_from(1, 0);
    assert_int_equal(change_explicit(d, &orgs, &e), ERR_DB);
    assert_int_equal(change_explicit(d, &orgs, &e), ERR_DB);
    faultvfs_counts(&n);
    assert_int_equal(n.failed_writes, 2);
    faultvfs_disarm();
    d->faults += 3;
    assert_int_equal(change_explicit(d, &orgs, &e), ERR_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shim_counts, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_explicit, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_group, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_audit_only, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_commit_fsync, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_disk_gone, db_setup,
                                        db_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);

    print_message("fault points exercised: %ld\n", total_faults);
    return failed;
}
