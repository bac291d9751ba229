/*
 * store.c - the store's shared part (store.h): opening it, each thread's
 * connection, the transaction (store_run, the one place that begins and
 * commits, and the group commit), migrations; and the queries of
 * organisations, accounts, roles, deputies, authentication failures and
 * credentials (store_account.h).  Every query is a statement id of the
 * database layer (db.h); the SQL text is in db_stmt.c and nothing here
 * knows the dialect.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"
#include "store_account.h"
#include "metrics.h"
#include "util.h"

err_code
store_open(const char *path, const char *password_file,
           long busy_timeout_ms, int create, struct store **out,
           struct err *e)
{
    struct store *s;
    err_code rc;

    *out = NULL;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->glock, NULL);
    s->gtail = &s->ghead;
    if ((rc = db_open(path, password_file, busy_timeout_ms, create, 0,
                       &s->db, e))
        != ERR_OK) {
        store_close(s);
        return rc;
    }
    *out = s;
    return ERR_OK;
}

err_code
store_open_readonly(const char *path, const char *password_file,
                    struct store **out, struct store_conn **conn,
                    struct err *e)
{
    struct store *s;
    err_code rc;

    *out = NULL;
    *conn = NULL;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->glock, NULL);
    s->gtail = &s->ghead;
    if ((rc = db_open(path, password_file, 5000, 0, 1, &s->db, e)) != ERR_OK ||
        (rc = store_conn_get(s, conn, e)) != ERR_OK ||
        (rc = store_ping(*conn, e)) != ERR_OK) {
        store_close(s);
        return rc;
    }
    *out = s;
    return ERR_OK;
}

void
store_close(struct store *s)
{
    if (s == NULL)
        return;
    db_close(s->db);
    pthread_mutex_destroy(&s->glock);
    free(s);
}

/* Contract: store.h.  The store's state for a connection is made on its
 * first use and kept with it (db_conn_user), so it lives and dies with
 * the connection. */
