/*
 * lease.h - once across the cluster: the periodic jobs that change shared
 * state (the seal job of maintenance.c, the audit checkpointer of audit.c)
 * run on one node per period however many nodes share the database.
 *
 * Each node has an id, random hex made when the process first asks for it
 * (cmd_run.c logs it at start).  Before a turn of a job, the node claims the
 * job's lease row for one period (store_lease.h): it runs the turn only
 * when it won, which it does when the lease has run out or is already its
 * own.  So the node that holds a job keeps it while it lives; a node that
 * stops gives it back at once (lease_release), and one that dies loses it
 * when its period runs out, after which the next node to claim takes over.
 * With one node (SQLite) the claim is always won: one short write
 * transaction per turn of the job, no more.
 *
 * What each node counts in its own memory (the refusal summaries of audit.c,
 * the unwritten failed authentications of lockout.c) is that node's own and
 * is written by every node: those take no lease.
 */
#ifndef SEALD_LEASE_H
#define SEALD_LEASE_H

#include <stdint.h>

#include "err.h"
#include "store_types.h"

#define LEASE_JOB_SEALS      "seals"             /* seal_maintain          */
#define LEASE_JOB_CHECKPOINT "audit_checkpoint"  /* the checkpointer       */
#define LEASE_NODE_HEX       16                  /* hex digits of a node id */

/* This process's node id: LEASE_NODE_HEX lowercase hex digits, made on the
 * first call (random; never fails) and the same for the process's life. */
const char *lease_node_id(void);

/* Claim job's lease for period_ms from now, in a transaction of its own (none
 * may be open on c): *won 1 when this node runs the job's turn now.  A
 * database failure is returned with *won 0. */
err_code lease_claim(struct store_conn *c, const char *job, int64_t period_ms,
                     int *won, struct err *e);

/* Give job's lease back if this node holds it, so that another node may take
 * the job at once (at shutdown).  Failures are ignored: the lease then runs
 * out by itself. */
void lease_release(struct store_conn *c, const char *job);

#endif
