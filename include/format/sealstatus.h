/*
 * sealstatus.h - the signed seal status statement (issue 17): the seal
 * equivalent of an OCSP response, one seal per statement.  The ASN.1 is in
 * docs/status-format.md:
 *
 *   SealStatus ::= SEQUENCE {
 *       tbs                 TBSSealStatus,
 *       signatureAlgorithm  AlgorithmIdentifier,   -- SM2-with-SM3
 *       signature           BIT STRING }
 *   TBSSealStatus ::= SEQUENCE {
 *       version      INTEGER { v1(1) },
 *       esID         IA5String OPTIONAL,
 *       sealHash     OCTET STRING (SIZE (32)) OPTIONAL,   -- SM3(seal DER)
 *       status       ENUMERATED { active(0), suspended(1), lost(2),
 *                                 revoked(3), expired(4), unknown(5) },
 *       statusTime   [0] EXPLICIT GeneralizedTime OPTIONAL,
 *       reason       [1] EXPLICIT CRLReason OPTIONAL,
 *       thisUpdate   GeneralizedTime,
 *       nextUpdate   GeneralizedTime,
 *       signerCert   Certificate }
 *
 * This layer encodes the to-be-signed part, assembles the signed statement
 * around a signature made elsewhere (through custody: the format layer
 * holds no key), and decodes a statement, verifying its signature with the
 * certificate it carries.  Chaining that certificate to a trust anchor is
 * the caller's.
 */
#ifndef SEALD_SEALSTATUS_H
#define SEALD_SEALSTATUS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "sm2.h"

#define SSTATUS_VERSION     1
#define SSTATUS_ESID_MAX    64             /* bytes of an esID             */
#define SSTATUS_MAX_DER     (64u * 1024u)  /* a statement, its cert within */
#define SSTATUS_REASON_MAX  10             /* CRLReason: 0..10, not 7      */

enum sstatus_state {
    SSTATUS_ACTIVE = 0,
    SSTATUS_SUSPENDED = 1,
    SSTATUS_LOST = 2,
    SSTATUS_REVOKED = 3,
    SSTATUS_EXPIRED = 4,
    SSTATUS_UNKNOWN = 5,
    SSTATUS__COUNT
};

/* The fields of a statement.  es_id "" and has_hash 0 mean absent (an
 * "unknown" statement names what was asked, nothing else); has_time 0 means
 * no statusTime, reason -1 no reason.  cert is the signer's certificate:
 * borrowed when encoding, allocated by sstatus_decode (sstatus_clear frees
 * it). */
struct sstatus {
    char               es_id[SSTATUS_ESID_MAX + 1];
    int                has_hash;
    uint8_t            seal_hash[SM3_DIGEST_LEN];
    enum sstatus_state status;
    int                has_time;
    time_t             status_time;
    int                reason;
    time_t             this_update, next_update;
    uint8_t           *cert;
    size_t             cert_len;
    int                alg_nid;     /* decode: NID of signatureAlgorithm */
};

/* "active", ..., "unknown"; NULL for a value out of range. */
const char *sstatus_state_name(enum sstatus_state s);

/* The CRLReason name ("keyCompromise", ...); NULL when not a CRLReason. */
const char *sstatus_reason_name(int reason);

/*
 * DER of TBSSealStatus for s (version 1) into *tbs (malloc'ed, caller
 * frees).  ERR_INVALID when a field is out of bounds: an esID that is not
 * 1..SSTATUS_ESID_MAX visible ASCII characters, neither esID nor hash, a
 * status out of range, a reason that is not a CRLReason, nextUpdate not
 * after thisUpdate, no certificate or one that does not parse.
 */
err_code sstatus_tbs_encode(const struct sstatus *s, uint8_t **tbs,
                            size_t *tbs_len, struct err *e);

/*
 * The signed statement: SEQUENCE { tbs, AlgorithmIdentifier { alg_nid, no
 * parameters }, BIT STRING { sig } } into *der (malloc'ed, caller frees).
 * tbs must be sstatus_tbs_encode's output; sig is the DER signature over
 * those bytes (SM2 with ID SM2_DEFAULT_ID, or ECDSA-SHA256).
 */
err_code sstatus_assemble(const uint8_t *tbs, size_t tbs_len, int alg_nid,
                          const uint8_t *sig, size_t sig_len, uint8_t **der,
                          size_t *der_len, struct err *e);

/*
 * Decode a statement (DER, no trailing bytes, at most SSTATUS_MAX_DER) into
 * *out and verify its signature with the certificate it carries.
 * ERR_MALFORMED when it does not decode or a field is out of bounds,
 * ERR_UNSUPPORTED for another version or signature algorithm, ERR_INVALID
 * when the signature does not verify.  On error *out holds nothing to free.
 */
err_code sstatus_decode(const uint8_t *der, size_t len, struct sstatus *out,
                        struct err *e);

/* Free what sstatus_decode allocated in s. */
void sstatus_clear(struct sstatus *s);

#endif
