/*
 * maintenance.h - the daemon's periodic jobs: seals past their validity
 * become expired, and seals unused for too long are suspended; and the
 * refusals of unauthenticated requests counted since the last turn are
 * written to the audit log as summaries (audit_refusals_flush), and the
 * failed authentications counted to auth_failures (lockout_flush).  It runs in
 * its own thread with its own database connection.  With several nodes on
 * one database the seal job runs on the node that holds its lease (lease.h),
 * once per period across the cluster; the counts are each node's own and
 * every node writes them.
 */
#ifndef SEALD_MAINTENANCE_H
#define SEALD_MAINTENANCE_H

#include "app.h"
#include "err.h"

struct maintenance;

/* Start the jobs for app (seals every cfg->seal_maintenance_seconds,
 * counts every cfg->audit_refusal_window_seconds). */
err_code maintenance_start(struct app *app, struct maintenance **out,
                           struct err *e);

/* Stop it and wait for the thread (NULL is fine). */
void maintenance_stop(struct maintenance *m);

#endif