err_code
store_conn_get(struct store *s, struct store_conn **out, struct err *e)
{
    struct db_conn *dc;
    struct store_conn *c;
    err_code rc;

    *out = NULL;
    if ((rc = db_conn_get(s->db, &dc, e)) != ERR_OK)
        return rc;
    if ((c = db_conn_user(dc)) == NULL) {
        if ((c = calloc(1, sizeof(*c))) == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        c->dbc = dc;
        c->owner = s;
        db_conn_set_user(dc, c);
    }
    *out = c;
    return ERR_OK;
}

/* The transaction primitives.  Only store_run, store_read, store_group_run and
 * store_migrate use them: nothing outside this file begins, commits or
 * rolls back (store.h says why). */
static err_code
txn_begin(struct store_conn *c, struct err *e)
{
    return db_begin(c->dbc, e);
}

static err_code
txn_commit(struct store_conn *c, struct err *e)
{
    return db_commit(c->dbc, e);
}

static void
txn_rollback(struct store_conn *c)
{
    db_rollback(c->dbc);
}

/* Contract: store.h. */
err_code
store_run(struct store_conn *c, store_work_fn fn, void *ctx, struct err *e)
{
    err_code rc;

    if (db_in_transaction(c->dbc))
        return err_set(e, ERR_INTERNAL, "a unit of work inside another");
    if ((rc = txn_begin(c, e)) != ERR_OK)
        return rc;
    if ((rc = fn(c, ctx, e)) == ERR_OK && !db_in_transaction(c->dbc))
        rc = err_set(e, ERR_DB, "transaction lost");
    if (rc == ERR_OK && (rc = txn_commit(c, e)) == ERR_OK)
        return ERR_OK;
    txn_rollback(c);
    return rc;
}

/* Contract: store.h. */
err_code
store_read(struct store_conn *c, store_work_fn fn, void *ctx, struct err *e)
{
    err_code rc;

    if (db_in_transaction(c->dbc))
        return err_set(e, ERR_INTERNAL, "a read inside a unit of work");
    if ((rc = db_begin_read(c->dbc, e)) != ERR_OK)
        return rc;
    if ((rc = fn(c, ctx, e)) == ERR_OK && !db_in_transaction(c->dbc))
        rc = err_set(e, ERR_DB, "transaction lost");
    if (rc == ERR_OK && (rc = txn_commit(c, e)) == ERR_OK)
        return ERR_OK;
    txn_rollback(c);
    return rc;
}

/* ---- group commit -------------------------------------------------------
 *
 * A durable commit costs an fsync, and under load most of a small write
 * transaction's time is that fsync.  store_group_run lets concurrent
 * writers share one: each queues its work; whichever thread finds nobody
 * leading takes the whole queue, runs every item in one transaction (each
 * in a savepoint of its own, so one item's failure undoes only its own
 * writes), commits once, wakes the others and hands the lead to the first
 * that queued meanwhile.  Items that arrive during
 * that commit form the next group.  Nobody waits on purpose: groups are
 * as large as the load makes them, and a lone writer commits at once.
 * Every answer is released only after its group's commit returned.
 */
struct store_group_item {
    store_work_fn            fn;
    void                    *ctx;
    err_code                 rc;
    struct err               err;
    enum { GI_QUEUED, GI_LEAD, GI_DONE } state;
    pthread_cond_t           cv;        /* its thread waits here */
    struct store_group_item *next;
};

/* Run one group (a list taken off the queue) on connection c, the plain
 * way: each item in a savepoint of its own.  A database error inside an
 * item, or a failed commit, fails every item: SQLite may have rolled the
 * whole transaction back by then. */
static void
group_plain(struct store_conn *c, struct store_group_item *g)
{
    struct store_group_item *it;
    struct err e;
    err_code rc;

    err_clear(&e);
    if ((rc = txn_begin(c, &e)) != ERR_OK)
        goto fail;
    for (it = g; it != NULL; it = it->next) {
        err_clear(&it->err);
        if ((rc = db_savepoint(c->dbc, &e)) != ERR_OK)
            goto fail;
        it->rc = it->fn(c, it->ctx, &it->err);
        if (it->rc == ERR_DB || !db_in_transaction(c->dbc)) {
            if (it->rc == ERR_OK)
                err_set(&it->err, ERR_DB, "transaction lost");
            e = it->err;
            rc = ERR_DB;
            goto fail;
        }
        if (it->rc != ERR_OK &&
            (rc = db_savepoint_undo(c->dbc, &e)) != ERR_OK)
            goto fail;
        if ((rc = db_savepoint_end(c->dbc, &e)) != ERR_OK)
            goto fail;
    }
    if ((rc = txn_commit(c, &e)) == ERR_OK)
        return;
fail:
    txn_rollback(c);
    for (it = g; it != NULL; it = it->next) {
        it->rc = rc;
        it->err = e;
    }
}

/* What group_batch found. */
enum batch_outcome {
    BATCH_COMMITTED,    /* every item done and durable                  */
    BATCH_UNDONE,       /* nothing written: run the group the plain way  */
    BATCH_FAILED        /* the commit failed: every item fails with it   */
};

/* Run one group as a batch (db.h; PostgreSQL): no savepoints, every write
 * sent without waiting for its result, the audit head read once for the
 * group (store_int.h), every result checked once, then COMMIT: a group
 * costs about three round trips, not a few per statement.  Signing uses
 * optimistic writes that carry their own checks (store_sign.c), so a
 * batch fails only when an item would fail.  Anything short of the
 * COMMIT failing (an item's work, one result) rolls the batch back and
 * the group is run again the plain way, where each item's failure is its
 * own and worded by the item.  A COMMIT that fails fails the group, as in
 * group_plain: whether it took effect is not ours to guess again. */
static enum batch_outcome
group_batch(struct store_conn *c, struct store_group_item *g)
{
    struct store_group_item *it;
    enum batch_outcome out = BATCH_UNDONE;
    struct err e;
    err_code rc;

    err_clear(&e);
    c->head_known = c->head_claimed = 0;
    if (db_batch_begin(c->dbc, &e) != ERR_OK)
        goto done;
    for (it = g; it != NULL; it = it->next) {
        err_clear(&it->err);
        if ((it->rc = it->fn(c, it->ctx, &it->err)) != ERR_OK)
            goto done;
    }
    if (db_batch_check(c->dbc, &e) != ERR_OK)
        goto done;
    if ((rc = txn_commit(c, &e)) == ERR_OK) {
        out = BATCH_COMMITTED;
        goto done;
    }
    out = BATCH_FAILED;
    for (it = g; it != NULL; it = it->next) {
        it->rc = rc;
        it->err = e;
    }
done:
    if (out == BATCH_UNDONE)
        txn_rollback(c);
    c->head_known = c->head_claimed = 0;
    return out;
}

/* Run one group: as a batch where the database can, else (or when the
 * batch was undone) the plain way. */
static void
group_run(struct store_conn *c, struct store_group_item *g)
{
    if (db_batch_supported(c->dbc) && group_batch(c, g) != BATCH_UNDONE)
        return;
    group_plain(c, g);
}

/* Contract: see store.h.  Each waiter sleeps on its own condition and is
 * woken only when its group is done or when it is to lead the next one,
 * so a commit wakes exactly the threads it answers. */
err_code
store_group_run(struct store_conn *c, store_work_fn fn, void *ctx,
                struct err *e)
{
    struct store *s = c->owner;
    struct store_group_item me, *g, *it, *next;

    memset(&me, 0, sizeof(me));
    me.fn = fn;
    me.ctx = ctx;
    me.state = GI_QUEUED;
    pthread_cond_init(&me.cv, NULL);
    pthread_mutex_lock(&s->glock);
    *s->gtail = &me;
    s->gtail = &me.next;
    if (!s->leading) {
        s->leading = 1;
        me.state = GI_LEAD;
    }
    while (me.state == GI_QUEUED)
        pthread_cond_wait(&me.cv, &s->glock);
    if (me.state == GI_LEAD) {
        g = s->ghead;                   /* the whole queue, me included */
        s->ghead = NULL;
        s->gtail = &s->ghead;
        pthread_mutex_unlock(&s->glock);
        {
            size_t n = 0;
            for (it = g; it != NULL; it = it->next)
                n++;
            metrics_group_commit(n);
        }
        group_run(c, g);
        pthread_mutex_lock(&s->glock);
        for (it = g; it != NULL; it = next) {
            next = it->next;            /* it may be gone once unlocked */
            it->state = GI_DONE;
            if (it != &me)
                pthread_cond_signal(&it->cv);
        }
        if (s->ghead != NULL) {         /* arrived meanwhile: next group */
            s->ghead->state = GI_LEAD;
            pthread_cond_signal(&s->ghead->cv);
        } else {
            s->leading = 0;
        }
    }
    pthread_mutex_unlock(&s->glock);
    pthread_cond_destroy(&me.cv);
    if (me.rc != ERR_OK && e != NULL)
        *e = me.err;
    return me.rc;
}

uint64_t
store_round_trips(struct store_conn *c)
{
    return c != NULL ? db_round_trips(c->dbc) : 0;
}

err_code
store_ping(struct store_conn *c, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_PING, e);

    if (st == NULL)
        return db_prep_failed(e);
    return db_step_done(st, e);
}

