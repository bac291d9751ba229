/*
 * test_pg_store.c - the store on the PostgreSQL dialect (db_pg.c), on a
 * real server: the database URL comes from SEALD_PG_URL, set by
 * tests/pg/test_pg_store.py, which starts a throw-away PostgreSQL and runs
 * this program (ctest pg.store).  Without the variable the program
 * fails: a missing server never passes.
 *
 * It migrates an empty database to the current schema, writes and reads
 * organisations and accounts (a list through a scope: the {ids} set),
 * checks that a duplicate name is a unique failure, that a failed unit is
 * rolled back, that group commit from several threads writes every row,
 * that audit entries chain and verify, that a lock wait past the busy
 * time fails as busy, that a read-only open refuses writes, that
 * backup is refused, that of nodes claiming a job's lease at once
 * exactly one wins, and that a batch (pipeline mode) costs its few round
 * trips, fills its ids and fails whole.  Each entry's stored hash (a
 * BYTEA column read back) is printed as "HASH <seq> <hex>" for the
 * wrapper to compare with what the server holds.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit.h"
#include "store_int.h"
#include "store.h"
#include "store_account.h"
#include "store_audit.h"
#include "store_event.h"
#include "store_lease.h"

/* The PostgreSQL series compiled from sql/postgresql/ (pg_migrations.c). */
extern const struct db_migration db_pg_migrations[];
extern const size_t db_pg_migrations_count;

#define NTHREADS 4
#define NITEMS   10

static struct store *st;
static struct store_conn *conn;

