/*
 * sm2.h - SM3 hashing and SM2 signatures per GM/T 0003 / GM/T 0009 on the
 * OpenSSL 3 EVP API.
 *
 * The library never holds a private key.  Signing is split: seald computes
 * Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) and e = SM3(Z || M)
 * itself, and a signer callback (software key in tests, PKCS#11 token in
 * production) turns e into a signature value.  Verification takes a public
 * key or a DER certificate and always sets the signer ID explicitly (OpenSSL 3
 * would otherwise use an empty ID).
 *
 * Signature values are accepted as DER SEQUENCE{r,s}, raw 64-byte r||s and DER
 * with non-minimal INTEGERs; what seald writes is always strict DER.
 */
#ifndef SEALD_SM2_H
#define SEALD_SM2_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"

#define SM3_DIGEST_LEN   32
#define SM2_SIG_RAW_LEN  64          /* r || s, 32 bytes each              */
#define SM2_SIG_DER_MAX  80          /* strict DER SEQUENCE{r,s} at most 72 */
#define SM2_SIG_IN_MAX   256         /* largest value accepted as input     */
#define SM2_ID_MAX       1024        /* ENTL is 16 bits of bit length       */
#define SM2_DEFAULT_ID   "1234567812345678"

#define SM2_OID_SM2_CURVE   "1.2.156.10197.1.301"
#define SM2_OID_SM2_SM3     "1.2.156.10197.1.501"
#define SM2_OID_SM3         "1.2.156.10197.1.401"

/*
 * Signer callback: sign the 32-byte digest e (already Z-prefixed and hashed by
 * seald) with the private key behind ctx.  Writes the signature value to
 * sig (capacity SM2_SIG_IN_MAX) in any accepted form (DER or raw r||s) and its
 * length to *sig_len.  Returns ERR_OK or an error recorded in err.
 */
typedef err_code (*sm2_signer_fn)(void *ctx, const uint8_t e[SM3_DIGEST_LEN],
                                  uint8_t *sig, size_t *sig_len,
                                  struct err *err);

/* SM3 of len bytes at data into out.  Fails only with ERR_CRYPTO. */
err_code sm2_sm3(const void *data, size_t len, uint8_t out[SM3_DIGEST_LEN],
                 struct err *err);

/* Is pkey an SM2 (or EC on the SM2 curve) public key?  1 yes, 0 no. */
int sm2_is_sm2_key(const EVP_PKEY *pkey);

/* Z per GM/T 0009 for public key pub and signer ID id (NULL: the default). */
err_code sm2_compute_z(const EVP_PKEY *pub, const char *id,
                       uint8_t z[SM3_DIGEST_LEN], struct err *err);

/* e = SM3(Z || msg). */
err_code sm2_compute_e(const EVP_PKEY *pub, const char *id, const void *msg,
                       size_t len, uint8_t e[SM3_DIGEST_LEN], struct err *err);

/*
 * Normalise a signature value (DER, non-minimal DER or raw r||s) into
 * rs (r then s, 32 bytes each, big-endian).  ERR_MALFORMED if it is none.
 */
err_code sm2_sig_normalize(const uint8_t *sig, size_t len,
                           uint8_t rs[SM2_SIG_RAW_LEN], struct err *err);

/* Strict DER SEQUENCE{r,s} of rs into der (capacity SM2_SIG_DER_MAX). */
err_code sm2_sig_to_der(const uint8_t rs[SM2_SIG_RAW_LEN], uint8_t *der,
                        size_t *der_len, struct err *err);

/*
 * Verify signature value sig (any accepted form) over msg with public key pub
 * and signer ID id (NULL: default).  *ok = 1 valid, 0 invalid.  Returns an
 * error only when the check could not be made (bad key, malformed value is
 * *ok = 0 with ERR_OK, library failure ERR_CRYPTO).
 */
err_code sm2_verify(const EVP_PKEY *pub, const char *id, const void *msg,
                    size_t len, const uint8_t *sig, size_t sig_len, int *ok,
                    struct err *err);

/* Same, with the public key taken from a certificate. */
err_code sm2_verify_cert(X509 *cert, const char *id, const void *msg,
                         size_t len, const uint8_t *sig, size_t sig_len,
                         int *ok, struct err *err);

/*
 * Sign msg: compute e with pub (the signer's public key) and id, call the
 * signer, check the result verifies, and write strict DER into der
 * (capacity SM2_SIG_DER_MAX).
 */
err_code sm2_sign(const EVP_PKEY *pub, const char *id, const void *msg,
                  size_t len, sm2_signer_fn signer, void *signer_ctx,
                  uint8_t *der, size_t *der_len, struct err *err);

/*
 * sm2_sign, with the check that the signer's value verifies made only when
 * check is 1.  The check is a fault check on the token and costs one SM2
 * verification, as much as the signature itself: a caller that skips it
 * for some signatures samples it (signing.c says when and why).
 */
err_code sm2_sign_ex(const EVP_PKEY *pub, const char *id, const void *msg,
                     size_t len, sm2_signer_fn signer, void *signer_ctx,
                     int check, uint8_t *der, size_t *der_len,
                     struct err *err);

/* Parse a DER certificate (no trailing data).  Caller frees with X509_free. */
err_code sm2_cert_parse(const uint8_t *der, size_t len, X509 **out,
                        struct err *err);

#endif
