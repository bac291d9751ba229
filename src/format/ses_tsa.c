/*
 * ses_tsa.c - owns the TimeStampResp seald gives as a TSA (RFC 3161,
 * GM/T 0033; POST /tsa): the check of a query, the rejections, the TSTInfo
 * and the CMS SignedData around it.  OpenSSL's TS_RESP_CTX cannot sign
 * through a PKCS#11 token, so the structures are OpenSSL's (TS_TST_INFO,
 * PKCS7) filled here, and the signature over the DER of the signed
 * attributes comes from the caller's signer (the token).  The contract is
 * in ses.h.
 */
#include "ses.h"
#include "ses_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>

#include "sm2.h"
#include "util.h"

#define TSA_SERIAL_LEN   16                       /* random, 128 bits     */
#define TSA_OID_SM2_1    "1.2.156.10197.1.301.1"  /* GM/T 0010 SM2 sign   */

/* PKIFailureInfo bits (RFC 3161 2.4.2) as DER BIT STRING contents. */
enum tsa_fail { FAIL_BAD_ALG, FAIL_BAD_FORMAT, FAIL_POLICY, FAIL_EXT };

/* A rejection: TimeStampResp { PKIStatusInfo { 2, { why }, failInfo } }
 * into *out (malloc'ed). */
static err_code
reject(enum tsa_fail f, const char *why, uint8_t **out, size_t *out_len,
       struct err *e)
{
    static const uint8_t bits[][7] = {   /* [0]: bytes after it */
        {3, 0x03, 0x02, 0x07, 0x80},                    /* badAlg (0)     */
        {3, 0x03, 0x02, 0x02, 0x04},                    /* badDataFormat  */
        {4, 0x03, 0x03, 0x00, 0x00, 0x01},              /* policy (15)    */
        {5, 0x03, 0x04, 0x07, 0x00, 0x00, 0x80}};       /* extension (16) */
    size_t wl = strlen(why), bl = (size_t)bits[f][0] + 1, si, n;
    uint8_t *o;