static int
setup(void **state)
{
    const char *url = getenv("SEALD_PG_URL");
    struct err e;
    int applied = 0, version = 0;

    (void)state;
    if (url == NULL || *url == '\0') {
        /* a missing server is a failure, never a silent pass */
        fprintf(stderr, "SEALD_PG_URL is not set: run through ctest "
                "pg.store\n");
        return -1;
    }
    assert_int_equal(store_open(url, NULL, 5000, 1, &st, &e), ERR_OK);
    assert_int_equal(store_migrate(st, &applied, &e), ERR_OK);
    /* the whole compiled series, whatever its numbers (they may skip) */
    assert_int_equal(applied, (int)db_pg_migrations_count);
    assert_int_equal(store_conn_get(st, &conn, &e), ERR_OK);
    assert_int_equal(store_schema_version(conn, &version, &e), ERR_OK);
    assert_int_equal(version,
                     db_pg_migrations[db_pg_migrations_count - 1].version);
    /* a second migrate finds nothing to do */
    assert_int_equal(store_migrate(st, &applied, &e), ERR_OK);
    assert_int_equal(applied, 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    store_close(st);
    return 0;
}

struct names { int n; char name[8][STORE_NAME_MAX * 2]; int64_t id[8]; };

static err_code
org_seen(void *ctx, const struct store_org *o)
{
    struct names *s = ctx;

    if (s->n < 8) {
        snprintf(s->name[s->n], sizeof(s->name[0]), "%s", o->name);
        s->id[s->n] = o->id;
    }
    s->n++;
    return ERR_OK;
}

static err_code
account_seen(void *ctx, const struct store_account *a)
{
    struct names *s = ctx;

    if (s->n < 8) {
        snprintf(s->name[s->n], sizeof(s->name[0]), "%s", a->name);
        s->id[s->n] = a->id;
    }
    s->n++;
    return ERR_OK;
}

static int64_t root_id, branch_id, other_id;

/* A row callback that runs the very same list: the slot's statement is
 * being read, so db_prep hands out a twin, given back at its release. */
static err_code
org_seen_nested(void *ctx, const struct store_org *o)
{
    struct names inner;
    struct err e;
    int64_t scope[1] = {root_id};
    err_code rc;

    memset(&inner, 0, sizeof(inner));
    if ((rc = store_org_list(conn, scope, 1, -1, 0, 100, org_seen, &inner,
                             &e)) != ERR_OK)
        return rc;
    if (inner.n != 2)
        return err_set(&e, ERR_INTERNAL, "inner list saw %d", inner.n);
    return org_seen(ctx, o);
}

static void
test_orgs_and_accounts(void **state)
{
    struct store_org o;
    struct store_account a;
    struct names seen;
    int64_t id1, id2, dup = 0, scope[2];
    size_t live;
    struct err e;

    (void)state;
    assert_int_equal(store_org_insert(conn, 0, "Root", "region", "C1", 1000,
                                      &root_id, &e), ERR_OK);
    assert_int_equal(store_org_insert(conn, root_id, "Branch", "branch",
                                      NULL, 1001, &branch_id, &e), ERR_OK);
    assert_int_equal(store_org_insert(conn, 0, "Other", "agency", NULL, 1002,
                                      &other_id, &e), ERR_OK);
    assert_true(root_id > 0 && branch_id > root_id && other_id > branch_id);

    assert_int_equal(store_org_get(conn, branch_id, &o, &e), ERR_OK);
    assert_string_equal(o.name, "Branch");
    assert_string_equal(o.kind, "branch");
    assert_int_equal(o.parent_id, root_id);
    assert_int_equal(o.created_ms, 1001);
    assert_int_equal(o.disabled, 0);
    assert_int_equal(store_org_get(conn, other_id + 100, &o, &e),
                     ERR_NOT_FOUND);

    assert_int_equal(store_account_insert(conn, "alice", "person", "Alice",
                                          branch_id, NULL, NULL, 0, 2000,
                                          &id1, &e), ERR_OK);
    assert_int_equal(store_account_insert(conn, "bob", "person", "Bob",
                                          other_id, NULL, NULL, id1, 2001,
                                          &id2, &e), ERR_OK);
    assert_int_equal(store_account_get(conn, id1, &a, &e), ERR_OK);
    assert_string_equal(a.name, "alice");
    assert_string_equal(a.display_name, "Alice");
    assert_int_equal(a.org_id, branch_id);
    assert_int_equal(a.created_ms, 2000);

    /* a duplicate name: a unique failure, ERR_CONFLICT */
    assert_int_equal(store_account_insert(conn, "alice", "person", "Again",
                                          root_id, NULL, NULL, 0, 2002,
                                          &dup, &e), ERR_CONFLICT);
    assert_int_equal(db_last_fail(conn->dbc), DB_FAIL_UNIQUE);
    assert_int_equal(dup, 0);
    /* another constraint: a kind the CHECK refuses */
    assert_int_equal(store_account_insert(conn, "carol", "robot", "Carol",
                                          root_id, NULL, NULL, 0, 2003,
                                          &dup, &e), ERR_INVALID);
    assert_int_equal(db_last_fail(conn->dbc), DB_FAIL_CONSTRAINT);

    /* lists through a scope: the {ids $N} set */
    scope[0] = root_id;
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(store_org_list(conn, scope, 1, -1, 0, 100, org_seen,
                                    &seen, &e), ERR_OK);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.name[0], "Root");
    assert_string_equal(seen.name[1], "Branch");
    live = db_live_statements(conn->dbc);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(store_org_list(conn, scope, 1, -1, 0, 100,
                                    org_seen_nested, &seen, &e), ERR_OK);
    assert_int_equal(seen.n, 2);
    assert_int_equal(db_live_statements(conn->dbc), live);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(store_account_list(conn, scope, 1, 0, 0, 100,
                                        account_seen, &seen, &e), ERR_OK);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.name[0], "alice");
    scope[1] = other_id;
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(store_account_list(conn, scope, 2, 0, 0, 100,
                                        account_seen, &seen, &e), ERR_OK);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.id[0], id1);
    assert_int_equal(seen.id[1], id2);
}

struct unit_ctx { int64_t id; err_code fail_with; const char *name; };

static err_code
insert_org_unit(struct store_conn *c, void *ctx, struct err *e)
{
    struct unit_ctx *u = ctx;
    err_code rc;

    if ((rc = store_org_insert(c, 0, u->name, "agency", NULL, 3000, &u->id,
                               e)) != ERR_OK)
        return rc;
    if (u->fail_with != ERR_OK)
        return err_set(e, u->fail_with, "refused after the insert");
    return ERR_OK;
}

