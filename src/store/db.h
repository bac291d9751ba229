/*
 * db.h - the database layer: the one way the store reaches a database.
 *
 * What it owns: connections (one per thread, opened on first use), the
 * statements (named by id in db_stmt.h, prepared once per connection into a
 * fixed array indexed by that id, so nothing is ever evicted), typed binds
 * and columns, transactions and savepoints, and the classes of database
 * failure.  Everything that differs between databases lives behind this
 * header in one file per dialect (db_sqlite.c, db_pg.c), reached through
 * the table of db_int.h; the store above it names statements by id and
 * never sees a dialect.
 *
 * Errors: every failure is one of the db_fail classes, reported to callers
 * as an err_code by db_fail_code() (unique -> ERR_CONFLICT, other
 * constraint -> ERR_INVALID, busy, I/O and the rest -> ERR_DB).
 *
 * Binds: db_bind_* never fail to the caller; a bind the database refuses
 * (an index out of range, no memory) is remembered in the statement and
 * returned by its next db_step, so a statement with a bad bind never runs.
 * Bound text and bytes are not copied: they must outlive the db_step calls.
 *
 * Parameters are written $1, $2, ... in every statement's text (the
 * dialect rewrites them where its database spells them otherwise).  An
 * INSERT that writes the ids the database would assign (only seald
 * migrate's copy does) says so with {explicit ids} before VALUES: the
 * PostgreSQL dialect writes OVERRIDING SYSTEM VALUE there (its ids are
 * GENERATED ALWAYS), SQLite nothing.
 */
#ifndef SEALD_DB_H
#define SEALD_DB_H

#include <stddef.h>
#include <stdint.h>

#include "db_stmt.h"
#include "err.h"

struct db;          /* a database: its location and its connections      */
struct db_conn;     /* one thread's connection                            */
struct db_stmt;     /* a prepared statement, held from db_prep to release */

/* The classes of database failure. */
enum db_fail {
    DB_FAIL_NONE = 0,
    DB_FAIL_UNIQUE,       /* a unique or primary key constraint        */
    DB_FAIL_CONSTRAINT,   /* another constraint (check, foreign key)    */
    DB_FAIL_BUSY,         /* locked by another writer past the timeout  */
    DB_FAIL_IO,           /* the disk failed                            */
    DB_FAIL_UNAVAILABLE,  /* the server cannot be reached or went away  */
    DB_FAIL_OTHER         /* anything else (a bug, a corrupt file)      */
};

/* What db_step found. */
enum db_row { DB_DONE = 0, DB_ROW = 1 };

/* Open the database at location, with busy_ms as the lock wait: a file
 * path or "sqlite:PATH" is SQLite (the file created when create is set),
 * a "postgresql://..." or "postgres://..." URL is PostgreSQL (the database
 * must exist; create is ignored).  One connection is opened at once so a
 * missing or unreadable database is reported now.  *out is freed by
 * db_close.  read_only opens it for reading only (audit verification of a
 * copy).  password_file (NULL or "" for none) names the file holding the
 * PostgreSQL password (db_pg.c); SQLite refuses one. */
err_code db_open(const char *location, const char *password_file,
                 long busy_ms, int create, int read_only, struct db **out,
                 struct err *e);

/* Close every connection of d and free it; NULL is ignored.  No thread may
 * use d or a connection of it afterwards. */
void db_close(struct db *d);

/* The calling thread's connection to d, opened on first use; owned by d. */
err_code db_conn_get(struct db *d, struct db_conn **out, struct err *e);

/* The database a connection belongs to. */
struct db *db_of(struct db_conn *c);

/* A pointer the layer above keeps with a connection (the store's own
 * per-connection state); freed with free() when the connection closes. */
void *db_conn_user(struct db_conn *c);
void db_conn_set_user(struct db_conn *c, void *p);

/* ---- statements ------------------------------------------------------- */

/* Statement id ready to bind and step, in use until db_release (or a
 * db_step_* helper below releases it).  Usually the connection's own
 * prepared copy; when that copy is being stepped by an outer caller (a row
 * callback running the same query), an extra one that release finalizes.
 * NULL with *e set on failure. */
struct db_stmt *db_prep(struct db_conn *c, enum db_stmt_id id, struct err *e);

/* Reset and give back a statement from db_prep.  NULL is ignored. */
void db_release(struct db_stmt *st);