    if (wl > 100)
        wl = 100;
    /* status INTEGER 2 (3) + SEQUENCE { UTF8String } (4 + wl) + failInfo */
    si = 3 + 4 + wl + bl;
    n = 2 + 2 + si;
    if ((o = malloc(n)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    o[0] = 0x30, o[1] = (uint8_t)(2 + si);
    o[2] = 0x30, o[3] = (uint8_t)si;
    o[4] = 0x02, o[5] = 0x01, o[6] = 0x02;
    o[7] = 0x30, o[8] = (uint8_t)(2 + wl), o[9] = 0x0c, o[10] = (uint8_t)wl;
    memcpy(o + 11, why, wl);
    memcpy(o + 11 + wl, bits[f] + 1, bl);
    *out = o;
    *out_len = n;
    return ERR_OK;
}

/* The query's fault, if any: 1 with *f and *why set. */
static int
query_fault(TS_REQ *req, const ASN1_OBJECT *policy, enum tsa_fail *f,
            const char **why)
{
    TS_MSG_IMPRINT *mi = TS_REQ_get_msg_imprint(req);
    const ASN1_OBJECT *alg = NULL;
    ASN1_OCTET_STRING *m = mi ? TS_MSG_IMPRINT_get_msg(mi) : NULL;
    ASN1_OBJECT *want = TS_REQ_get_policy_id(req);
    int nid;

    if (TS_REQ_get_version(req) != 1 || m == NULL) {
        *f = FAIL_BAD_FORMAT;
        *why = "not a version 1 TimeStampReq";
        return 1;
    }
    X509_ALGOR_get0(&alg, NULL, NULL, TS_MSG_IMPRINT_get_algo(mi));
    nid = alg ? OBJ_obj2nid(alg) : NID_undef;
    if (nid != NID_sm3 && nid != NID_sha256) {
        *f = FAIL_BAD_ALG;
        *why = "the imprint's hash must be sm3 or sha256";
        return 1;
    }
    if (ASN1_STRING_length(m) != 32) {
        *f = FAIL_BAD_FORMAT;
        *why = "the imprint is not 32 bytes";
        return 1;
    }
    if (want != NULL && OBJ_cmp(want, policy) != 0) {
        *f = FAIL_POLICY;
        *why = "this TSA has one policy (tsa.serve_policy)";
        return 1;
    }
    if (TS_REQ_get_ext_count(req) > 0) {
        *f = FAIL_EXT;
        *why = "no extension is accepted";
        return 1;
    }
    return 0;
}

/* The TSTInfo of a sound query: *out on ERR_OK (TS_TST_INFO_free). */
static err_code
tst_new(TS_REQ *req, const ASN1_OBJECT *policy, time_t now,
        TS_TST_INFO **out, struct err *e)
{
    TS_TST_INFO *t = TS_TST_INFO_new();
    TS_ACCURACY *acc = TS_ACCURACY_new();
    ASN1_INTEGER *serial = NULL, *one = ASN1_INTEGER_new();
    ASN1_GENERALIZEDTIME *gt = ASN1_GENERALIZEDTIME_set(NULL, now);
    const ASN1_INTEGER *nonce = TS_REQ_get_nonce(req);
    uint8_t sbytes[TSA_SERIAL_LEN];
    BIGNUM *bn = NULL;
    err_code rc = ERR_OK;

    *out = NULL;
    if ((rc = util_random(sbytes, sizeof(sbytes), e)) != ERR_OK)
        goto out;
    sbytes[0] &= 0x7f;                         /* a positive INTEGER */
    sbytes[0] |= 0x40;                         /* of 16 bytes        */
    if (t == NULL || acc == NULL || one == NULL || gt == NULL ||
        (bn = BN_bin2bn(sbytes, sizeof(sbytes), NULL)) == NULL ||
        (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
        !ASN1_INTEGER_set(one, 1) || !TS_ACCURACY_set_seconds(acc, one) ||
        !TS_TST_INFO_set_version(t, 1) ||
        !TS_TST_INFO_set_policy_id(t, (ASN1_OBJECT *)policy) ||
        !TS_TST_INFO_set_msg_imprint(t, TS_REQ_get_msg_imprint(req)) ||
        !TS_TST_INFO_set_serial(t, serial) || !TS_TST_INFO_set_time(t, gt) ||
        !TS_TST_INFO_set_accuracy(t, acc) ||
        (nonce != NULL && !TS_TST_INFO_set_nonce(t, nonce))) {
        rc = err_set(e, ERR_NOMEM, "cannot build the TSTInfo");
        goto out;
    }
    *out = t;
    t = NULL;
out:
    BN_free(bn);
    ASN1_INTEGER_free(serial);
    ASN1_INTEGER_free(one);
    ASN1_GENERALIZEDTIME_free(gt);
    TS_ACCURACY_free(acc);
    TS_TST_INFO_free(t);
    return rc;
}

/* The SignerInfo of cert over tst_der (its signed attributes, unsigned
 * yet): *out on ERR_OK. */
static err_code
signer_info_new(X509 *cert, const struct ses_tsa_params *p,
                const uint8_t *tst_der, size_t tst_len,
                PKCS7_SIGNER_INFO **out, struct err *e)
{
    const EVP_MD *md = p->sm2 ? EVP_sm3() : EVP_sha256();
    PKCS7_SIGNER_INFO *si = PKCS7_SIGNER_INFO_new();
    ESS_SIGNING_CERT_V2 *sc = NULL;
    ASN1_STRING *seq = NULL;
    ASN1_OBJECT *enc = p->sm2 ? OBJ_txt2obj(TSA_OID_SM2_1, 1)
                              : OBJ_nid2obj(NID_ecdsa_with_SHA256);
    uint8_t dg[EVP_MAX_MD_SIZE], *der = NULL;
    unsigned int dl = 0;
    int n;
    err_code rc = ERR_OK;

    *out = NULL;
    if (si == NULL || enc == NULL ||
        !ASN1_INTEGER_set(si->version, 1) ||
        !X509_NAME_set(&si->issuer_and_serial->issuer,
                       X509_get_issuer_name(cert)) ||
        !ASN1_STRING_copy(si->issuer_and_serial->serial,
                          X509_get0_serialNumber(cert)) ||
        !X509_ALGOR_set0(si->digest_alg, OBJ_nid2obj(EVP_MD_get_type(md)),
                         V_ASN1_NULL, NULL) ||
        !X509_ALGOR_set0(si->digest_enc_alg, enc, V_ASN1_UNDEF, NULL)) {
        rc = err_set(e, ERR_NOMEM, "cannot build the SignerInfo");
        goto out;
    }
    enc = NULL;
    /* ESSCertIDv2 with SHA-256 (its default: no hashAlgorithm field) */
    if (EVP_Digest(tst_der, tst_len, dg, &dl, md, NULL) != 1 ||
        (sc = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), cert, NULL,
                                                0)) == NULL ||
        (n = i2d_ESS_SIGNING_CERT_V2(sc, &der)) <= 0 ||
        (seq = ASN1_STRING_new()) == NULL ||
        !ASN1_STRING_set(seq, der, n) ||
        !PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                    OBJ_nid2obj(NID_id_smime_ct_TSTInfo)) ||
        !PKCS7_add1_attrib_digest(si, dg, (int)dl) ||
        !PKCS7_add_signed_attribute(si, NID_id_smime_aa_signingCertificateV2,
                                    V_ASN1_SEQUENCE, seq)) {
        rc = err_set(e, ERR_CRYPTO, "cannot build the signed attributes");
        goto out;
    }
    seq = NULL;                                /* si owns it now */
    *out = si;
    si = NULL;
out:
    OPENSSL_free(der);
    ASN1_STRING_free(seq);
    ESS_SIGNING_CERT_V2_free(sc);
    ASN1_OBJECT_free(enc);
    PKCS7_SIGNER_INFO_free(si);
    return rc;
}