static void
test_failed_unit_rolls_back(void **state)
{
    struct unit_ctx u = {0, ERR_INVALID, "Undone"};
    struct store_org o;
    struct err e;

    (void)state;
    assert_int_equal(store_run(conn, insert_org_unit, &u, &e), ERR_INVALID);
    assert_true(u.id > 0);
    assert_false(store_in_transaction(conn));
    assert_int_equal(store_org_get(conn, u.id, &o, &e), ERR_NOT_FOUND);

    u.fail_with = ERR_OK;
    u.name = "Kept";
    assert_int_equal(store_run(conn, insert_org_unit, &u, &e), ERR_OK);
    assert_int_equal(store_org_get(conn, u.id, &o, &e), ERR_OK);
    assert_string_equal(o.name, "Kept");
}

struct worker {
    int     t, ok, refused;
    int64_t kept[NITEMS], undone[NITEMS];   /* ids answered ok, refused */
};

static void *
group_worker(void *arg)
{
    struct worker *w = arg;
    struct store_conn *c;
    struct err e;
    int i;

    if (store_conn_get(st, &c, &e) != ERR_OK)
        return NULL;
    for (i = 0; i < NITEMS; i++) {
        char name[32];
        struct unit_ctx u = {0, i % 5 == 4 ? ERR_INVALID : ERR_OK, name};
        err_code rc;

        snprintf(name, sizeof(name), "g%d-%d", w->t, i);
        rc = store_group_run(c, insert_org_unit, &u, &e);
        if (rc == ERR_OK)
            w->kept[w->ok++] = u.id;
        else if (rc == ERR_INVALID)
            w->undone[w->refused++] = u.id;
    }
    return NULL;
}

static void
test_group_commit_threads(void **state)
{
    pthread_t th[NTHREADS];
    struct worker w[NTHREADS];
    struct err e;
    struct store_org o;
    int i, j, ok = 0, refused = 0;

    (void)state;
    for (i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].t = i;
        assert_int_equal(pthread_create(&th[i], NULL, group_worker, &w[i]),
                         0);
    }
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        refused += w[i].refused;
    }
    assert_int_equal(ok, NTHREADS * NITEMS * 4 / 5);
    assert_int_equal(refused, NTHREADS * NITEMS / 5);
    /* what was answered ERR_OK is there; what was refused is not */
    for (i = 0; i < NTHREADS; i++) {
        for (j = 0; j < w[i].ok; j++) {
            assert_int_equal(store_org_get(conn, w[i].kept[j], &o, &e),
                             ERR_OK);
            assert_int_equal(o.name[0], 'g');
        }
        for (j = 0; j < w[i].refused; j++)
            assert_int_equal(store_org_get(conn, w[i].undone[j], &o, &e),
                             ERR_NOT_FOUND);
    }
}

/* ---- batches (db.h; db_pg.c's pipeline mode) ---- */

static err_code print_hash(void *ctx, const struct store_audit_entry *en);

/* Send an organisation insert later: *id set when its result is read.
 * parent 0 for none. */
static err_code
org_insert_under_later(struct store_conn *c, int64_t parent,
                       const char *name, int64_t *id, struct err *e)
{
    struct db_stmt *q = db_prep(c->dbc, DB_ORG_INSERT, e);

    if (q == NULL)
        return db_prep_failed(e);
    db_bind_id(q, 1, parent);
    db_bind_text(q, 2, name);
    db_bind_text(q, 3, "unit");
    db_bind_text(q, 4, NULL);
    db_bind_i64(q, 5, 1);
    return db_step_later(q, id, e, ERR_OK, NULL);
}

static err_code
org_insert_later(struct store_conn *c, const char *name, int64_t *id,
                 struct err *e)
{
    return org_insert_under_later(c, 0, name, id, e);
}

/* A write that must change a row and changes none: seal 0 does not exist. */
static err_code
touch_missing_seal_later(struct store_conn *c, struct err *e)
{
    struct db_stmt *q = db_prep(c->dbc, DB_SEAL_TOUCH, e);

    if (q == NULL)
        return db_prep_failed(e);
    db_bind_i64(q, 1, 1);
    db_bind_i64(q, 2, 0);
    return db_step_later(q, NULL, e, ERR_CONFLICT, "no seal %d", 0);
}

/* Ten inserts sent without waiting cost two round trips (the check and
 * the commit) whatever their number, and their ids arrive at the check; a
 * read in the middle costs one and fills the ids sent before it. */
