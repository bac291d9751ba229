/*
 * revocation.h - the revocation data of the trust anchors (issue 17 items
 * 5 and 7): per anchor a sidecar file in the trust directory names where
 * its CA publishes CRLs and where its seal issuer publishes a seal status
 * list; this module reads them (file or URL, through fetch_url), checks
 * them, caches them in memory until their nextUpdate and answers "is this
 * certificate revoked" and "what does the issuer's status list say".
 *
 * Sidecar: TRUST_DIR/NAME.conf beside the anchor file NAME.pem (or .crt,
 * .cer, .der), lines "key = value", '#' comments:
 *   crl = FILE | URL         CRL of a CA in NAME's file (repeatable, at
 *                            most REV_MAX_CRLS); PEM or DER
 *   status_list = FILE | URL the issuer's seal status list: the answer of
 *                            GET /api/v1/seal-status-list ({"list",
 *                            "signature"}, optionally inside "data")
 *   status_signer_sha256 = HEX  SHA-256 of the DER certificate that signs
 *                            that list (a seald issuer: its maker
 *                            certificate); the list answers for the seals
 *                            whose maker certificate is that certificate
 *   retry_seconds = N        least time between two reads of a source that
 *                            failed or is stale (default REV_RETRY_S_DEFAULT)
 *   ocsp = URL | aia         an OCSP responder of the CAs in NAME's file
 *                            (once); "aia": the URL in each certificate's
 *                            authorityInfoAccess (the CA signed it)
 *   ocsp_max_age = N         seconds an OCSP answer is used at most, even
 *                            when its nextUpdate is later (default
 *                            REV_OCSP_MAX_AGE_S_DEFAULT, 1..REV_RETRY_S_MAX)
 *   ocsp_nonce = optional | required | off   (default optional)
 * A relative FILE is taken from the trust directory.  A CRL answers for
 * the certificates issued by a certificate of NAME's anchor file with the
 * CRL's issuer name: its signature must verify with that certificate's key
 * (SM2 with ID 1234567812345678, or what OpenSSL verifies for other
 * algorithms), and thisUpdate must not be in the future (REV_SKEW_MS) nor
 * nextUpdate passed; a stale CRL is read again (at most every retry
 * seconds) and, until a fresh one arrives, its certificates are
 * "unavailable".  The cache is per process: every node reads the sources
 * itself (the sources are shared, files or URLs, so nodes agree once each
 * has read the same CRL).
 *
 * OCSP (RFC 6960): a request per certificate (SHA-1 CertID, a nonce),
 * POSTed through fetch_url; the answer must be signed by the issuer or by
 * a responder certificate the issuer issued with id-kp-OCSPSigning, valid
 * now; its nonce, when echoed, must match (required: must be echoed); its
 * thisUpdate not more than REV_SKEW_MS ahead, its nextUpdate not more than
 * REV_SKEW_MS past, and without nextUpdate (and without the nonce) its
 * thisUpdate not older than ocsp_max_age.  good and revoked answers are
 * cached per certificate until nextUpdate + REV_SKEW_MS or ocsp_max_age
 * after they were fetched, whichever comes first; a failure is remembered
 * for retry_seconds.  Order: OCSP first; revoked (or on hold) there is the
 * answer; otherwise the CRLs are read too and a revocation on a fresh CRL
 * wins over OCSP's good; good needs one of them; neither: unavailable.
 *
 * Thread-safe: one mutex per source, and one per anchor's OCSP cache; a
 * fetch or an OCSP request holds only its own.
 */
#ifndef SEALD_REVOCATION_H
#define SEALD_REVOCATION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509_vfy.h>

#include "err.h"

#define REV_MAX_ANCHORS       64     /* sidecar files read per directory  */
#define REV_MAX_CRLS          8      /* crl lines per sidecar             */
#define REV_MAX_CERTS         16     /* certificates per anchor file      */
#define REV_LOC_MAX           1024   /* a FILE or URL                     */
#define REV_CONF_MAX          (64u * 1024u)
#define REV_CRL_MAX           (16u * 1024u * 1024u)
#define REV_LIST_MAX          (64u * 1024u * 1024u)
#define REV_RETRY_S_DEFAULT   30
#define REV_RETRY_S_MAX       86400
#define REV_MEMO_ENTRIES      256    /* certificates remembered per set  */
#define REV_SKEW_MS           (5LL * 60 * 1000)  /* thisUpdate ahead of us */
#define REV_OCSP_MAX          (64u * 1024u)      /* an OCSP response      */
#define REV_OCSP_TIMEOUT_MS   5000               /* one OCSP exchange     */
#define REV_OCSP_ENTRIES      512    /* certificates cached per anchor    */
#define REV_OCSP_MAX_AGE_S_DEFAULT 3600

struct rev_set;

/* The sources of every sidecar in dir.  A sidecar that cannot be read or
 * parsed is skipped and logged, as an unreadable anchor file is; a missing
 * directory is an empty set.  *out is the caller's (rev_set_free). */
err_code rev_set_load(const char *dir, struct rev_set **out, struct err *e);
void rev_set_free(struct rev_set *s);

/* Number of sidecars (anchors with revocation data). */
int rev_set_count(const struct rev_set *s);

enum rev_state {
    REV_NO_SOURCE = 0,   /* no sidecar covers the certificate's issuer   */
    REV_GOOD,            /* not on a fresh CRL of its issuer             */
    REV_REVOKED,         /* on it; revoked_ms, reason                    */
    REV_HOLD,            /* on it as certificateHold                     */
    REV_UNAVAILABLE      /* sources named, none fresh and valid: why     */
};

struct rev_answer {
    enum rev_state state;
    int64_t revoked_ms;          /* REVOKED / HOLD: revocationDate         */
    int     reason;              /* RFC 5280 CRLReason, -1 absent          */
    char    issuer[256];         /* issuer name, RFC 2253                  */
    char    anchor[256];         /* the sidecar's NAME                     */
    char    source[REV_LOC_MAX]; /* the CRL's FILE or URL, or the OCSP
                                    responder's URL (GOOD, REVOKED, HOLD) */
    const char *kind;            /* "crl" or "ocsp" with source, else NULL */
    int64_t this_update_ms, next_update_ms;
    char    why[320];            /* UNAVAILABLE: every source's failure    */
};

/* The status at now_ms of the DER certificate cert against the OCSP
 * responder and the CRLs of its issuer (asking or reading them as needed,
 * in the order above).  ERR_MALFORMED when
 * cert is not a certificate; every other outcome is in *a. */
err_code rev_cert_status(struct rev_set *s, const uint8_t *cert, size_t len,
                         int64_t now_ms, struct rev_answer *a, struct err *e);

/* CRLReason name ("keyCompromise"...) of code, "unspecified" if unknown. */
const char *rev_reason_name(int reason);

/*
 * The seal status list of the issuer whose pinned status signer is the
 * seal maker certificate maker (DER), verified (statuslist_verify: its
 * signature, fields, next_update, the signer's chain to anchors) and
 * checked to be signed by that certificate.  Returns REV_NO_SOURCE when no
 * sidecar pins that certificate; REV_GOOD with *list (new reference,
 * caller decrefs) and anchor (the sidecar's NAME, capacity 256); or
 * REV_UNAVAILABLE with why (capacity 320).
 */
enum rev_state rev_issuer_list(struct rev_set *s, X509_STORE *anchors,
                               const uint8_t *maker, size_t maker_len,
                               int64_t now_ms, json_t **list, char *anchor,
                               char *why);

#endif
