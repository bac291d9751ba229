/*
 * store_lease.h - the queries of store_lease.c: the lease rows of the
 * periodic jobs (job_leases, sql/sqlite/009_job_leases.sql), by which each
 * job runs on one node per period when several nodes share the database.
 */
#ifndef SEALD_STORE_LEASE_H
#define SEALD_STORE_LEASE_H

#include "store.h"

/* The first schema version with the lease rows. */
#define STORE_SCHEMA_JOB_LEASES 9

/* Claim job's lease for holder until until_ms, at now_ms, in the caller's
 * transaction: one conditional UPDATE ... RETURNING, won (*won 1) when the
 * lease has run out (until_ms <= now_ms) or holder already holds it, lost
 * (*won 0) otherwise.  Concurrent claims from several nodes serialise on
 * the row: exactly one of those that find it run out wins.  (A job
 * without its row, which the migration seeds, is never won.) */
err_code store_lease_claim(struct store_conn *c, const char *job,
                           const char *holder, int64_t now_ms,
                           int64_t until_ms, int *won, struct err *e);

/* Give back holder's lease of job in the caller's transaction (it runs out
 * at once); nothing when another node holds it. */
err_code store_lease_release(struct store_conn *c, const char *job,
                             const char *holder, struct err *e);

#endif