/* Sign si's attributes with p->sign: the digest of their DER SET. */
static err_code
signer_info_sign(PKCS7_SIGNER_INFO *si, const struct ses_tsa_params *p,
                 struct err *e)
{
    uint8_t *abuf = NULL, dg[EVP_MAX_MD_SIZE], sig[SM2_SIG_IN_MAX];
    unsigned int dl = 0;
    size_t sl = sizeof(sig);
    int n;
    err_code rc;

    n = ASN1_item_i2d((ASN1_VALUE *)si->auth_attr, &abuf,
                      ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
    if (n <= 0 || EVP_Digest(abuf, (size_t)n, dg, &dl,
                             p->sm2 ? EVP_sm3() : EVP_sha256(), NULL) != 1) {
        rc = err_set(e, ERR_CRYPTO, "cannot encode the signed attributes");
        goto out;
    }
    if ((rc = p->sign(p->sign_ctx, dg, sig, &sl, e)) != ERR_OK)
        goto out;
    if (!ASN1_STRING_set(si->enc_digest, sig, (int)sl))
        rc = err_set(e, ERR_NOMEM, "out of memory");
out:
    OPENSSL_free(abuf);
    return rc;
}

/* The token (SignedData of tst) for query req: *out on ERR_OK. */
static err_code
token_new(TS_REQ *req, TS_TST_INFO *tst, X509 *cert,
          const struct ses_tsa_params *p, PKCS7 **out, struct err *e)
{
    PKCS7 *p7 = PKCS7_new(), *inner = PKCS7_new();
    PKCS7_SIGNER_INFO *si = NULL;
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    uint8_t *der = NULL;
    int n;
    err_code rc = ERR_OK;

    *out = NULL;
    if (p7 == NULL || inner == NULL || os == NULL ||
        (n = i2d_TS_TST_INFO(tst, &der)) <= 0 ||
        !ASN1_OCTET_STRING_set(os, der, n) ||
        !PKCS7_set_type(p7, NID_pkcs7_signed) ||
        !ASN1_INTEGER_set(p7->d.sign->version, 3) ||
        (TS_REQ_get_cert_req(req) && !PKCS7_add_certificate(p7, cert))) {
        rc = err_set(e, ERR_NOMEM, "cannot build the token");
        goto out;
    }
    /* encapContentInfo: id-ct-TSTInfo, OCTET STRING { TSTInfo } */
    inner->type = OBJ_nid2obj(NID_id_smime_ct_TSTInfo);
    if ((inner->d.other = ASN1_TYPE_new()) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    ASN1_TYPE_set(inner->d.other, V_ASN1_OCTET_STRING, os);
    os = NULL;
    if (!PKCS7_set_content(p7, inner)) {
        rc = err_set(e, ERR_CRYPTO, "cannot build the token");
        goto out;
    }
    inner = NULL;
    if ((rc = signer_info_new(cert, p, der, (size_t)n, &si, e)) != ERR_OK ||
        (rc = signer_info_sign(si, p, e)) != ERR_OK)
        goto out;
    if (!PKCS7_add_signer(p7, si)) {
        rc = err_set(e, ERR_CRYPTO, "cannot build the token");
        goto out;
    }
    si = NULL;
    *out = p7;
    p7 = NULL;
out:
    OPENSSL_free(der);
    ASN1_OCTET_STRING_free(os);
    PKCS7_SIGNER_INFO_free(si);
    PKCS7_free(inner);
    PKCS7_free(p7);
    return rc;
}

/* The granted TimeStampResp of req: *out, *out_len on ERR_OK. */
static err_code
grant(TS_REQ *req, const ASN1_OBJECT *policy, const struct ses_tsa_params *p,
      uint8_t **out, size_t *out_len, struct err *e)
{
    const unsigned char *cp = p->cert;
    X509 *cert = d2i_X509(NULL, &cp, (long)p->cert_len);
    TS_TST_INFO *tst = NULL;
    TS_RESP *resp = TS_RESP_new();
    TS_STATUS_INFO *si = TS_STATUS_INFO_new();
    PKCS7 *p7 = NULL;
    uint8_t *der = NULL;
    int n;
    err_code rc;

    if (cert == NULL) {
        rc = err_set(e, ERR_CONFIG, "the TSA certificate is not readable");
        goto out;
    }
    if (resp == NULL || si == NULL ||
        !TS_STATUS_INFO_set_status(si, TS_STATUS_GRANTED) ||
        !TS_RESP_set_status_info(resp, si)) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = tst_new(req, policy, p->now, &tst, e)) != ERR_OK ||
        (rc = token_new(req, tst, cert, p, &p7, e)) != ERR_OK)
        goto out;
    TS_RESP_set_tst_info(resp, p7, tst);       /* resp owns both now */
    p7 = NULL;
    tst = NULL;
    if ((n = i2d_TS_RESP(resp, &der)) <= 0 ||
        (*out = malloc((size_t)n)) == NULL) {
        rc = err_set(e, ERR_NOMEM, "cannot encode the TimeStampResp");
        goto out;
    }
    memcpy(*out, der, (size_t)n);
    *out_len = (size_t)n;
out:
    OPENSSL_free(der);
    PKCS7_free(p7);
    TS_TST_INFO_free(tst);
    TS_STATUS_INFO_free(si);
    TS_RESP_free(resp);
    X509_free(cert);
    return rc;
}