err_code
store_schema_version(struct store_conn *c, int *version, struct err *e)
{
    struct db_stmt *st;
    err_code rc;

    *version = 0;
    if ((st = db_prep(c->dbc, DB_SCHEMA_VERSION, e)) == NULL)
        return db_prep_failed(e);
    if ((rc = db_step_row(st, "schema version", e)) != ERR_OK)
        return rc;
    *version = db_col_int(st, 0);
    db_release(st);
    return ERR_OK;
}

int
store_schema_latest(struct store_conn *c)
{
    const struct db_migration *list;
    size_t n;

    db_migrations(c->dbc, &list, &n);
    return n > 0 ? list[n - 1].version : 0;
}

static err_code migrate_locked(struct store_conn *c, int *count,
                               struct err *e);

err_code
store_schema_probe(struct store *s, int *version, struct err *e)
{
    struct store_conn *c;
    struct db_stmt *st;
    err_code rc;

    *version = 0;
    if ((rc = store_conn_get(s, &c, e)) != ERR_OK)
        return rc;
    if ((st = db_prep(c->dbc, DB_SCHEMA_CREATE, e)) == NULL)
        return db_prep_failed(e);
    if ((rc = db_step_done(st, e)) != ERR_OK)
        return rc;
    return store_schema_version(c, version, e);
}