void db_bind_null(struct db_stmt *st, int i);
void db_bind_i64(struct db_stmt *st, int i, int64_t v);
void db_bind_int(struct db_stmt *st, int i, int v);
/* Text; NULL binds SQL NULL. */
void db_bind_text(struct db_stmt *st, int i, const char *v);
/* Bytes (a zero length binds empty bytes, not NULL). */
void db_bind_bytes(struct db_stmt *st, int i, const void *p, size_t n);
/* An id: 0 binds SQL NULL (ids start at 1). */
void db_bind_id(struct db_stmt *st, int i, int64_t v);
/* A set of at most DB_MAX_ID_SET ids as one parameter, for the statements
 * that test membership in it (copied at once). */
#define DB_MAX_ID_SET 64
void db_bind_id_set(struct db_stmt *st, int i, const int64_t *ids, size_t n);

/* Step: *row is DB_ROW with a row current or DB_DONE.  On failure the
 * error is set and the statement stays held (the caller releases). */
err_code db_step(struct db_stmt *st, enum db_row *row, struct err *e);

int64_t db_col_i64(struct db_stmt *st, int col);    /* 0 for NULL */
int db_col_int(struct db_stmt *st, int col);        /* 0 for NULL */
int db_col_is_null(struct db_stmt *st, int col);
/* Text of a column, NULL for SQL NULL; valid until the next step. */
const char *db_col_text(struct db_stmt *st, int col);
/* Bytes of a column and *len; NULL (len 0) for NULL or empty; valid until
 * the next step. */
const void *db_col_bytes(struct db_stmt *st, int col, size_t *len);

/* Copy text column col into dst (cap bytes, truncating); "" for NULL. */
void db_col_copy(struct db_stmt *st, int col, char *dst, size_t cap);
/* A malloc'ed copy of bytes column col (at least one byte allocated, so
 * never NULL on success; caller frees) and its length. */
err_code db_col_dup(struct db_stmt *st, int col, uint8_t **buf, size_t *len,
                    struct err *e);

/* The connection a statement belongs to. */
struct db_conn *db_stmt_conn(struct db_stmt *st);

/* Rows changed by the connection's last INSERT, UPDATE or DELETE. */
int64_t db_changes(struct db_conn *c);

/* ---- step helpers: each releases the statement ------------------------- */

/* Step a statement returning no row. */
err_code db_step_done(struct db_stmt *st, struct err *e);

/* Step a bound one-row SELECT: ERR_OK with the row current (the caller
 * releases), ERR_NOT_FOUND ("no such <what>") when there is no row; on any
 * error the statement is released. */
err_code db_step_row(struct db_stmt *st, const char *what, struct err *e);

/* Step an INSERT ... RETURNING id: *id the new row's id. */
err_code db_step_id(struct db_stmt *st, int64_t *id, struct err *e);

/* Step a statement that must change a row (a state transition, a bounded
 * counter, an insert guarded by NOT EXISTS): when it changes none, code
 * with the printf-style message. */