static void
test_batch_round_trips(void **state)
{
    struct db_conn *dc = conn->dbc;
    int64_t ids[10];
    struct store_org o;
    struct err e;
    uint64_t t0;
    char name[32];
    int i;

    (void)state;
    assert_int_equal(db_batch_supported(dc), 1);
    /* prepared before, so the count below is the batch's alone */
    assert_int_equal(org_insert_later(conn, "batch-warm", &ids[0], &e),
                     ERR_OK);
    t0 = db_round_trips(dc);
    assert_int_equal(db_batch_begin(dc, &e), ERR_OK);
    assert_true(db_in_batch(dc));
    assert_true(db_in_transaction(dc));
    for (i = 0; i < 10; i++) {
        ids[i] = -1;
        snprintf(name, sizeof(name), "batch-%d", i);
        assert_int_equal(org_insert_later(conn, name, &ids[i], &e), ERR_OK);
        assert_int_equal(ids[i], -1);       /* not read yet */
    }
    assert_int_equal(db_round_trips(dc), t0);
    assert_int_equal(db_batch_check(dc, &e), ERR_OK);
    assert_int_equal(db_round_trips(dc), t0 + 1);
    for (i = 0; i < 10; i++)
        assert_true(ids[i] > 0);
    assert_int_equal(db_commit(dc, &e), ERR_OK);
    assert_int_equal(db_round_trips(dc), t0 + 2);
    assert_false(db_in_batch(dc));
    assert_false(db_in_transaction(dc));
    for (i = 0; i < 10; i++)
        assert_int_equal(store_org_get(conn, ids[i], &o, &e), ERR_OK);

    /* a read inside: one round trip, the ids before it filled by then */
    t0 = db_round_trips(dc);
    assert_int_equal(db_batch_begin(dc, &e), ERR_OK);
    ids[0] = ids[1] = -1;
    assert_int_equal(org_insert_later(conn, "batch-r0", &ids[0], &e), ERR_OK);
    assert_int_equal(store_org_get(conn, ids[2], &o, &e), ERR_OK);
    assert_int_equal(db_round_trips(dc), t0 + 1);
    assert_true(ids[0] > 0);
    assert_string_equal(o.name, "batch-2");
    assert_int_equal(org_insert_later(conn, "batch-r1", &ids[1], &e), ERR_OK);
    assert_int_equal(db_commit(dc, &e), ERR_OK);
    assert_int_equal(db_round_trips(dc), t0 + 3);
    assert_true(ids[1] > 0);
    assert_int_equal(store_org_get(conn, ids[1], &o, &e), ERR_OK);
}

/* A write that changes nothing where it must, or a database error, fails
 * the batch with its own code and message, and nothing of the batch is
 * written: not before it, not after it. */
static void
test_batch_failures(void **state)
{
    struct db_conn *dc = conn->dbc;
    int64_t before = 0, after = 0, dup = 0;
    struct store_org o;
    struct err e;

    (void)state;
    assert_int_equal(db_batch_begin(dc, &e), ERR_OK);
    assert_int_equal(org_insert_later(conn, "undone-1", &before, &e), ERR_OK);
    assert_int_equal(touch_missing_seal_later(conn, &e), ERR_OK);
    assert_int_equal(org_insert_later(conn, "undone-2", &after, &e), ERR_OK);
    assert_int_equal(db_batch_check(dc, &e), ERR_CONFLICT);
    assert_string_equal(e.msg, "no seal 0");
    /* the batch stays failed; commit refuses and rolls back */
    assert_int_equal(db_commit(dc, &e), ERR_CONFLICT);
    assert_false(db_in_transaction(dc));
    assert_true(before > 0);
    assert_int_equal(store_org_get(conn, before, &o, &e), ERR_NOT_FOUND);
    if (after > 0)
        assert_int_equal(store_org_get(conn, after, &o, &e), ERR_NOT_FOUND);

    /* a foreign key the server refuses: it skips what follows */
    before = after = 0;
    assert_int_equal(db_batch_begin(dc, &e), ERR_OK);
    assert_int_equal(org_insert_later(conn, "undone-3", &before, &e), ERR_OK);
    assert_int_equal(org_insert_under_later(conn, INT64_C(999999999),
                                            "orphan", &dup, &e), ERR_OK);
    assert_int_equal(org_insert_later(conn, "undone-4", &after, &e), ERR_OK);
    assert_int_equal(db_batch_check(dc, &e), ERR_INVALID);
    assert_int_equal(db_last_fail(dc), DB_FAIL_CONSTRAINT);
    assert_int_equal(dup, 0);
    db_rollback(dc);
    assert_false(db_in_batch(dc));
    assert_false(db_in_transaction(dc));
    assert_int_equal(store_org_get(conn, before, &o, &e), ERR_NOT_FOUND);
    assert_int_equal(after, 0);     /* skipped by the server */
    /* the connection is an ordinary one again */
    assert_int_equal(store_ping(conn, &e), ERR_OK);
}

