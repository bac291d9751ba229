/*
 * db.c - the parts of the database layer (db.h) that every dialect
 * shares: the choice of dialect by location, the public functions that
 * dispatch through its table (db_int.h), the failure-class table and the
 * step helpers built on db_step.  Nothing here knows a database; the
 * dialects (db_sqlite.c, db_pg.c) do.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

/* ---- dispatch ----------------------------------------------------------- */

#define DIALECT(p) ((p)->dialect)

/* postgresql://... or postgres://... is PostgreSQL; anything else (a path
 * or sqlite:PATH) is SQLite. */
err_code
db_open(const char *location, long busy_ms, int create, int read_only,
        struct db **out, struct err *e)
{
    const struct db_dialect *dl = &db_sqlite;

    if (strncmp(location, "postgresql://", 13) == 0 ||
        strncmp(location, "postgres://", 11) == 0)
        dl = &db_pg;

    return dl->open(location, busy_ms, create, read_only, out, e);
}

void
db_close(struct db *d)
{
    if (d != NULL)
        DIALECT(d)->close(d);
}

err_code
db_conn_get(struct db *d, struct db_conn **out, struct err *e)
{
    return DIALECT(d)->conn_get(d, out, e);
}

struct db *
db_of(struct db_conn *c)
{
    return DIALECT(c)->of(c);
}

void *
db_conn_user(struct db_conn *c)
{
    return DIALECT(c)->conn_user(c);
}

void
db_conn_set_user(struct db_conn *c, void *p)
{
    DIALECT(c)->conn_set_user(c, p);
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
    return DIALECT(st)->step(st, row, e);
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
    return DIALECT(c)->begin(c, e);
}

err_code
db_commit(struct db_conn *c, struct err *e)
{
    return DIALECT(c)->commit(c, e);
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

enum db_fail
db_last_fail(struct db_conn *c)
{
    return DIALECT(c)->last_fail(c);
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
    [DB_FAIL_OTHER]      = ERR_DB,
};

err_code
db_fail_code(enum db_fail f)
{
    if ((unsigned)f >= sizeof(fail_codes) / sizeof(fail_codes[0]))
        return ERR_DB;
    return fail_codes[f];
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
