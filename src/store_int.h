/*
 * store_int.h - internals shared by the store's source files (store.c and
 * store_<concern>.c): the connection structure and the helpers that prepare,
 * bind and step statements.  Nothing outside the store includes this.
 */
#ifndef SEALD_STORE_INT_H
#define SEALD_STORE_INT_H

#include <pthread.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store.h"

#define STORE_STMT_CACHE 64

struct store_conn {
    sqlite3           *db;
    struct store      *owner;
    struct store_conn *next;
    struct {
        const char   *sql;      /* static string: compared by address */
        sqlite3_stmt *stmt;
    } cache[STORE_STMT_CACHE];
    size_t ncache;
};

struct store_group_item;        /* store.c: one caller's work in a group */

struct store {
    char              *path;
    long               busy_ms;
    pthread_mutex_t    lock;     /* guards conns */
    struct store_conn *conns;
    /* group commit (store_group_run): */
    pthread_mutex_t    glock;    /* guards the queue and leading */
    struct store_group_item *ghead, **gtail;
    int                leading;  /* a thread is running a group */
};

/* Set *e from the connection's last SQLite error; returns ERR_DB. */
err_code st_db_err(struct store_conn *c, struct err *e, const char *what);

/* Run SQL text with no parameters (PRAGMAs, BEGIN, migrations). */
err_code st_exec(struct store_conn *c, const char *sql, struct err *e);

/* The cached prepared statement for sql (a string literal: compared by
 * address), reset and unbound.  Owned by the connection; NULL on error. */
sqlite3_stmt *st_prep(struct store_conn *c, const char *sql, struct err *e);

/* Bind text (NULL binds SQL NULL) / an id (0 binds SQL NULL). */
int st_bind_text(sqlite3_stmt *st, int i, const char *v);
int st_bind_id(sqlite3_stmt *st, int i, int64_t v);

/* Step a statement returning no row: constraint violations map to
 * ERR_CONFLICT (unique) or ERR_INVALID; the statement is reset. */
err_code st_step_done(struct store_conn *c, sqlite3_stmt *st, struct err *e);

/* Step a bound one-row SELECT: ERR_OK with the row current (caller resets),
 * ERR_NOT_FOUND ("no such <what>") when there is no row. */
err_code st_step_row(struct store_conn *c, sqlite3_stmt *st, const char *what,
                     struct err *e);

/* Step a statement that must change a row (a state transition, a bounded
 * counter, an insert guarded by NOT EXISTS): when it changes none, code
 * with the printf-style message.  Errors of the step itself as
 * st_step_done. */
err_code st_step_changed(struct store_conn *c, sqlite3_stmt *st,
                         struct err *e, err_code code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Step an UPDATE that must change one row: ERR_NOT_FOUND otherwise. */
err_code st_step_update_one(struct store_conn *c, sqlite3_stmt *st,
                            const char *what, struct err *e);

/* Copy text column col into dst (cap bytes, truncating); "" for NULL. */
void st_copy_col(sqlite3_stmt *st, int col, char *dst, size_t cap);

/* A copy of blob column col: *buf malloc'ed (at least one byte, so never
 * NULL on success; caller frees), *len its length. */
err_code st_column_dup(sqlite3_stmt *st, int col, uint8_t **buf, size_t *len,
                       struct err *e);

/* Integer column, 0 for NULL. */
int64_t st_col_id(sqlite3_stmt *st, int col);

#endif
