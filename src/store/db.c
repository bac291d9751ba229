/*
 * db.c - the parts of the database layer (db.h) that every dialect
 * shares: the failure-class table and the step helpers built on db_step.
 * Nothing here knows a database; the dialects (db_sqlite.c) do.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

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