/* Contract: store.h.  Each migration and its schema_version row commit
 * together: a crash leaves either both or neither.  The schema lock is held
 * from before the version is read until the last migration commits. */
err_code
store_migrate(struct store *s, int *applied, struct err *e)
{
    struct store_conn *c;
    int count = 0;
    err_code rc;

    if ((rc = store_conn_get(s, &c, e)) != ERR_OK ||
        (rc = db_schema_lock(c->dbc, 1, e)) != ERR_OK)
        return rc;
    rc = migrate_locked(c, &count, e);
    db_schema_lock(c->dbc, 0, NULL);
    if (rc == ERR_OK && applied != NULL)
        *applied = count;
    return rc;
}

static err_code
migrate_locked(struct store_conn *c, int *count, struct err *e)
{
    const struct db_migration *list;
    struct db_stmt *st;
    size_t i, n;
    int have;
    err_code rc;

    if ((st = db_prep(c->dbc, DB_SCHEMA_CREATE, e)) == NULL)
        return db_prep_failed(e);
    if ((rc = db_step_done(st, e)) != ERR_OK ||
        (rc = store_schema_version(c, &have, e)) != ERR_OK)
        return rc;
    db_migrations(c->dbc, &list, &n);
    for (i = 0; i < n; i++) {
        const struct db_migration *m = &list[i];

        if (m->version <= have)
            continue;
        if ((rc = db_begin(c->dbc, e)) != ERR_OK)
            return rc;
        if ((rc = db_exec_script(c->dbc, m->sql, e)) != ERR_OK) {
            db_rollback(c->dbc);
            return err_wrap(e, ERR_DB, "migration %s", m->name);
        }
        if ((st = db_prep(c->dbc, DB_SCHEMA_INSERT, e)) == NULL) {
            db_rollback(c->dbc);
            return db_prep_failed(e);
        }
        db_bind_int(st, 1, m->version);
        db_bind_text(st, 2, m->name);
        db_bind_i64(st, 3, util_now_ms());
        if ((rc = db_step_done(st, e)) != ERR_OK ||
            (rc = db_commit(c->dbc, e)) != ERR_OK) {
            db_rollback(c->dbc);
            return rc;
        }
        (*count)++;
    }
    return ERR_OK;
}

/* ---- organisations ---- */

static void
org_row(struct db_stmt *st, struct store_org *o)
{
    o->id = db_col_i64(st, 0);
    o->parent_id = db_col_i64(st, 1);
    db_col_copy(st, 2, o->name, sizeof(o->name));
    db_col_copy(st, 3, o->kind, sizeof(o->kind));
    db_col_copy(st, 4, o->credit_code, sizeof(o->credit_code));
    o->disabled = db_col_int(st, 5);
    o->created_ms = db_col_i64(st, 6);
}

err_code
store_org_insert(struct store_conn *c, int64_t parent_id, const char *name,
                 const char *kind, const char *credit_code, int64_t now_ms,
                 int64_t *id_out, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ORG_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_id(st, 1, parent_id);
    db_bind_text(st, 2, name);
    db_bind_text(st, 3, kind);
    db_bind_text(st, 4, credit_code);
    db_bind_i64(st, 5, now_ms);
    return db_step_id(st, id_out, e);
}

err_code
store_org_get(struct store_conn *c, int64_t id, struct store_org *out,
              struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ORG_GET, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "organisation", e)) != ERR_OK)
        return rc;
    org_row(st, out);
    db_release(st);
    return ERR_OK;
}

