/*
 * ca.h - certificates made through key custody (issue 6): seald's local CA
 * (self-signed root, end-entity certificates for seal holders), PKCS#10
 * requests for an external CA, and the checks on a certificate imported from
 * one.
 *
 * No private key is ever in seald's memory: every X.509 structure is built
 * with OpenSSL holding PUBLIC keys only, its to-be-signed DER is signed
 * through custody (SM2: e = SM3(Z || TBS) with ID CA_SM2_ID, custody_sign_e;
 * ECDSA P-256 tokens: SHA-256 of TBS, custody_sign_digest), and the signed
 * object SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING } is assembled here
 * and parsed back and verified before it is returned.
 *
 * Algorithms: SM2 tokens sign with SM2-with-SM3 (1.2.156.10197.1.501, no
 * parameters, GM/T 0015); ECDSA tokens with ecdsa-with-SHA256.  SM2
 * signatures use the GM/T 0009 default ID "1234567812345678": to check them
 * with the OpenSSL 3.0 command line pass `-vfyopt distid:1234567812345678`
 * (`openssl verify`, `openssl req -verify`); without it OpenSSL uses an empty
 * ID and reports a signature failure.
 */
#ifndef SEALD_CA_H
#define SEALD_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "custody.h"
#include "err.h"
#include "sm2.h"

#define CA_SM2_ID           SM2_DEFAULT_ID
#define CA_SERIAL_LEN       16            /* random serial bytes            */
#define CA_NAME_FIELD_MAX   64            /* X.520 upper bound per field    */
#define CA_ROOT_MAX_DAYS    7300          /* 20 years                       */
#define CA_LEAF_MAX_DAYS    3650          /* 10 years                       */
#define CA_BACKDATE_SECONDS 300           /* root notBefore = now - this    */
#define CA_SIG_MAX          80            /* DER SM2/ECDSA signature value  */
#define CA_MAX_DER          (64u * 1024u) /* one certificate / request      */
#define CA_MAX_PEM          (256u * 1024u)/* PEM input (may hold a chain)   */
#define CA_MAX_CHAIN        8             /* certificates in an import      */

/* A key in custody: token name + hex CKA_ID.  All borrowed. */
struct ca_key {
    struct custody *custody;
    const char *token;
    const char *key_id;
};

/* Distinguished name fields (UTF-8, each at most CA_NAME_FIELD_MAX bytes;
 * NULL or "" leaves a field out; cn is required).  Written in the order
 * C, ST, L, O, OU, serialNumber, CN.  c must be 2 letters. */
struct ca_subject {
    const char *c, *st, *l, *o, *ou, *serial_number, *cn;
};

/*
 * sm2_signer_fn over custody: ctx is a const struct ca_key * of an SM2 token;
 * signs e with custody_sign_e.  For ses_seal_build / sm2_sign.
 */
err_code ca_custody_signer(void *ctx, const uint8_t e[SM3_DIGEST_LEN],
                           uint8_t *sig, size_t *sig_len, struct err *err);

/*
 * Sign msg with key k as certificates are signed: SM2 (ID CA_SM2_ID, SM3) on
 * an SM2 token, ECDSA-SHA256 on an ECDSA token.  Writes the DER signature to
 * sig[CA_SIG_MAX] and *sig_len, and the signature algorithm's NID
 * (NID_SM2_with_SM3 / NID_ecdsa_with_SHA256) to *alg_nid.  The signature is
 * verified with the token's public key before return.
 */
err_code ca_sign(const struct ca_key *k, const uint8_t *msg, size_t len,
                 uint8_t sig[CA_SIG_MAX], size_t *sig_len, int *alg_nid,
                 struct err *e);

/*
 * Self-signed CA certificate for key k: version 3, random serial, issuer =
 * subject, notBefore now - CA_BACKDATE_SECONDS, notAfter notBefore + days
 * (1..CA_ROOT_MAX_DAYS), basicConstraints CA:TRUE (critical), keyUsage
 * keyCertSign|cRLSign (critical), subjectKeyIdentifier.  *der is malloc'ed
 * (caller frees).  ERR_INVALID on bad input, ERR_HSM_UNAVAILABLE /
 * ERR_NOT_FOUND from custody, ERR_CRYPTO.
 */
