/*
 * verify.h - the verification service (issue 7): verifies SES signatures,
 * seals and OFD packages with the format library against the trust
 * anchors, caches the time-independent seal-and-chain work, and adds to
 * every report of a seal its status at signing time and now from a status
 * source (issue 17: verify_status_apply, the one place for it, used by the
 * API and the CLI alike).  No HTTP here.
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
 * SESeal; for verify_ofd, the package); doc or hash (SM3, 32 bytes)
 * optional, doc wins; signer_id: the SM2 ID (NULL: SM2_DEFAULT_ID);
 * pictures: verify_signature and verify_seal add the seal's picture to the
 * report's seal ("picture": type, size, width_mm, height_mm, data_base64),
 * for a reader who shows it (the verification page). */
struct verify_input {
    const uint8_t *der;
    size_t         der_len;
    const uint8_t *doc;
    size_t         doc_len;
    const uint8_t *hash;
    size_t         hash_len;
    const char    *signer_id;
    int            pictures;
};

/*
 * Where a seal's status comes from (issue 17 items 5 and 6).  Pass NULL, or
 * one with neither source, when there is none: every seal's status is then
 * "not checked".
 *   db:   this instance's database: the seals it issued (matched by esID
 *         AND the stored seal's signed part and signature value), their
 *         history, and its usage records (the signatures table), which are
 *         proof of existence of the signatures it made;
 *   lists: n_lists parts of seal status lists, each already verified by
 *         statuslist_verify (borrowed) with signer (DER, borrowed) its
 *         signer_cert: a part answers for the seals whose maker
 *         certificate is that certificate and whose esID it covers
 *         (statuslist_covers); of several such parts the one with the
 *         latest this_update; it proves nothing about when a signature
 *         existed.
 *   rev, anchors: set by the service itself (callers leave them NULL):
 *         the trust anchors' revocation data (revocation.h): foreign
 *         issuers' status lists (item 5), for seals no source above
 *         answers for, and the CRLs of the certificates' CAs (item 7).
 * A timestamp's genTime (item 8) is a proof of existence like a usage
 * record.
 */
struct rev_set;
struct x509_store_st;
struct verify_list_part {
    const json_t      *list;
    const uint8_t     *signer;
    size_t             signer_len;
};
struct verify_status {
    struct store_conn *db;
    const struct verify_list_part *lists;
    size_t             n_lists;
    struct rev_set       *rev;
    struct x509_store_st *anchors;
};

/* Verify a signature: an SES_Signature or a GB/T 35275 SignedData, with
 * in->doc / in->hash the signed document (for an OFD SignedValue, the
 * bytes of its Signature.xml).  *report (caller's, json_decref) is the
 * format library's report plus "cache" ("hit" / "miss"; "none" for a
 * SignedData, which carries no seal), "time_used_ms", and the seal's
 * status as verify_status_apply gives it (st may be NULL: not checked).
 * ERR_MALFORMED / ERR_TOO_LARGE / ERR_UNSUPPORTED when der is not a
 * signature (nothing is reported then); a status source that fails (the
 * database) is an error too, never a report without the status. */
err_code verify_signature(struct verify_service *v,
                          const struct verify_status *st,
                          const struct verify_input *in, json_t **report,
                          struct err *e);

/* Verify a seal file alone (in->doc / in->hash ignored), with its status
 * now (verify_status_apply). */
err_code verify_seal(struct verify_service *v, const struct verify_status *st,
                     const struct verify_input *in, json_t **report,
                     struct err *e);

/* Verify every signature of the OFD package in->der (in->der_len bytes)
 * with ofd_verify against the service's anchors, each SES_Signature with
 * its seal's status (verify_status_apply) before its indication and the
 * package's are concluded.  pictures, max_inflated: as ofd_verify_opts.
 * Errors as ofd_verify's, plus the status source's. */