err_code
store_org_list(struct store_conn *c, const int64_t *scope, size_t nscope,
               int64_t parent_id, int64_t after, int limit, store_org_fn fn,
               void *ctx, struct err *e)
{
    struct db_stmt *st;
    struct store_org o;
    enum db_row row;
    err_code rc;

    if (nscope > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "organisation list: scope too large");
    if ((st = db_prep(c->dbc, DB_ORG_LIST, e)) == NULL)
        return db_prep_failed(e);
    db_bind_id_set(st, 1, scope, nscope);
    db_bind_i64(st, 2, after);
    db_bind_i64(st, 3, parent_id);
    db_bind_int(st, 4, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        org_row(st, &o);
        if ((rc = fn(ctx, &o)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_org_update(struct store_conn *c, int64_t id, const char *name,
                 const char *credit_code, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ORG_UPDATE, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, name);
    db_bind_text(st, 2, credit_code);
    db_bind_i64(st, 3, id);
    return db_step_update_one(st, "organisation", e);
}

err_code
store_org_set_disabled(struct store_conn *c, int64_t id, int *n,
                       struct err *e)
{
    struct store_org org;
    struct db_stmt *st;
    err_code rc;

    if ((rc = store_org_get(c, id, &org, e)) != ERR_OK)
        return rc;
    if ((st = db_prep(c->dbc, DB_ORG_SET_DISABLED, e)) == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_done(st, e)) != ERR_OK)
        return rc;
    if (n != NULL)
        *n = (int)db_changes(c->dbc);
    return ERR_OK;
}

err_code
store_org_disabled_within(struct store_conn *c, int64_t org, int *yes,
                          struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ORG_DISABLED_WITHIN, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, org);
    if ((rc = db_step_row(st, "organisation", e)) != ERR_OK)
        return rc;
    *yes = db_col_int(st, 0) > 0;
    db_release(st);
    return ERR_OK;
}

err_code
store_org_in_subtree(struct store_conn *c, int64_t ancestor, int64_t org,
                     int *yes, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ORG_IN_SUBTREE, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, org);
    db_bind_i64(st, 2, ancestor);
    if ((rc = db_step_row(st, "organisation", e)) != ERR_OK)
        return rc;
    *yes = db_col_int(st, 0) > 0;
    db_release(st);
    return ERR_OK;
}

/* ---- accounts and roles ---- */

static void
account_row(struct db_stmt *st, struct store_account *a)
{
    a->id = db_col_i64(st, 0);
    db_col_copy(st, 1, a->name, sizeof(a->name));
    db_col_copy(st, 2, a->kind, sizeof(a->kind));
    db_col_copy(st, 3, a->display_name, sizeof(a->display_name));
    a->org_id = db_col_i64(st, 4);
    db_col_copy(st, 5, a->cert_subject, sizeof(a->cert_subject));
    db_col_copy(st, 6, a->cert_issuer, sizeof(a->cert_issuer));
    a->disabled = db_col_int(st, 7);
    a->created_ms = db_col_i64(st, 8);
    a->held_by = db_col_i64(st, 9);
    a->held_ms = db_col_i64(st, 10);
}

err_code
store_account_insert(struct store_conn *c, const char *name, const char *kind,
                     const char *display_name, int64_t org_id,
                     const char *cert_subject, const char *cert_issuer,
                     int64_t created_by, int64_t now_ms, int64_t *id_out,
                     struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ACCOUNT_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, name);
    db_bind_text(st, 2, kind);
    db_bind_text(st, 3, display_name);
    db_bind_i64(st, 4, org_id);
    db_bind_text(st, 5, cert_subject);
    db_bind_text(st, 6, cert_issuer);
    db_bind_id(st, 7, created_by);
    db_bind_i64(st, 8, now_ms);
    return db_step_id(st, id_out, e);
}

err_code
store_account_get(struct store_conn *c, int64_t id, struct store_account *out,
                  struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ACCOUNT_GET, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "account", e)) != ERR_OK)
        return rc;
    account_row(st, out);
    db_release(st);
    return ERR_OK;
}

err_code
store_account_by_cert(struct store_conn *c, const char *subject,
                      const char *issuer, struct store_account *out,
                      struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ACCOUNT_BY_CERT, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, subject);
    db_bind_text(st, 2, issuer);
    if ((rc = db_step_row(st, "account", e)) != ERR_OK)
        return rc;
    account_row(st, out);
    db_release(st);
    return ERR_OK;
}

