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

#include "db.h"
#include "store.h"

/* Transitional (db_sqlite.c): the raw handle behind a connection, for the
 * store code still on st_prep.  Goes with st_prep. */
sqlite3 *db_sqlite_handle(struct db_conn *c);

/* Statements cached per connection.  The store has about 80 distinct
 * queries; the cache holds all of them with room for more, so eviction is
 * the exception.  Correctness does not depend on the size: a full cache
 * evicts only a statement nobody holds, and hands out an uncached one when
 * every slot is held. */
#define STORE_STMT_CACHE 160

/* One cached statement.  in_use is set when st_prep hands it out and
 * cleared by st_release; a statement in use is never evicted, and is not
 * handed out a second time while it is being stepped (a nested query of
 * the same SQL from a row callback gets a statement of its own). */
struct store_stmt_slot {
    const char   *sql;          /* static string: compared by address */
    sqlite3_stmt *stmt;
    uint64_t      used;         /* tick of the last st_prep: LRU order */
    int           in_use;
};

/* The store's state kept with each database connection (db_conn_user). */
struct store_conn {
    struct db_conn    *dbc;
    sqlite3           *db;      /* transitional: db_sqlite_handle(dbc) */
    struct store      *owner;
    struct store_stmt_slot cache[STORE_STMT_CACHE];
    size_t             ncache;
    uint64_t           tick;    /* counts st_prep calls */
};

struct store_group_item;        /* store.c: one caller's work in a group */

struct store {
    struct db         *db;
    /* group commit (store_group_run): */
    pthread_mutex_t    glock;    /* guards the queue and leading */
    struct store_group_item *ghead, **gtail;
    int                leading;  /* a thread is running a group */
};

/* Set *e from the connection's last SQLite error; returns ERR_DB. */
err_code st_db_err(struct store_conn *c, struct err *e, const char *what);

/* Run SQL text with no parameters (PRAGMAs, BEGIN, migrations). */
err_code st_exec(struct store_conn *c, const char *sql, struct err *e);

/* A prepared statement for sql (a string literal: compared by address),
 * reset and unbound, in use until st_release.  Usually the connection's
 * cached one; when that is being stepped by an outer caller, or every
 * cache slot is in use, an uncached one that st_release finalizes.  Either
 * way the connection owns it: callers never finalize.  NULL on error.
 * Every st_prep is paired with one st_release (st_step_done,
 * st_step_changed, st_step_update_one and a not-found st_step_row release
 * for the caller); a statement is not used after its release. */
sqlite3_stmt *st_prep(struct store_conn *c, const char *sql, struct err *e);

/* Give back a statement from st_prep: reset it and mark its slot free for
 * eviction, or finalize it when it was not cached.  NULL is ignored. */
void st_release(struct store_conn *c, sqlite3_stmt *st);

/* Bind text (NULL binds SQL NULL) / an id (0 binds SQL NULL). */
int st_bind_text(sqlite3_stmt *st, int i, const char *v);
int st_bind_id(sqlite3_stmt *st, int i, int64_t v);

/* The common table "scope(id, depth)": the organisations in the subtrees
 * of the ids bound at parameter param by st_bind_id_set, walked down with
 * the depth bound of store_org_in_subtree (a corrupt cycle stays finite).
 * Follows WITH RECURSIVE (or a comma); a reader-scoped list then filters
 * on "org_id IN (SELECT id FROM scope)" before its LIMIT.  A string
 * constant, so the statements stay static text. */
#define STORE_SCOPE_CTE(param) \
    "scope(id, depth) AS (" \
    "  SELECT id, 0 FROM organisations WHERE id IN " \
    "    (SELECT value FROM json_each(" param ")) " \
    "  UNION ALL " \
    "  SELECT o.id, scope.depth + 1 FROM organisations o " \
    "  JOIN scope ON o.parent_id = scope.id WHERE scope.depth < 64) "

/* Bind a set of ids as one parameter, the JSON array text "[1,2,...]"
 * for `IN (SELECT value FROM json_each(?))` (copied: the ids may go away
 * before the statement is stepped).  At most STORE_MAX_ROLES ids, the
 * largest set a caller has (the organisations of a principal's roles);
 * more is SQLITE_RANGE. */
int st_bind_id_set(sqlite3_stmt *st, int i, const int64_t *ids, size_t n);

/* Step a statement returning no row: constraint violations map to
 * ERR_CONFLICT (unique) or ERR_INVALID; the statement is released. */
err_code st_step_done(struct store_conn *c, sqlite3_stmt *st, struct err *e);

/* Step a bound one-row SELECT: ERR_OK with the row current (caller
 * releases), ERR_NOT_FOUND ("no such <what>") when there is no row; on any
 * error the statement is released. */
err_code st_step_row(struct store_conn *c, sqlite3_stmt *st, const char *what,
                     struct err *e);

/* Step a statement that must change a row (a state transition, a bounded
 * counter, an insert guarded by NOT EXISTS): when it changes none, code
 * with the printf-style message.  Errors of the step itself as
 * st_step_done; the statement is released. */
err_code st_step_changed(struct store_conn *c, sqlite3_stmt *st,
                         struct err *e, err_code code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Step an UPDATE that must change one row: ERR_NOT_FOUND otherwise.
 * Releases the statement. */
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