/* The group commit runs a group as a batch: one unit of sent writes
 * costs three round trips with its audit entry (the head claim, the
 * check, the commit), and its id arrives by the time it returns.  Its
 * outbox event (event.c: the head bump and the insert) is sent too and
 * costs none. */
struct batch_unit {
    int64_t id;
    int     runs;
};

static err_code
batch_unit_work(struct store_conn *c, void *ctx, struct err *e)
{
    struct batch_unit *u = ctx;
    struct audit_actor who = {0};
    struct audit_event ev = {"test.batch", "org", "x", AUDIT_OK, NULL, NULL};
    err_code rc;

    struct store_event out;
    static int made;                /* event ids are unique */

    u->runs++;
    memset(&out, 0, sizeof(out));
    snprintf(out.event_id, sizeof(out.event_id), "batch-%d", ++made);
    snprintf(out.type, sizeof(out.type), "test.batch");
    snprintf(out.target_type, sizeof(out.target_type), "org");
    snprintf(out.target_id, sizeof(out.target_id), "x");
    snprintf(out.data, sizeof(out.data), "{}");
    out.ts_ms = u->runs;
    if ((rc = audit_queue(c, e)) != ERR_OK ||
        (rc = org_insert_later(c, "batch-group", &u->id, e)) != ERR_OK ||
        (rc = audit_append(c, &who, &ev, e)) != ERR_OK)
        return rc;
    return store_event_append(c, &out, NULL, 0, 0, e);
}

static void
test_group_batch(void **state)
{
    struct batch_unit u = {0, 0};
    struct audit_verify_report r;
    struct store_org o;
    struct err e;
    uint64_t t0;
    int n = 0;

    (void)state;
    /* warm: every statement of the unit prepared */
    assert_int_equal(store_group_run(conn, batch_unit_work, &u, &e), ERR_OK);
    u.id = 0;
    u.runs = 0;
    t0 = db_round_trips(conn->dbc);
    assert_int_equal(store_group_run(conn, batch_unit_work, &u, &e), ERR_OK);
    assert_int_equal(u.runs, 1);            /* the batch held: no rerun */
    assert_int_equal(db_round_trips(conn->dbc), t0 + 3);
    assert_true(u.id > 0);
    assert_int_equal(store_org_get(conn, u.id, &o, &e), ERR_OK);
    assert_string_equal(o.name, "batch-group");
    /* both units' events, in order: the warm-up's seq 1, this one's 2 */
    {
        int64_t head = 0;
        assert_int_equal(store_event_head(conn, &head, &e), ERR_OK);
        assert_int_equal(head, 2);
    }
    /* the two entries chain onto test_audit_chain's five: printed for
     * the wrapper to hold against the server's rows and head */
    memset(&r, 0, sizeof(r));
    assert_int_equal(audit_verify(conn, NULL, &r, &e), ERR_OK);
    assert_true(r.ok);
    assert_int_equal(r.entries, 7);
    assert_int_equal(store_audit_walk(conn, 5, print_hash, &n, &e), ERR_OK);
    assert_int_equal(n, 2);
}

static err_code
print_hash(void *ctx, const struct store_audit_entry *en)
{
    size_t i;

    (*(int *)ctx)++;
    assert_non_null(en->hash);
    assert_int_equal(en->hash_len, STORE_AUDIT_HASH_LEN);
    printf("HASH %lld ", (long long)en->seq);
    for (i = 0; i < en->hash_len; i++)
        printf("%02x", en->hash[i]);
    printf("\n");
    return ERR_OK;
}