err_code
store_account_list(struct store_conn *c, const int64_t *scope, size_t nscope,
                   int64_t org_id, int64_t after, int limit,
                   store_account_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st;
    struct store_account a;
    enum db_row row;
    err_code rc;

    if (nscope > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "account list: scope too large");
    if ((st = db_prep(c->dbc, DB_ACCOUNT_LIST, e)) == NULL)
        return db_prep_failed(e);
    db_bind_id_set(st, 1, scope, nscope);
    db_bind_i64(st, 2, after);
    db_bind_i64(st, 3, org_id);
    db_bind_int(st, 4, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        account_row(st, &a);
        if ((rc = fn(ctx, &a)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_account_set_disabled(struct store_conn *c, int64_t id, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ACCOUNT_SET_DISABLED, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    return db_step_update_one(st, "account", e);
}

err_code
store_account_set_held(struct store_conn *c, int64_t id, int64_t by,
                       int64_t now_ms, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ACCOUNT_SET_HELD, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, by);
    db_bind_i64(st, 2, by);
    db_bind_i64(st, 3, now_ms);
    db_bind_i64(st, 4, id);
    return db_step_update_one(st, "account", e);
}

err_code
store_role_insert(struct store_conn *c, int64_t account_id, const char *role,
                  int64_t scope_org_id, int64_t granted_by, int64_t now_ms,
                  struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ROLE_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, account_id);
    db_bind_text(st, 2, role);
    db_bind_i64(st, 3, scope_org_id);
    db_bind_id(st, 4, granted_by);
    db_bind_i64(st, 5, now_ms);
    db_bind_i64(st, 6, account_id);
    db_bind_text(st, 7, role);
    db_bind_i64(st, 8, scope_org_id);
    return db_step_changed(st, e, ERR_CONFLICT,
                           "the account already holds %s there", role);
}

err_code
store_role_remove(struct store_conn *c, int64_t account_id, const char *role,
                  int64_t scope_org_id, int64_t removed_by, int64_t now_ms,
                  struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ROLE_REMOVE, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, now_ms);
    db_bind_id(st, 2, removed_by);
    db_bind_i64(st, 3, account_id);
    db_bind_text(st, 4, role);
    db_bind_i64(st, 5, scope_org_id);
    return db_step_update_one(st, "role assignment", e);
}

/* Step st (bound: $1 account, $2 now) into roles[]: role, scope, deputy
 * id; at most max rows are read.  Releases st. */
static err_code
roles_rows(struct db_stmt *st, int64_t account_id, int64_t now_ms,
           struct store_role *roles, size_t max, size_t *n, struct err *e)
{
    size_t count = 0;
    enum db_row row;
    err_code rc;

    db_bind_i64(st, 1, account_id);
    db_bind_i64(st, 2, now_ms);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW &&
           count < max) {
        db_col_copy(st, 0, roles[count].role, sizeof(roles[count].role));
        roles[count].scope_org_id = db_col_i64(st, 1);
        roles[count].deputy_id = db_col_i64(st, 2);
        count++;
    }
    db_release(st);
    if (rc != ERR_OK)
        return rc;
    *n = count;
    return ERR_OK;
}

err_code
store_account_roles(struct store_conn *c, int64_t account_id, int64_t now_ms,
                    struct store_role *roles, size_t max, size_t *n,
                    struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ACCOUNT_ROLES, e);

    if (st == NULL)
        return db_prep_failed(e);
    return roles_rows(st, account_id, now_ms, roles, max, n, e);
}

err_code
store_account_roles_ahead(struct store_conn *c, int64_t account_id,
                          int64_t now_ms, struct store_role *roles,
                          size_t max, size_t *n, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ACCOUNT_ROLES_AHEAD, e);

    if (st == NULL)
        return db_prep_failed(e);
    return roles_rows(st, account_id, now_ms, roles, max, n, e);
}

err_code
store_role_count_in_force(struct store_conn *c, const char *role,
                          int64_t except_id, int64_t *count, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ROLE_COUNT_IN_FORCE, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, role);
    db_bind_i64(st, 2, except_id);
    if ((rc = db_step_row(st, "role", e)) != ERR_OK)
        return rc;
    *count = db_col_i64(st, 0);
    db_release(st);
    return ERR_OK;
}

