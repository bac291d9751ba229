/*
 * verify.h - the verification service (issue 7): verifies SES signatures
 * and seals with the format library against the trust anchors, caches the
 * time-independent seal-and-chain work, and adds, for seals this service
 * issued, the seal's status now and at signing time from the database.
 * No HTTP here.
 *
 * Cache: keyed by SM3 over the bytes the cached work depends on (the seal's
 * signed part, maker certificate, algorithm and signature value, the signer
 * certificate, the SM2 ID) and the trust-store generation; at most
 * VERIFY_CACHE_ENTRIES entries with least-recently-used eviction; one mutex.
 * The trust directory is re-read (listing fingerprint: names, sizes,
 * modification times) at most every check_ms; a change loads a new store,
 * bumps the generation and empties the cache.  Seal status is never cached:
 * it is read from the database on every call.  The signer's signature over
 * TBS_Sign and the dataHash check are never cached either.
 */
#ifndef SEALD_VERIFY_H
#define SEALD_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "store_types.h"

#define VERIFY_CACHE_ENTRIES   256     /* seal-and-chain results kept      */
#define VERIFY_TRUST_CHECK_MS  5000    /* trust directory re-check period  */


struct verify_service;

/* A service over the anchors in trust_dir (copied), re-checked at most
 * every check_ms (0: on every call), caching at most entries results (0 or
 * more than VERIFY_CACHE_ENTRIES: VERIFY_CACHE_ENTRIES).  A missing or
 * unreadable directory means no anchors (chains are then indeterminate),
 * not an error.  *out is the caller's (verify_service_free). */
err_code verify_service_new(const char *trust_dir, long check_ms,
                            size_t entries, struct verify_service **out,
                            struct err *e);
void verify_service_free(struct verify_service *v);

/* The daemon's one service for trust_dir, made on first use (thread-safe)
 * and kept for the life of the process (*out borrowed).  A later call with
 * another directory gets ERR_INTERNAL. */
err_code verify_service_shared(const char *trust_dir,
                               struct verify_service **out, struct err *e);

/* What to verify.  der: the SES_Signature (or, for verify_seal, the
 * SESeal); doc or hash (SM3, 32 bytes) optional, doc wins. */
struct verify_input {
    const uint8_t *der;
    size_t         der_len;
    const uint8_t *doc;
    size_t         doc_len;
    const uint8_t *hash;
    size_t         hash_len;
};

/* Verify a signature: an SES_Signature or a GB/T 35275 SignedData, with
 * in->doc / in->hash the signed document (for an OFD SignedValue, the
 * bytes of its Signature.xml).  *report (caller's, json_decref) is the
 * format library's report plus "cache" ("hit" / "miss"; "none" for a
 * SignedData, which carries no seal), "time_used_ms" and, when the
 * embedded seal is one this service issued (db may be NULL: no lookup),
 * "seald_status" {esid, state_now, state_since, reason_code, signing_time,
 * state_at_signing, summary}; the state at signing is the one in force at
 * the end of the second TBS_Sign.timeInfo names.  A seal that was not
 * active at signing time turns the indication to TOTAL_FAILED.
 * ERR_MALFORMED / ERR_TOO_LARGE / ERR_UNSUPPORTED when der is not a
 * signature (nothing is reported then). */
err_code verify_signature(struct verify_service *v, struct store_conn *db,
                          const struct verify_input *in, json_t **report,
                          struct err *e);

/* Verify a seal file alone (in->doc / in->hash ignored); "seald_status"
 * gives the state now for seals this service issued. */
err_code verify_seal(struct verify_service *v, struct store_conn *db,
                     const struct verify_input *in, json_t **report,
                     struct err *e);

/* Counters, for tests and monitoring. */
struct verify_stats {
    uint64_t hits, misses, evictions;
    uint64_t generation;          /* trust-store generation */
    size_t   entries;
    int      anchors;
};
void verify_stats_get(struct verify_service *v, struct verify_stats *out);

/* State of seal s at time at_ms: SEAL_MADE from s->made_ms, then the
 * to_state of each history row (store_history_list order) at or before
 * at_ms; SEAL_NONE before the seal was made.  Exposed for unit tests. */
err_code verify_state_at(struct store_conn *db, const struct store_seal *s,
                         int64_t at_ms, enum seal_state *out,
                         struct err *e);

#endif
