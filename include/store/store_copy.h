/*
 * store_copy.h - seald migrate's copy of a whole seald database into an
 * empty one (store_copy.c): every table of the schema but schema_version
 * (the target's own migrations write it), every row with its ids and
 * every column exactly as it is, in an order the foreign keys accept.
 * The table list, and for each table its statements and column types, is
 * store_copy.c's; the SQL is db_stmt.c's (DB_COPY_*).
 */
#ifndef SEALD_STORE_COPY_H
#define SEALD_STORE_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "store_types.h"

/* Tables the copy covers, and the longest column list store_copy_table
 * writes. */
#define STORE_COPY_TABLES    27
#define STORE_COPY_COLS_MAX  1024

/* Check the copy list against itself: for each table the statement that
 * reads it and the one that writes it name the same columns, one type per
 * column, and the write takes one parameter per column.  ERR_INTERNAL
 * naming the table otherwise (a bug of this build, caught before any row
 * is read). */
err_code store_copy_check(struct err *e);

/* Table i (0 <= i < STORE_COPY_TABLES) in copy order: *name, and in cols
 * (cap bytes; NULL: the name only) its columns in the schema's order,
 * separated by one space.  ERR_INVALID for an i out of range or a list
 * longer than cap. */
err_code store_copy_table(size_t i, const char **name, char *cols,
                          size_t cap, struct err *e);

/* Rows of table i on c. */
err_code store_copy_count(struct store_conn *c, size_t i, int64_t *n,
                          struct err *e);

/* Copy every row of from into to.  Must run inside a transaction on to
 * (store_run), which makes the copy all or nothing; from is only read.
 * to must be at from's schema version and hold nothing but what its
 * migrations made (the audit head at seq 0): any other row is
 * ERR_CONFLICT before a row is written.  Afterwards each table's rows are
 * counted on both sides and must agree (ERR_INTERNAL otherwise), and each
 * identity of to assigns ids above the ones copied (db_ids_follow).
 * rows[i] (rows may be NULL) gets table i's row count. */
err_code store_copy_rows(struct store_conn *from, struct store_conn *to,
                         int64_t rows[STORE_COPY_TABLES], struct err *e);

#endif
