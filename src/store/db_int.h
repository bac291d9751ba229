/*
 * db_int.h - private to the database layer: the table of one dialect's
 * functions that db.c dispatches db.h through.
 *
 * Every struct db, db_conn and db_stmt a dialect hands out begins with the
 * base struct below (its first member), so db.c reads the dialect from any
 * of them; the dialect converts the base pointer to its own struct.  Each
 * entry has the contract of the db.h function of the same name.
 */
#ifndef SEALD_DB_INT_H
#define SEALD_DB_INT_H

#include <pthread.h>
#include <stdint.h>

#include "db.h"

struct db_dialect;

/* What every dialect's database and connection start with: db.c keeps
 * each thread's connections with them (db_conn_get), whatever the
 * dialect. */
struct db {
    const struct db_dialect *dialect;
    uint64_t                 serial;  /* unique per open: thread lookups
                                         match it, never an address */
    pthread_mutex_t          lock;    /* guards conns */
    struct db_conn          *conns;   /* every connection, freed at close */
};
struct db_conn {
    const struct db_dialect *dialect;
    struct db               *owner;
    struct db_conn          *next;    /* in owner->conns */
    void                    *user;    /* db_conn_set_user: freed at close */
};
struct db_stmt { const struct db_dialect *dialect; };

struct db_dialect {
    const char *name;
    /* The database at location, with no connection yet (db.c opens
     * them); free undoes open once every connection is freed. */
    err_code (*open)(const char *location, const char *password_file,
                     long busy_ms, int read_only, struct db **out,
                     struct err *e);
    void (*free)(struct db *d);
    /* A new connection to d (create: the first, which may create the
     * database); conn_check, when not NULL, mends a connection found
     * broken before its thread uses it again; conn_free closes one. */
    err_code (*conn_open)(struct db *d, int create, struct db_conn **out,
                          struct err *e);
    void (*conn_check)(struct db_conn *c);
    void (*conn_free)(struct db_conn *c);

    struct db_stmt *(*prep)(struct db_conn *c, enum db_stmt_id id,
                            struct err *e);
    void (*release)(struct db_stmt *st);
    void (*bind_null)(struct db_stmt *st, int i);
    void (*bind_i64)(struct db_stmt *st, int i, int64_t v);
    void (*bind_text)(struct db_stmt *st, int i, const char *v);
    void (*bind_bytes)(struct db_stmt *st, int i, const void *p, size_t n);
    void (*bind_id_set)(struct db_stmt *st, int i, const int64_t *ids,
                        size_t n);
    err_code (*step)(struct db_stmt *st, enum db_row *row, struct err *e);
    int64_t (*col_i64)(struct db_stmt *st, int col);
    int (*col_is_null)(struct db_stmt *st, int col);
    const char *(*col_text)(struct db_stmt *st, int col);
    const void *(*col_bytes)(struct db_stmt *st, int col, size_t *len);
    struct db_conn *(*stmt_conn)(struct db_stmt *st);
    int64_t (*changes)(struct db_conn *c);

    err_code (*begin)(struct db_conn *c, struct err *e);
    err_code (*begin_read)(struct db_conn *c, struct err *e);
    err_code (*commit)(struct db_conn *c, struct err *e);
    void (*rollback)(struct db_conn *c);
    int (*in_transaction)(struct db_conn *c);
    err_code (*savepoint)(struct db_conn *c, struct err *e);
    err_code (*savepoint_undo)(struct db_conn *c, struct err *e);
    err_code (*savepoint_end)(struct db_conn *c, struct err *e);
    err_code (*exec_script)(struct db_conn *c, const char *sql,
                            struct err *e);
    void (*migrations)(struct db_conn *c, const struct db_migration **list,
                       size_t *n);
    err_code (*backup)(struct db_conn *c, const char *dest_path,
                       struct err *e);
    size_t (*live_statements)(struct db_conn *c);
    enum db_fail (*last_fail)(struct db_conn *c);
    err_code (*schema_lock)(struct db_conn *c, int lock, struct err *e);
    err_code (*ids_follow)(struct db_conn *c, const char *table,
                           const char *column, int64_t max_id,
                           struct err *e);
    /* Batches (db.h); NULL where the dialect has none: db.c then runs
     * db_step_later's statements at once.  step_later sends st, keeps a
     * copy of *x for when its result is read, and releases st. */
    err_code (*batch_begin)(struct db_conn *c, struct err *e);
    int (*in_batch)(struct db_conn *c);
    err_code (*batch_check)(struct db_conn *c, struct err *e);
    err_code (*step_later)(struct db_stmt *st, const struct db_expect *x,
                           struct err *e);
    uint64_t (*round_trips)(struct db_conn *c);     /* NULL: none */
};

extern const struct db_dialect db_sqlite;   /* db_sqlite.c */
extern const struct db_dialect db_pg;       /* db_pg.c     */

#endif
