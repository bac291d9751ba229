/*
 * db.c - the parts of the database layer (db.h) that every dialect
 * shares: the choice of dialect by location, the public functions that
 * dispatch through its table (db_int.h), the failure-class table and the
 * step helpers built on db_step.  Nothing here knows a database; the
 * dialects (db_sqlite.c, db_pg.c) do.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "metrics.h"

/* ---- dispatch ----------------------------------------------------------- */

#define DIALECT(p) ((p)->dialect)

/* The metrics label of a dialect (metrics.h). */
static enum metrics_dialect
metrics_dialect_of(const struct db_dialect *d)
{
    return d == &db_pg ? METRICS_POSTGRESQL : METRICS_SQLITE;
}

/* Record one timed database call: its dialect, whether it failed (a
 * step's or commit's error; a BUSY is one too) and how long it took. */
static err_code
db_timed(const struct db_dialect *d, int64_t t0, err_code rc)
{
    metrics_db(metrics_dialect_of(d), rc != ERR_OK, metrics_now_us() - t0);
    return rc;
}

/* Connections a thread remembers, one per open database (the daemon has
 * one; a verification of a backup or a copy opens a second). */
#define DB_THREAD_CONNS 4

/* Each thread's connections, by the serial of their database: a database
 * closed and another opened at the same address never matches. */
static __thread struct { uint64_t serial; struct db_conn *c; }
    thread_conns[DB_THREAD_CONNS];
static atomic_uint_fast64_t db_serials = 1;

/* Remember c as the calling thread's connection to its database. */
static void
thread_remember(struct db_conn *c)
{
    uint64_t serial = c->owner->serial;
    size_t i, victim = 0;

    for (i = 0; i < DB_THREAD_CONNS; i++) {
        if (thread_conns[i].c == NULL || thread_conns[i].serial == serial) {
            victim = i;
            break;
        }
    }
    if (i == DB_THREAD_CONNS) {         /* full: shift the oldest out */
        memmove(&thread_conns[0], &thread_conns[1],
                sizeof(thread_conns[0]) * (DB_THREAD_CONNS - 1));
        victim = DB_THREAD_CONNS - 1;
    }
    thread_conns[victim].serial = serial;
    thread_conns[victim].c = c;
}

/* A new connection to d, in its list and the calling thread's. */
static err_code
conn_add(struct db *d, int create, struct db_conn **out, struct err *e)
{
    struct db_conn *c;
    err_code rc;

    if ((rc = DIALECT(d)->conn_open(d, create, &c, e)) != ERR_OK)
        return rc;
    c->owner = d;
    pthread_mutex_lock(&d->lock);
    c->next = d->conns;
    d->conns = c;
    pthread_mutex_unlock(&d->lock);
    thread_remember(c);
    *out = c;
    return ERR_OK;
}

/* postgresql://... or postgres://... is PostgreSQL; anything else (a path
 * or sqlite:PATH) is SQLite.  One connection is opened at once, so a
 * database that is not there is reported now. */
err_code
db_open(const char *location, const char *password_file, long busy_ms,
        int create, int read_only, struct db **out, struct err *e)
{
    const struct db_dialect *dl = &db_sqlite;
    struct db_conn *c;
    struct db *d;
    err_code rc;

    *out = NULL;
    if (strncmp(location, "postgresql://", 13) == 0 ||
        strncmp(location, "postgres://", 11) == 0)
        dl = &db_pg;
    if ((rc = dl->open(location, password_file, busy_ms, read_only, &d,
                       e)) != ERR_OK)
        return rc;
    d->dialect = dl;
    d->serial = atomic_fetch_add(&db_serials, 1);
    pthread_mutex_init(&d->lock, NULL);
    if ((rc = conn_add(d, create && !read_only, &c, e)) != ERR_OK) {
        db_close(d);
        return rc;
    }
    *out = d;
    return ERR_OK;
}