/* Contract: see ses.h. */
err_code
ses_tsa_respond(const uint8_t *query, size_t len,
                const struct ses_tsa_params *p, uint8_t **out,
                size_t *out_len, int *granted, struct err *e)
{
    const unsigned char *q = query;
    ASN1_OBJECT *policy = OBJ_txt2obj(p->policy, 1);
    TS_REQ *req = NULL;
    enum tsa_fail f = FAIL_BAD_FORMAT;
    const char *why = "not a TimeStampReq";
    err_code rc;

    *out = NULL;
    *out_len = 0;
    *granted = 0;
    if (policy == NULL) {
        rc = err_set(e, ERR_CONFIG, "tsa.serve_policy '%s' is not an OID",
                     p->policy);
        goto out;
    }
    if (len == 0 || len > SES_TSA_QUERY_MAX ||
        (req = d2i_TS_REQ(NULL, &q, (long)len)) == NULL ||
        q != query + len || query_fault(req, policy, &f, &why)) {
        rc = reject(f, why, out, out_len, e);
        goto out;
    }
    if ((rc = grant(req, policy, p, out, out_len, e)) == ERR_OK)
        *granted = 1;
out:
    TS_REQ_free(req);
    ASN1_OBJECT_free(policy);
    ERR_clear_error();
    return rc;
}