err_code
store_role_count(struct store_conn *c, const char *role, int64_t *count,
                 struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_ROLE_COUNT, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, role);
    if ((rc = db_step_row(st, "role", e)) != ERR_OK)
        return rc;
    *count = db_col_i64(st, 0);
    db_release(st);
    return ERR_OK;
}

/* ---- deputies ---- */

static void
deputy_row(struct db_stmt *st, struct store_deputy *d)
{
    d->id = db_col_i64(st, 0);
    d->custodian_id = db_col_i64(st, 1);
    d->deputy_id = db_col_i64(st, 2);
    d->scope_org_id = db_col_i64(st, 3);
    d->start_ms = db_col_i64(st, 4);
    d->end_ms = db_col_i64(st, 5);
    db_col_copy(st, 6, d->reason, sizeof(d->reason));
    db_col_copy(st, 7, d->state, sizeof(d->state));
    d->created_ms = db_col_i64(st, 8);
    d->approved_by = db_col_i64(st, 9);
    d->approved_ms = db_col_i64(st, 10);
}

err_code
store_deputy_insert(struct store_conn *c, const struct store_deputy *d,
                    int64_t *id_out, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DEPUTY_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, d->custodian_id);
    db_bind_i64(st, 2, d->deputy_id);
    db_bind_i64(st, 3, d->scope_org_id);
    db_bind_i64(st, 4, d->start_ms);
    db_bind_i64(st, 5, d->end_ms);
    db_bind_text(st, 6, d->reason);
    db_bind_i64(st, 7, d->created_ms);
    return db_step_id(st, id_out, e);
}

err_code
store_deputy_get(struct store_conn *c, int64_t id, struct store_deputy *out,
                 struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DEPUTY_GET, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    if ((rc = db_step_row(st, "deputy record", e)) != ERR_OK)
        return rc;
    deputy_row(st, out);
    db_release(st);
    return ERR_OK;
}

err_code
store_deputy_transition(struct store_conn *c, int64_t id, const char *from,
                        const char *to, int64_t by, int64_t now_ms,
                        struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DEPUTY_TRANSITION, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, to);
    db_bind_id(st, 2, by);
    db_bind_i64(st, 3, now_ms);
    db_bind_i64(st, 4, id);
    db_bind_text(st, 5, from);
    return db_step_changed(st, e, ERR_CONFLICT, "deputy record is not %s",
                           from);
}

err_code
store_deputy_list(struct store_conn *c, int64_t account_id,
                  const int64_t *scope, size_t nscope, int64_t after,
                  int limit, store_deputy_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st;
    struct store_deputy d;
    enum db_row row;
    err_code rc;

    if (nscope > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "deputy list: scope too large");
    if ((st = db_prep(c->dbc, DB_DEPUTY_LIST, e)) == NULL)
        return db_prep_failed(e);
    db_bind_id_set(st, 1, scope, nscope);
    db_bind_i64(st, 2, after);
    db_bind_i64(st, 3, account_id);
    db_bind_int(st, 4, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        deputy_row(st, &d);
        if ((rc = fn(ctx, &d)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

/* ---- authentication failures ---- */

err_code
store_authfail_record(struct store_conn *c, const char *kind,
                      const char *subject, int64_t now_ms, int64_t window_ms,
                      long threshold, int64_t lock_ms, int64_t *locked_until,
                      struct err *e)
{
    err_code rc;

    if ((rc = store_authfail_add(c, kind, subject, 1, now_ms, window_ms,
                                 threshold, lock_ms, e)) != ERR_OK)
        return rc;
    return store_authfail_locked_until(c, kind, subject, locked_until, NULL,
                                       e);
}

err_code
store_authfail_add(struct store_conn *c, const char *kind,
                   const char *subject, long n, int64_t now_ms,
                   int64_t window_ms, long threshold, int64_t lock_ms,
                   struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_AUTHFAIL_UPSERT, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, kind);
    db_bind_text(st, 2, subject);
    db_bind_i64(st, 3, n);
    db_bind_i64(st, 4, now_ms);
    db_bind_i64(st, 5, now_ms - window_ms);
    db_bind_i64(st, 6, now_ms - window_ms);
    db_bind_i64(st, 7, now_ms);
    if ((rc = db_step_done(st, e)) != ERR_OK)
        return rc;
    if ((st = db_prep(c->dbc, DB_AUTHFAIL_LOCK, e)) == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, now_ms + lock_ms);
    db_bind_text(st, 2, kind);
    db_bind_text(st, 3, subject);
    db_bind_i64(st, 4, threshold);
    return db_step_done(st, e);
}

err_code
store_authfail_get(struct store_conn *c, const char *kind,
                   const char *subject, int64_t now_ms, int64_t window_ms,
                   long *failures, int64_t *locked_until, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_AUTHFAIL_GET, e);
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, now_ms - window_ms);
    db_bind_text(st, 2, kind);
    db_bind_text(st, 3, subject);
    rc = db_step(st, &row, e);
    *failures = rc == ERR_OK && row == DB_ROW ? (long)db_col_i64(st, 0) : 0;
    *locked_until = rc == ERR_OK && row == DB_ROW ? db_col_i64(st, 1) : 0;
    db_release(st);
    return rc;
}

err_code
store_authfail_locked_until(struct store_conn *c, const char *kind,
                            const char *subject, int64_t *locked_until,
                            int *counted, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_AUTHFAIL_LOCKED_UNTIL, e);
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, kind);
    db_bind_text(st, 2, subject);
    rc = db_step(st, &row, e);
    *locked_until = rc == ERR_OK && row == DB_ROW ? db_col_i64(st, 0) : 0;
    if (counted != NULL)
        *counted = rc == ERR_OK && row == DB_ROW && *locked_until == 0;
    db_release(st);
    return rc;
}

