/*
 * store.h - the store: the only code that speaks SQL, on the database
 * layer (db.h).  This header holds what every concern shares: opening the
 * store, each thread's connection, migrations, transactions, group commit,
 * backup; the queries are in store_<concern>.h, one header per store file.
 *
 * One struct store per process holds where the database is; each thread that
 * needs the database gets its own connection (struct store_conn) from
 * store_conn_get().  Every statement is prepared with bound parameters: no
 * SQL is ever built from strings.  Nothing here keeps state another seald
 * node would need: all of it is in the database.
 */
#ifndef SEALD_STORE_H
#define SEALD_STORE_H

#include "store_types.h"

/* Open (create = 1: create if missing) the database at path (a file path
 * or "sqlite:PATH"; a "postgresql://..." URL for PostgreSQL, db.h), with
 * password_file (NULL for none) holding PostgreSQL's password.  The
 * returned store is shared by all threads; free with store_close(). */
err_code store_open(const char *path, const char *password_file,
                    long busy_timeout_ms, int create, struct store **out,
                    struct err *e);

/* Close every connection and free the store.  No thread may still use it. */
void store_close(struct store *s);

/* The calling thread's connection (opened on first use; owned by the store,
 * never freed by the caller). */
err_code store_conn_get(struct store *s, struct store_conn **out,
                        struct err *e);

/* Apply every migration newer than the schema_version table says, each in
 * its own transaction.  *applied (may be NULL) gets how many ran.  Nodes
 * starting at once on one PostgreSQL database take turns (db_schema_lock):
 * each migration is applied once. */
err_code store_migrate(struct store *s, int *applied, struct err *e);

/* Highest applied schema version (0 on failure).  Reads only: a
 * read-only connection may ask.  The first version with the audit chain's
 * head row (audit_head, sql/sqlite/008_audit_head.sql): */
#define STORE_SCHEMA_AUDIT_HEAD 8
err_code store_schema_version(struct store_conn *c, int *version,
                              struct err *e);

/* The newest schema version this build's migrations reach on c's
 * dialect (both series have the same steps). */
int store_schema_latest(struct store_conn *c);

/* The schema version of a database that may hold no seald schema at all
 * (*version 0 then; its schema_version table is made, empty): what `seald
 * init` and `seald migrate` ask of a target before they fill it. */
err_code store_schema_probe(struct store *s, int *version, struct err *e);

/*
 * Transactions: store_run is the one way to run a transaction.  It begins
 * (taking the write lock at once, so a writer never fails half-way on a
 * lock upgrade), runs fn(conn, ctx, e) on the caller's connection, and
 * commits when fn returns ERR_OK; on any failure it rolls back and returns
 * fn's error (or the commit's).  fn must not begin, commit or roll back:
 * nothing outside store.c can, so no module ever commits a transaction it
 * did not open.  A unit inside another unit is ERR_INTERNAL.  The domain
 * runs its changes through unit.h, which adds the audit entry.
 */
err_code store_run(struct store_conn *c, store_work_fn fn, void *ctx,
                   struct err *e);

/*
 * Read transactions: store_read runs fn(conn, ctx, e) inside a read
 * transaction (db_begin_read: no lock, one snapshot), so that several
 * queries agree with each other while writers go on; fn must only read.
 * It ends the transaction (commit, or rollback on failure) and returns
 * fn's error.  Inside another transaction it is ERR_INTERNAL.
 */
err_code store_read(struct store_conn *c, store_work_fn fn, void *ctx,
                    struct err *e);

/*
 * Group commit: run fn(conn, ctx, e) inside a write transaction shared
 * with whatever other threads run at the same time, and return when that
 * transaction has committed.  fn must do all its work on conn (which may
 * be another thread's connection), must not begin, commit or roll back,
 * and may be run twice: on PostgreSQL a group runs first as a batch
 * (db.h) and, when anything in it fails, is undone and run again the
 * plain way (store.c), so each run must start over and set every output
 * again.  When fn fails, only its own writes are
 * undone and its error is returned; an ERR_DB from any fn, or a failed
 * commit, fails every fn of the group with ERR_DB and nothing of the group
 * is written.  ERR_OK means fn's writes are durable.
 */
err_code store_group_run(struct store_conn *c, store_work_fn fn, void *ctx,
                         struct err *e);

/* The round trips c has made to its database server (db_round_trips;
 * 0 on SQLite). */
uint64_t store_round_trips(struct store_conn *c);

/* A trivial query proving the database answers (for /readyz). */
err_code store_ping(struct store_conn *c, struct err *e);

/* 1 if a transaction is open on c. */
int store_in_transaction(struct store_conn *c);

/* Copy the live database into dest_path with SQLite's online backup API
 * (readers and writers go on meanwhile; WAL).  Written to dest_path.tmp,
 * fsync'ed and renamed, so dest_path is either absent or complete. */
err_code store_backup(struct store_conn *c, const char *dest_path,
                      struct err *e);

/* Open an existing database read-only (no PRAGMA changes the file: for the
 * offline verifier and for checking backups).  *conn is the store's one
 * connection, for the calling thread only; free with store_close(*out). */
err_code store_open_readonly(const char *path, const char *password_file,
                             struct store **out, struct store_conn **conn,
                             struct err *e);

/* Copy the database file src_path into dest_path the same way (restore). */
err_code store_copy_file(const char *src_path, const char *dest_path,
                         struct err *e);

#endif
