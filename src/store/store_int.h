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

/* The store's state kept with each database connection (db_conn_user). */
struct store_conn {
    struct db_conn    *dbc;
    struct store      *owner;
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