err_code
store_authfail_clear(struct store_conn *c, const char *kind,
                     const char *subject, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_AUTHFAIL_CLEAR, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, kind);
    db_bind_text(st, 2, subject);
    return db_step_done(st, e);
}

/* ---- credentials ---- */

err_code
store_credential_insert(struct store_conn *c, int64_t account_id,
                        const char *key_id, const uint8_t *mac,
                        size_t mac_len, int initial, int64_t now_ms,
                        int64_t expires_ms, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_CREDENTIAL_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, account_id);
    db_bind_text(st, 2, key_id);
    db_bind_bytes(st, 3, mac, mac_len);
    db_bind_int(st, 4, initial);
    db_bind_i64(st, 5, now_ms);
    db_bind_i64(st, 6, expires_ms);
    return db_step_done(st, e);
}

err_code
store_credential_revoke(struct store_conn *c, int64_t id, int64_t now_ms,
                        struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_CREDENTIAL_REVOKE, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, now_ms);
    db_bind_i64(st, 2, id);
    return db_step_done(st, e);
}

err_code
store_credential_revoke_all(struct store_conn *c, int64_t account_id,
                            int64_t now_ms, int *n, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_CREDENTIAL_REVOKE_ALL, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, now_ms);
    db_bind_i64(st, 2, account_id);
    if ((rc = db_step_done(st, e)) != ERR_OK)
        return rc;
    if (n != NULL)
        *n = (int)db_changes(c->dbc);
    return ERR_OK;
}

err_code
store_credential_by_key_id(struct store_conn *c, const char *key_id,
                           struct store_credential *out, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_CREDENTIAL_BY_KEY_ID, e);
    const void *mac;
    size_t len;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, key_id);
    if ((rc = db_step_row(st, "credential", e)) != ERR_OK)
        return rc;
    mac = db_col_bytes(st, 2, &len);
    out->id = db_col_i64(st, 0);
    out->account_id = db_col_i64(st, 1);
    out->mac_len = len <= STORE_MAC_MAX ? len : 0;
    if (out->mac_len > 0)
        memcpy(out->mac, mac, out->mac_len);
    out->initial = db_col_int(st, 3);
    out->created_ms = db_col_i64(st, 4);
    out->expires_ms = db_col_i64(st, 5);
    out->revoked_ms = db_col_i64(st, 6);
    db_release(st);
    return ERR_OK;
}

/* ---- audit: in store_audit.c ---- */
