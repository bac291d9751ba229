/*
 * seal_status.h - the signed seal status statements for relying parties
 * (issue 17, GET /status/...): what a seal's state means to someone who
 * holds no account, signed by the instance's status key (the format is
 * sealstatus.h), and the per-node cache of statements.
 *
 * A statement is signed once and served again while the seal's state row
 * (state, state_since, reason) and the status signer are unchanged and at
 * least status.max_age_seconds of its validity are left.  The row is read
 * from the database on every request, so a change made on any node is
 * answered at once by every node; only HTTP caches may lag, by max-age.
 */
#ifndef SEALD_SEAL_STATUS_H
#define SEALD_SEAL_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "seal.h"
#include "sealstatus.h"

struct status_cache;

/* A cache of statements for one database (one per daemon).  NULL on OOM. */
struct status_cache *status_cache_new(void);
void status_cache_free(struct status_cache *c);

/* A statement: its fields (f.cert NULL: the DER carries the certificate)
 * and its DER (malloc'ed; seal_statement_free frees it). */
struct seal_statement {
    struct sstatus f;
    uint8_t       *der;
    size_t         der_len;
    int            cached;    /* served from this node's cache */
};

/*
 * The statement at now for the seal named by key: an esID (by_hash 0) or
 * the lowercase hex SM3 of its file (by_hash 1).  A seal seald does not
 * know gets a signed "unknown" statement naming what was asked, as OCSP
 * answers.  States map as docs/status-format.md says: made -> suspended,
 * active past its validity -> expired.  cache may be NULL (always sign).
 * ERR_UNAVAILABLE when the instance has no status key (made before
 * migration 010), ERR_HSM_UNAVAILABLE from custody, ERR_INVALID for a key
 * that names no possible seal.
 */
err_code seal_status_statement(struct store_conn *db,
                               const struct seal_env *env,
                               struct status_cache *cache, const char *key,
                               int by_hash, time_t now,
                               struct seal_statement *out, struct err *e);

void seal_statement_free(struct seal_statement *s);

/*
 * Record the SM3 of every seal file made before migration 010 (seals made
 * since carry it), in units of at most a page each, acting as the system;
 * *n the seals filled in.  Run at start-up; idempotent, so several nodes
 * may run it at once.
 */
err_code seal_hash_backfill(struct store_conn *db, int *n, struct err *e);

#endif
