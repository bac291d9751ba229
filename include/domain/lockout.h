/*
 * lockout.h - failed authentications counted against client addresses and
 * accounts, and the locks they earn (security.lockout_*,
 * security.address_lockout_threshold).
 *
 * The counts and locks are security state shared by every node: they live
 * in the database (auth_failures, store.h).  What this node adds is kept in
 * memory first and written in batches, because one durable write per
 * failure let anyone who can reach the port buy an fsync per request on the
 * write lock signing needs (docs/design.md, "Refusals and the audit"):
 * - a failure that makes the subject's count in the window (the database's
 *   plus this node's unwritten ones) reach the threshold writes the count
 *   and the lock at once, in one transaction: the lock holds from that
 *   request on, on every node;
 * - any other failure is only counted here, and the counts are written all
 *   in one transaction by lockout_flush(): by the maintenance tick, when
 *   the table is full, and at shutdown.
 * The table is bounded (LOCKOUT_PENDING_MAX subjects); a failure that finds
 * it full first flushes it.
 */
#ifndef SEALD_LOCKOUT_H
#define SEALD_LOCKOUT_H

#include <stdint.h>

#include "err.h"
#include "store_types.h"

#define LOCKOUT_PENDING_MAX 1024   /* subjects with unwritten failures */

#define LOCKOUT_ADDRESS "address"
#define LOCKOUT_ACCOUNT "account"

struct lockout_rule {
    int64_t window_ms;      /* failures counted over this long         */
    long    threshold;      /* ... this many lock the subject ...      */
    int64_t lock_ms;        /* ... for this long                        */
};

/* One failed authentication of subject (kind LOCKOUT_ADDRESS or
 * LOCKOUT_ACCOUNT) at now_ms under rule r.  Writes to the database only
 * when it locks the subject (or finds the table full); must be called with
 * no transaction open.  An error means the count could not be written: it
 * is kept for the next flush. */
err_code lockout_fail(struct store_conn *c, const char *kind,
                      const char *subject, const struct lockout_rule *r,
                      int64_t now_ms, struct err *e);

/* A successful authentication of subject: forget its unwritten failures,
 * and its counted ones in the database when `counted` (as
 * store_authfail_locked_until reports it: only then is a write needed). */
err_code lockout_clear(struct store_conn *c, const char *kind,
                       const char *subject, int counted, struct err *e);

/* Write every unwritten failure, all in one transaction (each may lock its
 * subject), at now_ms.  Must be called with no transaction open.  On
 * failure the counts are kept for the next flush.  *rows (may be NULL):
 * subjects written. */
err_code lockout_flush(struct store_conn *c, int64_t now_ms, int *rows,
                       struct err *e);

#endif
