/*
 * statuslist.h - the signed seal status list (issue 6): the seal equivalent
 * of a CRL, for verifiers that work offline.
 *
 * Format (version 2; issue 17 item 2).  The list is published in parts:
 * part i of n is the page of at most status.list_part_entries entries
 * that follows part i - 1 in esID byte order, and says which esIDs it
 * answers for (range_after, range_until), so that a part is a complete,
 * signed statement on its own range: a relying party with one seal fetches
 * the part whose range holds the seal's esID, an offline verifier every
 * part.  Each part is two byte strings, distributed together:
 *
 *  1. the list: one JSON object, UTF-8, written compact (no whitespace) with
 *     non-ASCII characters escaped (so the bytes are pure ASCII), no trailing
 *     newline, members in this order:
 *       "type":        "seald-seal-status-list"
 *       "version":     2
 *       "number":      list number (integer, increases with every list;
 *                      the parts of one list share it)
 *       "part":        this part's index, 0 .. parts - 1
 *       "parts":       how many parts the list has
 *       "total":       entries in all parts together
 *       "range_after": the part answers for esIDs after this one (byte
 *                      order, exclusive), or null: from the first
 *       "range_until": ... up to and including this one, or null: to the
 *                      last (null exactly in the last part)
 *       "expired_before": time (form below): seals whose validity ended
 *                      before it are not listed whatever their state
 *                      (this_update - status.list_expired_grace_days)
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
 *     current part issued by its maker is active as of this_update if its
 *     esID lies in the part's range and its validity did not end before
 *     expired_before (statuslist_covers); otherwise the part does not say.
 *     Every entry's es_id lies in the part's range.
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
#define STATUSLIST_VERSION     2
#define STATUSLIST_MAX_ENTRIES 100000    /* in one part */
#define STATUSLIST_MAX_PARTS   100000
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
    int64_t part, parts;                     /* 0 <= part < parts; parts 0:
                                                the whole list in one part */
    int64_t total;                           /* entries of every part;
                                                parts 0: n_entries       */
    const char *range_after, *range_until;   /* NULL: unbounded; entries
                                                must lie in the range    */
    time_t expired_before;                   /* not after this_update    */
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
 * is not listed (active, when statuslist_covers says the part answers). */
json_t *statuslist_find(json_t *list, const char *es_id);

/* 1 if a verified part answers for es_id, a seal whose validity ends at
 * valid_end (the seal's own validity end, seconds): es_id is in the part's
 * range and the seal did not expire before the part's expired_before.  0:
 * the part does not say (fetch the part for that range, or ask
 * GET /status/{esid}). */
int statuslist_covers(json_t *list, const char *es_id, time_t valid_end);

#endif
