/*
 * store_int.h - internals shared by the store's source files (store.c and
 * store_<concern>.c): the store and its per-connection state.  Statements
 * are the database layer's (db.h).  Nothing outside the store includes
 * this.
 */
#ifndef SEALD_STORE_INT_H
#define SEALD_STORE_INT_H

#include <pthread.h>
#include <stdint.h>

#include "db.h"
#include "store.h"
#include "store_audit.h"

/* The store's state kept with each database connection (db_conn_user). */
struct store_conn {
    struct db_conn    *dbc;
    struct store      *owner;
    /* In a batch (store.c, the group commit on PostgreSQL): the audit
     * chain's head as this transaction last moved it.  The transaction
     * holds the head row's lock from its first append to its end, so
     * nobody else can move it meanwhile and later appends need not read
     * it back (store_audit.c).  head_claimed: the last claim came from
     * here, not from the row, so the row's seq has not moved yet. */
    int                head_known, head_claimed;
    int64_t            head_seq;
    uint8_t            head_hash[STORE_AUDIT_HASH_LEN];
};

struct store_group_item;        /* store.c: one caller's work in a group */

struct store {
    struct db         *db;
    /* group commit (store_group_run): */
    pthread_mutex_t    glock;    /* guards the queue and leading */
    struct store_group_item *ghead, **gtail;
    int                leading;  /* a thread is running a group */
};

#endif