void
db_close(struct db *d)
{
    struct db_conn *c, *next;
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < DB_THREAD_CONNS; i++)
        if (thread_conns[i].serial == d->serial) {
            thread_conns[i].c = NULL;
            thread_conns[i].serial = 0;
        }
    for (c = d->conns; c != NULL; c = next) {
        next = c->next;
        free(c->user);
        DIALECT(d)->conn_free(c);
    }
    pthread_mutex_destroy(&d->lock);
    DIALECT(d)->free(d);
}

err_code
db_conn_get(struct db *d, struct db_conn **out, struct err *e)
{
    size_t i;

    *out = NULL;
    for (i = 0; i < DB_THREAD_CONNS; i++) {
        if (thread_conns[i].c != NULL && thread_conns[i].serial == d->serial) {
            if (DIALECT(d)->conn_check != NULL)
                DIALECT(d)->conn_check(thread_conns[i].c);
            *out = thread_conns[i].c;
            return ERR_OK;
        }
    }
    return conn_add(d, 0, out, e);
}

struct db *
db_of(struct db_conn *c)
{
    return c->owner;
}

void *
db_conn_user(struct db_conn *c)
{
    return c->user;
}

void
db_conn_set_user(struct db_conn *c, void *p)
{
    c->user = p;
}

struct db_stmt *
db_prep(struct db_conn *c, enum db_stmt_id id, struct err *e)
{
    return DIALECT(c)->prep(c, id, e);
}

void
db_release(struct db_stmt *st)
{
    if (st != NULL)
        DIALECT(st)->release(st);
}

void
db_bind_null(struct db_stmt *st, int i)
{
    DIALECT(st)->bind_null(st, i);
}

void
db_bind_i64(struct db_stmt *st, int i, int64_t v)
{
    DIALECT(st)->bind_i64(st, i, v);
}

void
db_bind_int(struct db_stmt *st, int i, int v)
{
    DIALECT(st)->bind_i64(st, i, v);
}

void
db_bind_text(struct db_stmt *st, int i, const char *v)
{
    if (v == NULL)
        DIALECT(st)->bind_null(st, i);
    else
        DIALECT(st)->bind_text(st, i, v);
}

void
db_bind_bytes(struct db_stmt *st, int i, const void *p, size_t n)
{
    DIALECT(st)->bind_bytes(st, i, p, n);
}

void
db_bind_id(struct db_stmt *st, int i, int64_t v)
{
    if (v == 0)
        DIALECT(st)->bind_null(st, i);
    else
        DIALECT(st)->bind_i64(st, i, v);
}

void
db_bind_id_set(struct db_stmt *st, int i, const int64_t *ids, size_t n)
{
    DIALECT(st)->bind_id_set(st, i, ids, n);
}

err_code
db_step(struct db_stmt *st, enum db_row *row, struct err *e)
{
    int64_t t0 = metrics_now_us();

    return db_timed(DIALECT(st), t0, DIALECT(st)->step(st, row, e));
}

int64_t
db_col_i64(struct db_stmt *st, int col)
{
    return DIALECT(st)->col_i64(st, col);
}

int
db_col_int(struct db_stmt *st, int col)
{
    return (int)DIALECT(st)->col_i64(st, col);
}

int
db_col_is_null(struct db_stmt *st, int col)
{
    return DIALECT(st)->col_is_null(st, col);
}

const char *
db_col_text(struct db_stmt *st, int col)
{
    return DIALECT(st)->col_text(st, col);
}

const void *
db_col_bytes(struct db_stmt *st, int col, size_t *len)
{
    return DIALECT(st)->col_bytes(st, col, len);
}

struct db_conn *
db_stmt_conn(struct db_stmt *st)
{
    return DIALECT(st)->stmt_conn(st);
}

int64_t
db_changes(struct db_conn *c)
{
    return DIALECT(c)->changes(c);
}

