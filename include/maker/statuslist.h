/*
 * statuslist.h - the signed seal status list (issue 6): the seal equivalent
 * of a CRL, for verifiers that work offline.
 *
 * Format (version 1).  Two byte strings, distributed together:
 *
 *  1. the list: one JSON object, UTF-8, written compact (no whitespace) with
 *     non-ASCII characters escaped (so the bytes are pure ASCII), no trailing
 *     newline, members in this order:
 *       "type":        "seald-seal-status-list"
 *       "version":     1
 *       "number":      list number (integer, increases with every list)
 *       "issuer":      subject of signer_cert (RFC 2253 string)
 *       "this_update": issue time, "YYYY-MM-DDTHH:MM:SSZ" (UTC)
 *       "next_update": the next list is due by then (same form); a verifier
 *                      must not rely on the list after it
 *       "sig_alg":     "1.2.156.10197.1.501" (SM2-with-SM3; ECDSA tokens:
 *                      "1.2.840.10045.4.3.2")
 *       "sm2_id":      "1234567812345678" (SM2 signer ID; SM2 only)
 *       "signer_cert": base64 (standard, padded) DER certificate of the key
 *                      that signed (the maker certificate)
 *       "entries":     array sorted by es_id (byte order, unique) of
 *                      {"es_id": str, "state": str ([a-z_], e.g. "revoked",
 *                       "suspended", "lost"), "since": time as above,
 *                       "reason": RFC 5280 CRLReason code, see below}
 *     Only seals that are NOT active are listed: a seal absent from a
 *     current list issued by its maker is active as of this_update.
 *  2. the detached signature: DER SEQUENCE { r INTEGER, s INTEGER }, SM2 with
 *     SM3 over exactly the bytes of 1 (Z with ID "1234567812345678" and the
 *     public key of signer_cert), made by the maker key through custody.
 *     Check with OpenSSL 3.0:
 *       openssl pkeyutl -verify -rawin -digest sm3 -pubin -inkey pub.pem
 *         -pkeyopt distid:1234567812345678 -in list.json -sigfile list.sig
 *     (pub.pem: `openssl x509 -pubkey -noout` of signer_cert).
 */
#ifndef SEALD_STATUSLIST_H
#define SEALD_STATUSLIST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509_vfy.h>

#include "ca.h"
#include "err.h"

#define STATUSLIST_TYPE        "seald-seal-status-list"
#define STATUSLIST_VERSION     1
#define STATUSLIST_MAX_ENTRIES 100000
#define STATUSLIST_MAX_JSON    (32u * 1024u * 1024u)
#define STATUSLIST_STATE_MAX   32
#define STATUSLIST_MAX_PERIOD  (31L * 86400L)   /* next - this update, s */

/* Reason codes (RFC 5280 CRLReason; 7 is unused there too). */
#define STATUSLIST_REASON_UNSPECIFIED    0
#define STATUSLIST_REASON_KEY_COMPROMISE 1  /* lost or compromised (挂失)  */
#define STATUSLIST_REASON_AFFILIATION    3  /* organisation changed       */
#define STATUSLIST_REASON_SUPERSEDED     4  /* replaced by a new seal     */
#define STATUSLIST_REASON_CESSATION      5  /* no longer needed (注销)    */
#define STATUSLIST_REASON_HOLD           6  /* suspended                  */
#define STATUSLIST_REASON_MAX            10

struct statuslist_entry {
    const char *es_id;       /* printable ASCII, 1..SEAL_ESID_MAX        */
    const char *state;       /* [a-z_], 1..STATUSLIST_STATE_MAX          */
    time_t since;            /* not after this_update                    */
    int reason;              /* 0..STATUSLIST_REASON_MAX, not 7          */
};

struct statuslist_params {
    int64_t number;                          /* >= 0                     */
    time_t this_update, next_update;         /* next > this, at most
                                                STATUSLIST_MAX_PERIOD    */
    const struct statuslist_entry *entries;  /* any order                */
    size_t n_entries;                        /* <= STATUSLIST_MAX_ENTRIES */
    const uint8_t *signer_cert;              /* DER, holds signer's key  */
    size_t signer_cert_len;
};

/*
 * Build the list (*json, malloc'ed, NUL-terminated, *json_len bytes
 * without the NUL) and its detached signature (sig, *sig_len) with the
 * signer key through custody.  ERR_INVALID for bad entries (duplicates,
 * bad state or reason) or a certificate that does not hold the key.
 */
err_code statuslist_build(const struct ca_key *signer,
                          const struct statuslist_params *p, char **json,
                          size_t *json_len, uint8_t sig[CA_SIG_MAX],
                          size_t *sig_len, struct err *e);

/*
 * Verify a list for an offline verifier: the signature over the exact
 * bytes with the key of its signer_cert, the fields above, next_update not
 * passed at now, and, if anchors is not NULL, the signer certificate's
 * chain (ca_import_check rules).  *out (new reference, caller decrefs) is
 * the parsed list.  ERR_INVALID with the reason otherwise.
 */
err_code statuslist_verify(const uint8_t *json, size_t len,
                           const uint8_t *sig, size_t sig_len,
                           X509_STORE *anchors, time_t now, json_t **out,
                           struct err *e);

/* The entry for es_id in a verified list (borrowed), or NULL if the seal
 * is not listed (active). */
json_t *statuslist_find(json_t *list, const char *es_id);

#endif
