/*
 * system.h - the service itself, for the handlers of api_system.c and
 * api_audit.c: readiness (database and tokens), the schema version, the
 * audit chain verified with the configured trust (the token's audit key,
 * the checkpoint interval, the pre-chain range, the sink), and the online
 * backup, each with what it records in the audit log.
 */
#ifndef SEALD_SYSTEM_H
#define SEALD_SYSTEM_H

#include "metrics.h"

#include <limits.h>
#include <stdint.h>

#include <jansson.h>

#include "app.h"
#include "audit.h"
#include "authz.h"
#include "err.h"
#include "store_types.h"

/* The calling thread's database connection to app's store (opened on
 * first use, owned by the store): what the HTTP layer hands each request,
 * so that it never reaches the store itself. */
err_code system_conn(const struct app *app, struct store_conn **out,
                     struct err *e);

/* The round trips db has made to the database server so far (0 on
 * SQLite, or for NULL): the request log's db_trips is the difference
 * over a request. */
uint64_t system_db_round_trips(struct store_conn *db);

/* ERR_OK when the database answers and every configured token is present
 * and logged in (a token not used for a while is made to sign once, which
 * also lets a token that came back reconnect).  *tokens: the tokens'
 * health as custody_health reports it (a new reference, or NULL when no
 * token is configured; the caller decrefs).  ERR_UNAVAILABLE (shutting
 * down, database) or ERR_HSM_UNAVAILABLE (a token), naming what is not
 * ready. */
err_code system_readiness(const struct app *app, struct store_conn *db,
                          json_t **tokens, struct err *e);

/* The schema version of the database. */
err_code system_schema_version(struct store_conn *db, int *version,
                               struct err *e);

/* Verify the audit chain of conn (the live database or a copy) with the
 * configured trust: pinned to the token's audit key, the interval and the
 * pre-chain range, against exported when given and the sink file when
 * with_sink.  The report says whether it passed; an error means it could
 * not be run. */
err_code system_audit_verify(const struct app *app, struct store_conn *conn,
                             const struct store_audit_checkpoint *exported,
                             int with_sink, struct audit_verify_report *r,
                             struct err *e);

/* The same on the live log for actor a, recorded as audit.verify. */
err_code system_audit_verify_recorded(
    const struct app *app, const struct actor_ctx *a,
    const struct store_audit_checkpoint *exported,
    struct audit_verify_report *r, struct err *e);

/* Copy the database into database.backup_dir (created 0700) under a name
 * made of the time and tag (the request id), verify the copy as a restore
 * will, and record system.backup.  path (PATH_MAX), *bytes and r say what
 * was written. */
err_code system_backup(const struct app *app, const struct actor_ctx *a,
                       const char *tag, char path[PATH_MAX], int64_t *bytes,
                       struct audit_verify_report *r, struct err *e);

/* The metrics' database gauges into *g (metrics.h): the audit chain's
 * length and the age of its newest checkpoint (-1: none), the seals by
 * state; have_db set on success.  A few cheap statements: the caller
 * caches the result (api_metrics.c), a scrape does not query each time. */
err_code system_metrics_gauges(struct store_conn *db,
                               struct metrics_gauges *g, struct err *e);

#endif
