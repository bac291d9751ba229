/*
 * audit.h - the one audit entry point.  Every accepted state change and every
 * refused attempt is recorded through audit_append(), nowhere else.
 *
 * For a state change, call it inside the transaction that makes the change,
 * so the change and its record commit together (if the audit write fails, the
 * change fails: fail closed).  For a refusal, call it with no transaction
 * open: the record then commits on its own.
 */
#ifndef SEALD_AUDIT_H
#define SEALD_AUDIT_H

#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "store.h"

#define AUDIT_OK      "ok"
#define AUDIT_REFUSED "refused"
#define AUDIT_FAILED  "failed"

/* Who did it and from where: filled by the HTTP layer for each request, or
 * by a CLI command for local actions (client_addr "local"). */
struct audit_actor {
    int64_t     account_id;     /* 0: unauthenticated */
    const char *role;           /* role acted in, or NULL */
    const char *client_addr;
    const char *request_id;
};

struct audit_event {
    const char *action;         /* e.g. "account.create", "auth.authenticate" */
    const char *target_type;    /* seal, application, request, account, ...  */
    const char *target_id;
    const char *outcome;        /* AUDIT_OK, AUDIT_REFUSED, AUDIT_FAILED      */
    const char *reason;         /* why refused/failed; NULL when ok           */
    const json_t *details;      /* small JSON object or NULL (borrowed)       */
};

/* Append one record.  Fails (and the caller must roll back) if it cannot be
 * written. */
err_code audit_append(struct store_conn *c, const struct audit_actor *who,
                      const struct audit_event *ev, struct err *e);

#endif