static void
test_audit_chain(void **state)
{
    struct audit_actor who = {.account_id = 0, .role = "operator",
                              .client_addr = "local"};
    struct audit_verify_report r;
    uint8_t head[STORE_AUDIT_HASH_LEN];
    int64_t seq = 0;
    int has = 0, n = 0, i;
    struct err e;

    (void)state;
    for (i = 0; i < 5; i++) {
        char target[16];
        struct audit_event ev = {"account.create", "account", target,
                                 AUDIT_OK, NULL, NULL};

        snprintf(target, sizeof(target), "%d", i + 1);
        assert_int_equal(audit_append(conn, &who, &ev, &e), ERR_OK);
    }
    memset(&r, 0, sizeof(r));
    assert_int_equal(audit_verify(conn, NULL, &r, &e), ERR_OK);
    assert_true(r.ok);
    assert_int_equal(r.entries, 5);
    assert_int_equal(r.head_seq, 5);

    /* the stored hashes, read back from the BYTEA column */
    assert_int_equal(store_audit_head(conn, &seq, head, &has, &e), ERR_OK);
    assert_int_equal(seq, 5);
    assert_true(has);
    assert_memory_equal(head, r.head_hash, STORE_AUDIT_HASH_LEN);
    assert_int_equal(store_audit_walk(conn, 0, print_hash, &n, &e), ERR_OK);
    assert_int_equal(n, 5);
    fflush(stdout);
}

/* Inside a unit on conn that has claimed the chain's head row, a claim
 * through a second store (its own connection, a 100 ms lock wait) waits on
 * that row and fails as busy (lock_timeout, 55P03); so does a whole append
 * there (ERR_DB, its unit rolled back). */
static err_code
append_twice(struct store_conn *c, void *ctx, struct err *e)
{
    struct audit_actor who = {.role = "operator", .client_addr = "local"};
    struct audit_event ev = {"account.update", "account", "1", AUDIT_OK,
                             NULL, NULL};
    struct store_conn *other = ctx;
    uint8_t prev[STORE_AUDIT_HASH_LEN];
    int64_t seq = 0;
    int has = 0;
    enum db_fail f;
    struct err e2;
    err_code rc;

    if ((rc = audit_append(c, &who, &ev, e)) != ERR_OK)
        return rc;
    if ((rc = db_begin(other->dbc, e)) != ERR_OK)
        return rc;
    rc = store_audit_head_claim(other, &seq, prev, &has, &e2);
    f = db_last_fail(other->dbc);
    db_rollback(other->dbc);
    if (rc != ERR_DB || f != DB_FAIL_BUSY)
        return err_set(e, ERR_INTERNAL, "second claim: %d, class %d", rc,
                       (int)f);
    if ((rc = audit_append(other, &who, &ev, &e2)) != ERR_DB)
        return err_set(e, ERR_INTERNAL, "second append: %d", rc);
    return err_set(e, ERR_CONFLICT, "undo the first append");
}

static void
test_busy_head(void **state)
{
    struct audit_verify_report r;
    struct store *s2;
    struct store_conn *c2;
    struct err e;

    (void)state;
    assert_int_equal(store_open(getenv("SEALD_PG_URL"), NULL, 100, 0, &s2, &e),
                     ERR_OK);
    assert_int_equal(store_conn_get(s2, &c2, &e), ERR_OK);
    if (store_run(conn, append_twice, c2, &e) != ERR_CONFLICT)
        fail_msg("unit: %s", e.msg);
    assert_false(store_in_transaction(c2));
    store_close(s2);
    /* both appends undone: the chain is the five entries it was */
    memset(&r, 0, sizeof(r));
    assert_int_equal(audit_verify(conn, NULL, &r, &e), ERR_OK);
    assert_true(r.ok);
    assert_int_equal(r.entries, 5);
}

/* A read-only open reads and refuses writes (SET
 * default_transaction_read_only). */
static void
test_read_only(void **state)
{
    struct store *ro;
    struct store_conn *c;
    int64_t id = 0;
    int version = 0;
    struct err e;

    (void)state;
    assert_int_equal(store_open_readonly(getenv("SEALD_PG_URL"), NULL, &ro, &c, &e),
                     ERR_OK);
    assert_int_equal(store_schema_version(c, &version, &e), ERR_OK);
    assert_int_equal(version,
                     db_pg_migrations[db_pg_migrations_count - 1].version);
    assert_int_equal(store_org_insert(c, 0, "Nope", "agency", NULL, 4000,
                                      &id, &e), ERR_DB);
    assert_int_equal(id, 0);
    store_close(ro);
}