err_code
db_begin(struct db_conn *c, struct err *e)
{
    int64_t t0 = metrics_now_us();

    return db_timed(DIALECT(c), t0, DIALECT(c)->begin(c, e));
}

err_code
db_begin_read(struct db_conn *c, struct err *e)
{
    int64_t t0 = metrics_now_us();

    return db_timed(DIALECT(c), t0, DIALECT(c)->begin_read(c, e));
}

err_code
db_commit(struct db_conn *c, struct err *e)
{
    int64_t t0 = metrics_now_us();

    return db_timed(DIALECT(c), t0, DIALECT(c)->commit(c, e));
}

void
db_rollback(struct db_conn *c)
{
    DIALECT(c)->rollback(c);
}

int
db_in_transaction(struct db_conn *c)
{
    return DIALECT(c)->in_transaction(c);
}

err_code
db_savepoint(struct db_conn *c, struct err *e)
{
    return DIALECT(c)->savepoint(c, e);
}

err_code
db_savepoint_undo(struct db_conn *c, struct err *e)
{
    return DIALECT(c)->savepoint_undo(c, e);
}

err_code
db_savepoint_end(struct db_conn *c, struct err *e)
{
    return DIALECT(c)->savepoint_end(c, e);
}

err_code
db_exec_script(struct db_conn *c, const char *sql, struct err *e)
{
    return DIALECT(c)->exec_script(c, sql, e);
}

void
db_migrations(struct db_conn *c, const struct db_migration **list, size_t *n)
{
    DIALECT(c)->migrations(c, list, n);
}

err_code
db_backup(struct db_conn *c, const char *dest_path, struct err *e)
{
    return DIALECT(c)->backup(c, dest_path, e);
}

size_t
db_live_statements(struct db_conn *c)
{
    return DIALECT(c)->live_statements(c);
}

err_code
db_schema_lock(struct db_conn *c, int lock, struct err *e)
{
    struct err ignored;

    return DIALECT(c)->schema_lock(c, lock, e ? e : &ignored);
}

err_code
db_ids_follow(struct db_conn *c, const char *table, const char *column,
              int64_t max_id, struct err *e)
{
    return DIALECT(c)->ids_follow(c, table, column, max_id, e);
}

enum db_fail
db_last_fail(struct db_conn *c)
{
    return DIALECT(c)->last_fail(c);
}

/* ---- batches ----------------------------------------------------------- */

uint64_t
db_round_trips(struct db_conn *c)
{
    return DIALECT(c)->round_trips ? DIALECT(c)->round_trips(c) : 0;
}

int
db_batch_supported(struct db_conn *c)
{
    return DIALECT(c)->batch_begin != NULL;
}

err_code
db_batch_begin(struct db_conn *c, struct err *e)
{
    if (DIALECT(c)->batch_begin == NULL)
        return err_set(e, ERR_UNSUPPORTED, "%s has no batches",
                       DIALECT(c)->name);
    return DIALECT(c)->batch_begin(c, e);
}

int
db_in_batch(struct db_conn *c)
{
    return DIALECT(c)->in_batch != NULL && DIALECT(c)->in_batch(c);
}

err_code
db_batch_check(struct db_conn *c, struct err *e)
{
    if (!db_in_batch(c))
        return ERR_OK;
    return DIALECT(c)->batch_check(c, e);
}

/* db_step_later outside a batch: what the expectation says, now. */
static err_code
step_now(struct db_stmt *st, const struct db_expect *x, struct err *e)
{
    struct db_conn *c = db_stmt_conn(st);
    err_code rc;

    if (x->id_out != NULL)
        return db_step_id(st, x->id_out, e);
    if ((rc = db_step_done(st, e)) != ERR_OK)
        return rc;
    if (x->code == ERR_OK || db_changes(c) > 0)
        return ERR_OK;
    return err_set(e, x->code, "%s", x->msg);
}