err_code verify_ofd(struct verify_service *v, const struct verify_status *st,
                    const struct verify_input *in, int pictures,
                    size_t max_inflated, json_t **report, struct err *e);

/*
 * The one place where a seal's status enters a verification report, for
 * every path (detached signature, OFD, seal alone; API and CLI).  seal is
 * the seal verified, sig the signature that carries it (NULL: the seal
 * alone), der/len the signature's DER (for the usage record).  Adds
 * checks.seal_status and, when a source answered, "seald_status"; changes
 * the indication (never to a better one) as docs/manual.md "Verification"
 * says:
 *   signature, seal not active at the best signing time (seald's usage
 *     record when there is one, else TBS_Sign.timeInfo, a claim): revoked,
 *     lost or suspended -> TOTAL_FAILED/REVOKED; not yet made, made but
 *     not confirmed, expired -> TOTAL_FAILED/SIG_CONSTRAINTS_FAILURE;
 *   active then, revoked / lost / suspended now: with a usage record made
 *     before the seal left the active state -> unchanged (TOTAL_PASSED),
 *     the revocation reported; without -> INDETERMINATE/REVOKED_NO_POE;
 *   seal alone: revoked -> TOTAL_FAILED/REVOKED; expired ->
 *     TOTAL_FAILED/EXPIRED; suspended, lost, not yet confirmed ->
 *     INDETERMINATE/TRY_LATER;
 *   no source for this seal (st NULL, a seal not issued here and not in
 *     the list's scope) -> check "not_checked", TOTAL_PASSED becomes
 *     INDETERMINATE/TRY_LATER;
 *   a seal carrying an esID issued here whose content differs ->
 *     TOTAL_FAILED/SIG_CONSTRAINTS_FAILURE.
 * A foreign seal (no source above) whose maker certificate is the pinned
 * status signer of a trust anchor gets the facts from that issuer's list
 * (source "issuer_status_list"; unavailable -> INDETERMINATE/TRY_LATER).
 * Then the certificates' status (verify_cert_status_apply below).
 */
struct ses_seal;
struct ses_signature;
err_code verify_status_apply(const struct verify_status *st,
                             const struct ses_seal *seal,
                             const struct ses_signature *sig,
                             const uint8_t *der, size_t len, json_t *report,
                             struct err *e);

/*
 * The certificates' revocation status in a report (issue 17 item 7): the
 * signer's and the maker's certificates of a signature (sig not NULL), or
 * the maker's and the holder's of a seal alone, against their CAs' CRLs
 * (vs->rev).  Adds checks.certificate_status {status, reason, and per
 * certificate role {status, issuer, anchor, source, this_update,
 * next_update, revoked_at, revocation_reason}} and lowers the indication:
 *   revoked at or before the best signing time (proof of existence, else
 *     the claimed timeInfo), or a seal alone with a revoked certificate ->
 *     TOTAL_FAILED/REVOKED;
 *   revoked after it: with a proof of existence before the revocation ->
 *     unchanged, the revocation reported; without ->
 *     INDETERMINATE/REVOKED_NO_POE;
 *   on hold, or the CA's revocation data unavailable (unreachable, stale,
 *     badly signed) -> INDETERMINATE/TRY_LATER;
 *   no revocation source for the CA -> "not_checked", unchanged.
 * The proof of existence is read from the report, where the seal status
 * put it: seald_status.proof_of_existence.time (a usage record; a
 * timestamp's genTime belongs there too).
 */
void verify_cert_status_apply(const struct verify_status *vs,
                              const struct ses_seal *seal,
                              const struct ses_signature *sig,
                              json_t *report);

/* For seal making with an external CA's certificate (DER): ERR_OK when
 * its CA's CRL does not list it or no source is configured for that CA;
 * ERR_INVALID when it is revoked or on hold (the message says since when
 * and why); ERR_UNAVAILABLE when the CA's revocation data cannot be had. */
err_code verify_cert_not_revoked(struct verify_service *v,
                                 const uint8_t *cert, size_t len,
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