static void
test_backup_refused(void **state)
{
    struct err e;

    (void)state;
    assert_int_equal(store_backup(conn, "/nonexistent/x.db", &e),
                     ERR_UNSUPPORTED);
}

/* One claim of the "seals" lease: store_run's work. */
struct claim {
    const char *holder;
    int64_t     now, until;
    int         won;
};

static err_code
claim_work(struct store_conn *c, void *ctx, struct err *e)
{
    struct claim *k = ctx;

    return store_lease_claim(c, "seals", k->holder, k->now, k->until,
                             &k->won, e);
}

#define NCLAIMERS 8
static pthread_barrier_t claim_gate;

/* A node of its own: its connection, one claim when all are ready. */
static void *
claimer(void *arg)
{
    struct claim *k = arg;
    struct store_conn *c;
    struct err e;

    if (store_conn_get(st, &c, &e) != ERR_OK)
        return arg;
    pthread_barrier_wait(&claim_gate);
    if (store_run(c, claim_work, k, &e) != ERR_OK)
        k->won = -1;
    return NULL;
}

static void
test_job_leases(void **state)
{
    struct claim k = {"node-a", 1000, 2000, 0};
    struct claim ks[NCLAIMERS];
    pthread_t t[NCLAIMERS];
    char names[NCLAIMERS][16];
    struct err e;
    int i, winners = 0;

    (void)state;
    /* run out (never held): won; another before it runs out: lost; the
     * holder again: won (renewed); after it runs out: another wins */
    assert_int_equal(store_run(conn, claim_work, &k, &e), ERR_OK);
    assert_int_equal(k.won, 1);
    k = (struct claim){"node-b", 1500, 2500, 1};
    assert_int_equal(store_run(conn, claim_work, &k, &e), ERR_OK);
    assert_int_equal(k.won, 0);
    k = (struct claim){"node-a", 1900, 2900, 0};
    assert_int_equal(store_run(conn, claim_work, &k, &e), ERR_OK);
    assert_int_equal(k.won, 1);
    k = (struct claim){"node-b", 2900, 3900, 0};
    assert_int_equal(store_run(conn, claim_work, &k, &e), ERR_OK);
    assert_int_equal(k.won, 1);
    /* given back: anyone wins at once */
    assert_int_equal(store_lease_release(conn, "seals", "node-b", &e),
                     ERR_OK);
    k = (struct claim){"node-c", 3000, 4000, 0};
    assert_int_equal(store_run(conn, claim_work, &k, &e), ERR_OK);
    assert_int_equal(k.won, 1);
    /* eight nodes at once, the lease run out: exactly one wins */
    assert_int_equal(pthread_barrier_init(&claim_gate, NULL, NCLAIMERS), 0);
    for (i = 0; i < NCLAIMERS; i++) {
        snprintf(names[i], sizeof(names[i]), "racer-%d", i);
        ks[i] = (struct claim){names[i], 5000, 6000, 0};
        assert_int_equal(pthread_create(&t[i], NULL, claimer, &ks[i]), 0);
    }
    for (i = 0; i < NCLAIMERS; i++) {
        void *ret = NULL;

        pthread_join(t[i], &ret);
        assert_null(ret);
        assert_true(ks[i].won == 0 || ks[i].won == 1);
        winners += ks[i].won;
    }
    pthread_barrier_destroy(&claim_gate);
    assert_int_equal(winners, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orgs_and_accounts),
        cmocka_unit_test(test_failed_unit_rolls_back),
        cmocka_unit_test(test_group_commit_threads),
        cmocka_unit_test(test_audit_chain),
        cmocka_unit_test(test_busy_head),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_backup_refused),
        cmocka_unit_test(test_job_leases),
        /* last: they append to the chain the tests above count */
        cmocka_unit_test(test_batch_round_trips),
        cmocka_unit_test(test_batch_failures),
        cmocka_unit_test(test_group_batch),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
