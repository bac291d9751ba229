/*
 * app.h - the running daemon's shared context: configuration, database,
 * server secret.  One per process, built by cmd_run.c, read-only after
 * start-up except for the stopping flag.
 */
#ifndef SEALD_APP_H
#define SEALD_APP_H

#include <stdatomic.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "custody.h"
#include "ratelimit.h"
#include "store_types.h"

struct status_cache;                   /* seal_status.h */
struct cpubudget;                      /* cpubudget.h */
struct idtoken;                        /* idtoken.h */
struct fwdcert_trust;                  /* fwdcert.h */

struct app {
    const struct config *cfg;
    struct store        *store;
    struct auth_key     *key;
    struct ratelimit    *limiter;      /* per account and per address */
    struct ratelimit    *verify_limiter;      /* verify routes, per account */
    struct ratelimit    *verify_bulk_limiter; /* same, PERM_VERIFY_BULK     */
    struct ratelimit    *status_limiter;  /* GET /status/..., per address */
    struct ratelimit    *status_global;   /* ... all addresses together   */
    struct status_cache *status_cache;    /* signed statements, per node  */
    struct ratelimit    *public_verify_limiter; /* POST /public/verify,
                                                   per address           */
    struct cpubudget    *public_verify_budget;  /* ... CPU of them all   */
    struct ratelimit    *tsa_limiter;   /* POST /tsa, per address       */
    struct custody      *custody;      /* the configured tokens        */
    struct idtoken      *idtoken;      /* identity issuers; NULL: none */
    struct fwdcert_trust *fwdcert;     /* gateway.client_ca; NULL: none */
    int64_t              started_ms;
    atomic_int           stopping;     /* set on SIGTERM/SIGINT */
};

#endif