err_code ca_create_root(const struct ca_key *k, const struct ca_subject *subj,
                        int days, uint8_t **der, size_t *len, struct err *e);

/* Input of ca_issue. */
struct ca_issue_params {
    const struct ca_subject *subject;
    EVP_PKEY *holder_pub;            /* public key (borrowed)            */
    time_t not_before, not_after;    /* within the CA's validity, at most
                                        CA_LEAF_MAX_DAYS apart           */
    const uint8_t *serial;           /* NULL: CA_SERIAL_LEN random bytes */
    size_t serial_len;               /* 1..20 when serial is given       */
    const char *ext_key_usage;       /* NULL: none; else an OpenSSL value
                                        ("critical,timeStamping")        */
};

/*
 * End-entity certificate signed by the CA key k whose certificate is
 * ca_der (its key must be k's): basicConstraints CA:FALSE (critical),
 * keyUsage digitalSignature|nonRepudiation (critical), subject and authority
 * key identifiers, and extendedKeyUsage when p->ext_key_usage says so.
 * *der is malloc'ed (caller frees).  ERR_INVALID when the
 * CA certificate is not a CA, does not match k, or the validity is outside
 * the CA's.
 */
err_code ca_issue(const struct ca_key *k, const uint8_t *ca_der,
                  size_t ca_len, const struct ca_issue_params *p,
                  uint8_t **der, size_t *len, struct err *e);

/*
 * PKCS#10 certification request for key k with subject subj, signed through
 * custody (no attributes).  *der is malloc'ed (caller frees).
 */
err_code ca_csr_create(const struct ca_key *k, const struct ca_subject *subj,
                    uint8_t **der, size_t *len, struct err *e);

/*
 * Check a certificate issued by an external CA before it is bound to a
 * seal: cert (DER, at most CA_MAX_DER) must hold exactly the public key
 * expected (EVP_PKEY_eq), be valid at now, not be a CA, allow
 * digitalSignature or nonRepudiation if it has keyUsage, and chain (with
 * the optional untrusted intermediates) to one of anchors (borrowed;
 * e.g. from ses_trust_load).  SM2 certificates are checked with ID
 * CA_SM2_ID (attached to the parsed certificate and, for SM2-signed ones,
 * to the untrusted certificates).  ERR_INVALID with the reason in e on any
 * failure, ERR_MALFORMED for bad DER.
 */
err_code ca_import_check(const uint8_t *cert, size_t cert_len,
                         EVP_PKEY *expected, X509_STORE *anchors,
                         STACK_OF(X509) *untrusted, time_t now,
                         struct err *e);

/*
 * Read certificates given as PEM (one or more blocks) or one DER
 * certificate (at most CA_MAX_PEM bytes, CA_MAX_CHAIN certificates):
 * the first goes to *leaf_der (malloc'ed), the others, if chain is not
 * NULL, to a new *chain (caller frees with sk_X509_pop_free(.., X509_free)).
 */
err_code ca_cert_load(const uint8_t *buf, size_t len, uint8_t **leaf_der,
                      size_t *leaf_len, STACK_OF(X509) **chain,
                      struct err *e);

/* notBefore / notAfter of a parsed certificate as time_t (UTC). */
err_code ca_x509_times(const X509 *x, time_t *not_before, time_t *not_after,
                       struct err *e);

/* notBefore / notAfter of a DER certificate as time_t (UTC). */
err_code ca_cert_times(const uint8_t *der, size_t len, time_t *not_before,
                       time_t *not_after, struct err *e);

/* PEM text of DER with the given label ("CERTIFICATE",
 * "CERTIFICATE REQUEST").  *pem is malloc'ed, NUL-terminated. */
err_code ca_der_to_pem(const char *label, const uint8_t *der, size_t len,
                       char **pem, struct err *e);

#endif