err_code db_step_changed(struct db_stmt *st, struct err *e, err_code code,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Step an UPDATE that must change one row: ERR_NOT_FOUND otherwise. */
err_code db_step_update_one(struct db_stmt *st, const char *what,
                            struct err *e);

/* ---- transactions ----------------------------------------------------- */

/* Begin a write transaction (the dialect takes its write lock at once, so
 * a busy database fails here and not halfway through). */
err_code db_begin(struct db_conn *c, struct err *e);
/* Begin a read transaction: no lock, one snapshot for every statement
 * until commit or rollback (SQLite: a deferred transaction, whose snapshot
 * is taken at its first read; PostgreSQL: REPEATABLE READ, READ ONLY), so
 * that several queries see the database as of one moment while writers go
 * on. */
err_code db_begin_read(struct db_conn *c, struct err *e);
err_code db_commit(struct db_conn *c, struct err *e);
/* Roll back when a transaction is open; otherwise nothing. */
void db_rollback(struct db_conn *c);
int db_in_transaction(struct db_conn *c);

/* Savepoints inside a transaction: one name, nested savepoints are not
 * used.  savepoint_undo rolls back to it and keeps it open; end releases
 * it. */
err_code db_savepoint(struct db_conn *c, struct err *e);
err_code db_savepoint_undo(struct db_conn *c, struct err *e);
err_code db_savepoint_end(struct db_conn *c, struct err *e);

/* ---- batches: results read later -------------------------------------
 *
 * Over a network every statement that waits for its result costs a round
 * trip.  In a batch (PostgreSQL's pipeline mode) statements are sent
 * without waiting: a write whose outcome the caller only needs to be
 * right, not to branch on, is stepped with db_step_later, and its result
 * is read when the caller next waits (a db_step for a row it needs,
 * db_batch_check, db_commit).  The group commit runs its signatures this
 * way (store.c): a group costs a few round trips, not a few per statement.
 * SQLite runs in the process and has nothing to save: db_batch_supported
 * is 0 there, and db_step_later runs its statement at once. */

/* What db_step_later expects of a statement; db.c fills it in. */
struct db_expect {
    int64_t *id_out;            /* INSERT ... RETURNING id: the id here */
    err_code code;              /* must change a row: else code, msg    */
    char     msg[ERR_MSG_MAX];
};

/* 1 when c's dialect can batch. */
int db_batch_supported(struct db_conn *c);

/* Begin a write transaction as a batch: BEGIN is sent, not waited for.
 * ERR_UNSUPPORTED where db_batch_supported is 0.  The batch ends with
 * db_commit (which reports any failure still unread, and then commits
 * nothing) or db_rollback. */
err_code db_batch_begin(struct db_conn *c, struct err *e);

/* 1 while c is in a batch. */
int db_in_batch(struct db_conn *c);

/* Wait for every result sent in c's batch: ERR_OK, or the first failure
 * (a database error, or a statement that did not do what db_step_later
 * expected: its code and message).  After a failure the batch can only
 * be rolled back. */
err_code db_batch_check(struct db_conn *c, struct err *e);

/* Step st, whose result the caller does not need now, and release it:
 * with id_out, an INSERT ... RETURNING id (*id_out set when its result is
 * read: it must stay valid until db_batch_check or the batch's end); else
 * with code not ERR_OK a statement that must change a row (code and the
 * printf-style message otherwise, as db_step_changed); else a statement
 * whose result is only checked for failure.  Outside a batch it runs now
 * and its failure is returned now; in a batch it is sent and its failure
 * comes from the next wait. */
err_code db_step_later(struct db_stmt *st, int64_t *id_out, struct err *e,
                       err_code code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Run a script of statements with no parameters (a migration). */
err_code db_exec_script(struct db_conn *c, const char *sql, struct err *e);

/* The migration scripts of this connection's dialect, in order. */
struct db_migration {
    int         version;
    const char *name;
    const char *sql;
};
void db_migrations(struct db_conn *c, const struct db_migration **list,
                   size_t *n);

/* ---- files ------------------------------------------------------------ */

/* A consistent copy of the whole database into dest_path (replaced
 * atomically), taken while writers go on.  SQLite only: PostgreSQL refuses
 * with ERR_UNSUPPORTED (use pg_dump). */
err_code db_backup(struct db_conn *c, const char *dest_path, struct err *e);

/* Statements alive on c: the prepared slots of the statement array, the
 * transaction statements and any extra copy not yet released.  For tests
 * (a leak shows as a count that grows) and for metrics. */
size_t db_live_statements(struct db_conn *c);

/* The times c waited for its server since it opened: each is a round
 * trip over the network.  0 on SQLite (no server).  For the tests that
 * hold a batch to its few round trips, and for metrics. */
uint64_t db_round_trips(struct db_conn *c);

/* Take (lock 1) or give back (lock 0) the schema lock: one connection of
 * all that share the database migrates at a time.  PostgreSQL: a session
 * advisory lock; SQLite: nothing (its migrations run while one process
 * holds the file).  e may be NULL when giving back. */
err_code db_schema_lock(struct db_conn *c, int lock, struct err *e);

/* After rows were written with their ids given ({explicit ids}: seald
 * migrate), make every id the database assigns to table.column from now
 * on greater than max_id, the highest written (0: none).  table and column
 * are names the caller's code holds, never input.  PostgreSQL: the
 * identity's sequence is set (setval); SQLite: nothing to do, an INTEGER
 * PRIMARY KEY that is not AUTOINCREMENT (none is) takes max(rowid) + 1. */
err_code db_ids_follow(struct db_conn *c, const char *table,
                       const char *column, int64_t max_id, struct err *e);

/* The class of the connection's last failure (DB_FAIL_NONE after success). */
enum db_fail db_last_fail(struct db_conn *c);

/* The err_code callers see for a failure class: the one table. */
err_code db_fail_code(enum db_fail f);

/* What a caller returns when db_prep gave NULL: the code db_prep put in e
 * (database_unavailable when the server is gone, not a bare ERR_DB, so
 * callers that branch on the code see it). */
err_code db_prep_failed(const struct err *e);

#endif