err_code
db_step_later(struct db_stmt *st, int64_t *id_out, struct err *e,
              err_code code, const char *fmt, ...)
{
    struct db_expect x;
    va_list ap;

    memset(&x, 0, sizeof(x));
    x.id_out = id_out;
    x.code = code;
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(x.msg, sizeof(x.msg), fmt, ap);
        va_end(ap);
    }
    if (!db_in_batch(db_stmt_conn(st)))
        return step_now(st, &x, e);
    return DIALECT(st)->step_later(st, &x, e);
}

/* ---- shared ------------------------------------------------------------ */

/* The one table from failure class to the code callers see.  Busy and I/O
 * are ERR_DB like the rest: a client retries either after the 503, and
 * the message says which it was. */
static const err_code fail_codes[] = {
    [DB_FAIL_NONE]       = ERR_OK,
    [DB_FAIL_UNIQUE]     = ERR_CONFLICT,
    [DB_FAIL_CONSTRAINT] = ERR_INVALID,
    [DB_FAIL_BUSY]       = ERR_DB,
    [DB_FAIL_IO]         = ERR_DB,
    [DB_FAIL_UNAVAILABLE] = ERR_DB_UNAVAILABLE,
    [DB_FAIL_OTHER]      = ERR_DB,
};

err_code
db_fail_code(enum db_fail f)
{
    if ((unsigned)f >= sizeof(fail_codes) / sizeof(fail_codes[0]))
        return ERR_DB;
    return fail_codes[f];
}

err_code
db_prep_failed(const struct err *e)
{
    return e != NULL && e->code != ERR_OK ? e->code : ERR_DB;
}

void
db_col_copy(struct db_stmt *st, int col, char *dst, size_t cap)
{
    const char *t = db_col_text(st, col);

    snprintf(dst, cap, "%s", t ? t : "");
}

err_code
db_col_dup(struct db_stmt *st, int col, uint8_t **buf, size_t *len,
           struct err *e)
{
    size_t n;
    const void *p = db_col_bytes(st, col, &n);

    if ((*buf = malloc(n > 0 ? n : 1)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (n > 0)
        memcpy(*buf, p, n);
    *len = n;
    return ERR_OK;
}

err_code
db_step_done(struct db_stmt *st, struct err *e)
{
    enum db_row row;
    err_code rc = db_step(st, &row, e);

    db_release(st);
    return rc;
}

err_code
db_step_row(struct db_stmt *st, const char *what, struct err *e)
{
    enum db_row row;
    err_code rc = db_step(st, &row, e);

    if (rc == ERR_OK && row == DB_ROW)
        return ERR_OK;
    db_release(st);
    if (rc == ERR_OK)
        return err_set(e, ERR_NOT_FOUND, "no such %s", what);
    return rc;
}

err_code
db_step_id(struct db_stmt *st, int64_t *id, struct err *e)
{
    enum db_row row;
    err_code rc = db_step(st, &row, e);

    *id = 0;
    if (rc == ERR_OK && row == DB_ROW)
        *id = db_col_i64(st, 0);
    else if (rc == ERR_OK)
        rc = err_set(e, ERR_INTERNAL, "insert returned no id");
    db_release(st);
    return rc;
}

err_code
db_step_changed(struct db_stmt *st, struct err *e, err_code code,
                const char *fmt, ...)
{
    struct db_conn *c = db_stmt_conn(st);
    err_code rc;
    va_list ap;

    if ((rc = db_step_done(st, e)) != ERR_OK)
        return rc;
    if (db_changes(c) > 0)
        return ERR_OK;
    va_start(ap, fmt);
    err_vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

err_code
db_step_update_one(struct db_stmt *st, const char *what, struct err *e)
{
    struct db_conn *c = db_stmt_conn(st);
    err_code rc = db_step_done(st, e);

    if (rc == ERR_OK && db_changes(c) == 0)
        return err_set(e, ERR_NOT_FOUND, "no such %s", what);
    return rc;
}
