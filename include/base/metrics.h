/*
 * metrics.h - the metrics registry: every counter and histogram seald
 * exports at GET /metrics, and the one function that writes them in the
 * Prometheus text exposition format (version 0.0.4).
 *
 * Contract.  Every family is fixed here, with bounded labels: a label value
 * is an index into a table known at start (the routing table's rows, a
 * status slot, an outcome, a dialect), never text a client sent, so the
 * number of series cannot grow with traffic.  Recording (metrics_http,
 * metrics_sign, ...) is lock-free: relaxed C11 atomic adds on static
 * memory, no allocation, callable from any thread at any time, before
 * metrics_routes_set too (a request then counts as unmatched).  Reading
 * (metrics_render) takes no lock either; a scrape may see one counter of a
 * request moved and another not yet, which Prometheus tolerates.  Values
 * the registry does not own (gauges from the database, cached by the
 * caller) are handed to metrics_render in struct metrics_gauges.
 */
#ifndef SEALD_METRICS_H
#define SEALD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Most routes the registry keeps series for; rows past it count as
 * unmatched (metrics_routes_set says so in its return value). */
#define METRICS_ROUTES_MAX 128

/* Tell the registry the route labels: method[i] and pattern[i] (static
 * strings, the routing table's, which must outlive the process's use of
 * the registry) for route index i < n.  Called once, before the server
 * starts.  Returns the number of routes kept (n, or METRICS_ROUTES_MAX). */
size_t metrics_routes_set(const char *const *method,
                          const char *const *pattern, size_t n);

/* One answered request: route index (from metrics_routes_set; anything
 * >= the number set, e.g. (size_t)-1, is "unmatched"), HTTP status and
 * duration in microseconds. */
void metrics_http(size_t route, int status, int64_t dur_us);

/* Outcomes of a signature or a verification.  ok: a signature given out,
 * a verification that ran to a report saying valid; invalid: a
 * verification whose report says not valid; refused: the caller may not
 * or the input was refused (4xx); failed: the server could not (5xx). */
enum metrics_outcome {
    METRICS_OK,
    METRICS_INVALID,
    METRICS_REFUSED,
    METRICS_FAILED,
    METRICS_OUTCOME__COUNT
};

void metrics_sign(enum metrics_outcome o);
void metrics_verify(enum metrics_outcome o);

/* Token (PKCS#11) operations, by kind: a signature, a key pair made, a
 * public key read; other (listing keys).  Verification is software
 * (OpenSSL), never the token's. */
enum metrics_token_op {
    METRICS_TOKEN_SIGN,
    METRICS_TOKEN_KEYGEN,
    METRICS_TOKEN_PUBLIC_KEY,
    METRICS_TOKEN_OTHER,
    METRICS_TOKEN_OP__COUNT
};

/* One token operation: failed is nonzero when the token refused or
 * failed; dur_us its duration in microseconds. */
void metrics_token(enum metrics_token_op op, int failed, int64_t dur_us);

/* One group commit of n units of work (store.c). */
void metrics_group_commit(size_t n);

enum metrics_dialect {
    METRICS_SQLITE,
    METRICS_POSTGRESQL,
    METRICS_DIALECT__COUNT
};

/* One database statement step (or BEGIN/COMMIT) on dialect d: failed
 * nonzero when it returned an error, dur_us its duration. */
void metrics_db(enum metrics_dialect d, int failed, int64_t dur_us);

/* n round trips to a database server (PostgreSQL) made by dialect d. */
void metrics_db_trips(enum metrics_dialect d, uint64_t n);

/* Microseconds of the monotonic clock, for the durations above. */
int64_t metrics_now_us(void);

/* Values owned elsewhere, read from the database by the caller (who
 * caches them: they are not worth a query on every scrape). */
#define METRICS_STATES_MAX 16
struct metrics_gauges {
    int         have_db;            /* 0: the database values are unknown */
    int64_t     audit_entries;      /* the audit chain's length (its head) */
    int64_t     checkpoint_age_s;   /* -1: there is no checkpoint yet */
    int64_t     refreshed_age_s;    /* how old these values are */
    size_t      nstates;
    const char *state[METRICS_STATES_MAX];   /* static names */
    int64_t     seals[METRICS_STATES_MAX];
    /* The outbox backlog: deliveries still to be made
     * (seald_outbox_backlog), written when have_outbox is set
     * (system_metrics_gauges sets both). */
    int         have_outbox;
    int64_t     outbox_backlog;
};

/* The whole exposition: every family with its HELP and TYPE, then the
 * gauges g (may be NULL).  *out is malloc'ed, NUL-terminated, *len bytes
 * without the NUL; the caller frees it.  ERR_NOMEM when memory runs out. */
err_code metrics_render(const struct metrics_gauges *g, char **out,
                        size_t *len, struct err *e);

/* Zero every counter (unit tests only: the daemon never forgets). */
void metrics_reset(void);

#endif
