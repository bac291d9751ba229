/*
 * ses_ts.c - owns RFC 3161 (GM/T 0033) timestamps of SES signatures: the
 * query over a signature value, the check of a TSA's reply, the token's
 * place in SES_Signature (timeStamp [0] EXPLICIT BIT STRING, appended to
 * the signature's DER), and the verification of a token: its imprint over
 * the signature value, the TSA's signature, and the TSA certificate's
 * chain to the TSA trust anchors.
 *
 * Built on OpenSSL's TS module (TS_REQ, TS_RESP, TS_VERIFY_CTX), which
 * Tongsuo has as well.  What is timestamped is the value of the
 * signature's BIT STRING (the DER SM2 signature), hashed with the
 * imprint's algorithm: SM3 by default, SHA-256 when configured.
 */
#include "ses.h"
#include "ses_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509_vfy.h>

#include "sm2.h"
#include "util.h"

/* DER length octets of n into p (at most 5 bytes); returns their count. */
static size_t der_len_put(uint8_t *p, size_t n)
{
    size_t k = 0, i, m = n;

    if (n < 0x80) {
        p[0] = (uint8_t)n;
        return 1;
    }
    while (m > 0) {
        k++;
        m >>= 8;
    }
    p[0] = (uint8_t)(0x80 | k);
    for (i = 0; i < k; i++)
        p[1 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
    return 1 + k;
}

/* Contract: see ses.h. */
const EVP_MD *ses_ts_md(const char *name)
{
    if (name == NULL || strcmp(name, "sm3") == 0)
        return EVP_sm3();
    if (strcmp(name, "sha256") == 0)
        return EVP_sha256();
    return NULL;
}

/* Contract: see ses.h. */
void ses_ts_query_free(struct ses_ts_query *q)
{
    if (q == NULL)
        return;
    free(q->der);
    memset(q, 0, sizeof(*q));
}

/* Contract: see ses.h. */
err_code ses_ts_query_new(const uint8_t *sig_value, size_t len,
                          const char *hash, struct ses_ts_query *q,
                          struct err *e)
{
    const EVP_MD *md = ses_ts_md(hash);
    TS_REQ *req = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    ASN1_INTEGER *nonce = NULL;
    BIGNUM *bn = NULL;
    unsigned int mdlen = 0;
    unsigned char *p;
    int n;
    err_code rc = ERR_OK;

    memset(q, 0, sizeof(*q));
    if (md == NULL) {
        rc = err_set(e, ERR_INVALID, "timestamp hash '%s' is not sm3 or "
                     "sha256", hash);
        goto out;
    }
    if (req == NULL || mi == NULL || alg == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = util_random(q->nonce, sizeof(q->nonce), e)) != ERR_OK)
        goto out;
    q->nonce[0] &= 0x7f;                 /* a positive INTEGER */
    if (EVP_Digest(sig_value, len, q->imprint, &mdlen, md, NULL) != 1 ||
        (bn = BN_bin2bn(q->nonce, (int)sizeof(q->nonce), NULL)) == NULL ||
        (nonce = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
        !X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL,
                         NULL) ||
        !TS_MSG_IMPRINT_set_algo(mi, alg) ||
        !TS_MSG_IMPRINT_set_msg(mi, q->imprint, (int)mdlen) ||
        !TS_REQ_set_version(req, 1) || !TS_REQ_set_msg_imprint(req, mi) ||
        !TS_REQ_set_nonce(req, nonce) || !TS_REQ_set_cert_req(req, 1)) {
        rc = err_set(e, ERR_CRYPTO, "cannot build the timestamp query");
        goto out;
    }
    q->imprint_len = mdlen;
    q->md = md;
    if ((n = i2d_TS_REQ(req, NULL)) <= 0 ||
        (q->der = malloc((size_t)n)) == NULL) {
        rc = err_set(e, ERR_NOMEM, "cannot encode the timestamp query");
        goto out;
    }
    p = q->der;
    q->len = (size_t)i2d_TS_REQ(req, &p);
out:
    if (rc != ERR_OK)
        ses_ts_query_free(q);
    BN_free(bn);
    ASN1_INTEGER_free(nonce);
    X509_ALGOR_free(alg);
    TS_MSG_IMPRINT_free(mi);
    TS_REQ_free(req);
    ERR_clear_error();
    return rc;
}

/* The message imprint of tst against the signature value: 1 when it is
 * the digest of sig_value by the imprint's own algorithm (SM3 or SHA-256).
 * *alg gets the algorithm's short name ("unknown" otherwise). */
static int imprint_matches(TS_TST_INFO *tst, const struct ses_bytes *sig_value,
                           const char **alg)
{
    TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(tst);
    X509_ALGOR *a = TS_MSG_IMPRINT_get_algo(mi);
    ASN1_OCTET_STRING *m = TS_MSG_IMPRINT_get_msg(mi);
    const ASN1_OBJECT *obj = NULL;
    const EVP_MD *md = NULL;
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    int nid;

    *alg = "unknown";
    X509_ALGOR_get0(&obj, NULL, NULL, a);
    nid = obj ? OBJ_obj2nid(obj) : NID_undef;
    if (nid == NID_sm3) {
        md = EVP_sm3();
        *alg = "sm3";
    } else if (nid == NID_sha256) {
        md = EVP_sha256();
        *alg = "sha256";
    }
    if (md == NULL || m == NULL ||
        EVP_Digest(sig_value->p, sig_value->len, h, &hl, md, NULL) != 1)
        return 0;
    return ASN1_STRING_length(m) == (int)hl &&
           memcmp(ASN1_STRING_get0_data(m), h, hl) == 0;
}

/* TS_RESP_verify_token of p7's signature (version and signature only)
 * against store (a reference is taken), with the token's certificates as
 * the untrusted ones; 1 when it verifies.  why gets OpenSSL's reason. */
static int token_sig_verifies(PKCS7 *p7, X509_STORE *store, char *why,
                              size_t whylen)
{
    TS_VERIFY_CTX *ctx = TS_VERIFY_CTX_new();
    unsigned long err;
    int ok = 0;

    if (ctx == NULL || !X509_STORE_up_ref(store)) {
        snprintf(why, whylen, "out of memory");
        TS_VERIFY_CTX_free(ctx);
        return 0;
    }
    TS_VERIFY_CTX_set_store(ctx, store);      /* ctx owns that reference */
    TS_VERIFY_CTX_set_flags(ctx, TS_VFY_VERSION | TS_VFY_SIGNATURE);
    ERR_clear_error();
    ok = TS_RESP_verify_token(ctx, p7) == 1;
    if (!ok) {
        err = ERR_peek_last_error();
        snprintf(why, whylen, "%s", err ? ERR_reason_error_string(err)
                                         : "verification failed");
        if (why[0] == '\0')
            snprintf(why, whylen, "verification failed");
    }
    TS_VERIFY_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* The token's certificates, those signed with SM2 given the SM2 ID for
 * their chain checks (OpenSSL refuses an ID on an ECDSA or RSA check). */
static STACK_OF(X509) *token_certs(PKCS7 *p7)
{
    STACK_OF(X509) *certs = NULL;
    X509 *x;
    int i;

    if (PKCS7_type_is_signed(p7) && p7->d.sign != NULL)
        certs = p7->d.sign->cert;
    for (i = 0; certs != NULL && i < sk_X509_num(certs); i++) {
        x = sk_X509_value(certs, i);
        if (X509_get_signature_nid(x) == NID_SM2_with_SM3)
            ses_set_distid(x, SM2_DEFAULT_ID);
    }
    return certs;
}

/* The TSA's name (subject of its first certificate) into buf. */
static void tsa_name(STACK_OF(X509) *certs, char *buf, size_t len)
{
    buf[0] = '\0';
    if (certs != NULL && sk_X509_num(certs) > 0)
        X509_NAME_oneline(X509_get_subject_name(sk_X509_value(certs, 0)),
                          buf, (int)len);
}

/* Contract: see ses.h. */
enum ses_ts_result ses_ts_token_verify(const uint8_t *token, size_t len,
                                       const struct ses_bytes *sig_value,
                                       X509_STORE *anchors,
                                       struct ses_ts_info *info)
{
    const unsigned char *p = token;
    PKCS7 *p7 = NULL;
    TS_TST_INFO *tst = NULL;
    STACK_OF(X509) *certs;
    X509_STORE *self = NULL;
    enum ses_ts_result res = SES_TS_FAILED;
    char why[160] = "";
    int i;

    memset(info, 0, sizeof(*info));
    info->hash = "unknown";
    if (len > 0 && len <= SES_MAX_TIMESTAMP)
        p7 = d2i_PKCS7(NULL, &p, (long)len);
    if (p7 == NULL || p != token + len ||
        (tst = PKCS7_to_TS_TST_INFO(p7)) == NULL ||
        ses_time_get(&info->gen_time, TS_TST_INFO_get_time(tst), "genTime",
                     NULL) != ERR_OK) {
        snprintf(info->reason, sizeof(info->reason), "not an RFC 3161 "
                 "timestamp token");
        goto out;
    }
    info->parsed = 1;
    certs = token_certs(p7);
    tsa_name(certs, info->tsa, sizeof(info->tsa));
    if (!imprint_matches(tst, sig_value, &info->hash)) {
        info->imprint_failed = 1;
        snprintf(info->reason, sizeof(info->reason), "the token's message "
                 "imprint (%s) is not the hash of the signature value",
                 info->hash);
        goto out;
    }
    /* the TSA's signature first, with the token's own certificates taken
     * as trusted: a failure here is a broken token, not an unknown TSA */
    if (certs == NULL || sk_X509_num(certs) == 0) {
        res = SES_TS_INDETERMINATE;
        snprintf(info->reason, sizeof(info->reason), "the token carries no "
                 "TSA certificate");
        goto out;
    }
    if ((self = X509_STORE_new()) == NULL)
        goto out;
    X509_STORE_set_flags(self, X509_V_FLAG_PARTIAL_CHAIN);
    for (i = 0; i < sk_X509_num(certs); i++)
        X509_STORE_add_cert(self, sk_X509_value(certs, i));
    if (!token_sig_verifies(p7, self, why, sizeof(why))) {
        snprintf(info->reason, sizeof(info->reason), "the TSA's signature "
                 "does not verify: %s", why);
        goto out;
    }
    res = SES_TS_INDETERMINATE;
    if (anchors == NULL) {
        snprintf(info->reason, sizeof(info->reason), "no TSA trust anchors "
                 "configured (tsa.anchors_dir)");
        goto out;
    }
    if (!token_sig_verifies(p7, anchors, why, sizeof(why))) {
        snprintf(info->reason, sizeof(info->reason), "the TSA certificate "
                 "does not chain to a TSA trust anchor: %s", why);
        goto out;
    }
    res = SES_TS_PASSED;
    snprintf(info->reason, sizeof(info->reason), "RFC 3161 token: imprint "
             "(%s) over the signature value, TSA signature and chain "
             "verified", info->hash);
out:
    X509_STORE_free(self);
    TS_TST_INFO_free(tst);
    PKCS7_free(p7);
    ERR_clear_error();
    return res;
}

/* The reply's status: ERR_OK when granted (with or without mods). */
static err_code reply_status(TS_RESP *resp, struct err *e)
{
    TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
    const ASN1_INTEGER *st = si ? TS_STATUS_INFO_get0_status(si) : NULL;
    long v = st ? ASN1_INTEGER_get(st) : -1;

    if (v == TS_STATUS_GRANTED || v == TS_STATUS_GRANTED_WITH_MODS)
        return ERR_OK;
    return err_set(e, ERR_INVALID, "the TSA refused the request (status %ld)",
                   v);
}

/* Does the token's nonce equal q's? */
static int nonce_matches(TS_TST_INFO *tst, const struct ses_ts_query *q)
{
    const ASN1_INTEGER *n = TS_TST_INFO_get_nonce(tst);
    BIGNUM *bn = n ? ASN1_INTEGER_to_BN(n, NULL) : NULL;
    uint8_t buf[sizeof(q->nonce)];
    int ok = 0;

    if (bn != NULL && BN_num_bytes(bn) <= (int)sizeof(buf) &&
        BN_bn2binpad(bn, buf, (int)sizeof(buf)) == (int)sizeof(buf))
        ok = memcmp(buf, q->nonce, sizeof(buf)) == 0;
    BN_free(bn);
    return ok;
}

/* Contract: see ses.h. */
err_code ses_ts_reply_token(const struct ses_ts_query *q,
                            const struct ses_bytes *sig_value,
                            const uint8_t *reply, size_t len,
                            X509_STORE *anchors, uint8_t **token,
                            size_t *token_len, struct ses_ts_info *info,
                            struct err *e)
{
    const unsigned char *p = reply;
    TS_RESP *resp = NULL;
    PKCS7 *p7;
    TS_TST_INFO *tst;
    unsigned char *w;
    int n;
    err_code rc = ERR_OK;

    *token = NULL;
    *token_len = 0;
    memset(info, 0, sizeof(*info));
    if (len == 0 || len > SES_MAX_TIMESTAMP + 1024 ||
        (resp = d2i_TS_RESP(NULL, &p, (long)len)) == NULL ||
        p != reply + len) {
        rc = err_set(e, ERR_MALFORMED, "the TSA's answer is not a "
                     "TimeStampResp");
        goto out;
    }
    if ((rc = reply_status(resp, e)) != ERR_OK)
        goto out;
    p7 = TS_RESP_get_token(resp);
    tst = TS_RESP_get_tst_info(resp);
    if (p7 == NULL || tst == NULL) {
        rc = err_set(e, ERR_MALFORMED, "granted reply without a token");
        goto out;
    }
    if (!nonce_matches(tst, q)) {
        rc = err_set(e, ERR_INVALID, "the token's nonce is not the query's");
        goto out;
    }
    if ((n = i2d_PKCS7(p7, NULL)) <= 0 || (size_t)n > SES_MAX_TIMESTAMP ||
        (*token = malloc((size_t)n)) == NULL) {
        rc = err_set(e, ERR_TOO_LARGE, "cannot keep the token");
        goto out;
    }
    w = *token;
    *token_len = (size_t)i2d_PKCS7(p7, &w);
    if (ses_ts_token_verify(*token, *token_len, sig_value, anchors, info) !=
        SES_TS_PASSED)
        rc = err_set(e, ERR_INVALID, "the TSA's token does not verify: %s",
                     info->reason);
out:
    if (rc != ERR_OK) {
        free(*token);
        *token = NULL;
        *token_len = 0;
    }
    TS_RESP_free(resp);
    ERR_clear_error();
    return rc;
}

/* Contract: see ses.h. */
err_code ses_signature_value(const uint8_t *der, size_t len, uint8_t **val,
                             size_t *val_len, struct err *e)
{
    struct ses_signature *s = NULL;
    err_code rc;

    *val = NULL;
    *val_len = 0;
    if ((rc = ses_signature_decode(der, len, &s, e)) != ERR_OK)
        return rc;
    if (s->has_timestamp)
        rc = err_set(e, ERR_CONFLICT, "the signature has a timestamp "
                     "already");
    else if ((*val = malloc(s->sig_value.len ? s->sig_value.len : 1)) == NULL)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else {
        memcpy(*val, s->sig_value.p, s->sig_value.len);
        *val_len = s->sig_value.len;
    }
    ses_signature_free(s);
    return rc;
}

/* Contract: see ses.h. */
err_code ses_signature_add_timestamp(const uint8_t *der, size_t len,
                                     const uint8_t *token, size_t token_len,
                                     uint8_t **out, size_t *out_len,
                                     struct err *e)
{
    uint8_t tag, lenbuf[3][6], *o;
    size_t hdr, clen, bits, tagged, content, l0, l1, l2, total;

    *out = NULL;
    *out_len = 0;
    if (!ses_der_tlv(der, len, &tag, &hdr, &clen) || tag != 0x30 ||
        hdr + clen != len)
        return err_set(e, ERR_MALFORMED, "SES_Signature is not one "
                       "SEQUENCE");
    if (token_len == 0 || token_len > SES_MAX_TIMESTAMP)
        return err_set(e, ERR_TOO_LARGE, "timestamp token of %zu bytes",
                       token_len);
    /* [0] EXPLICIT BIT STRING { 0 unused bits, token } */
    bits = 1 + token_len;
    l2 = der_len_put(lenbuf[2], bits);
    tagged = 1 + l2 + bits;
    l1 = der_len_put(lenbuf[1], tagged);
    content = clen + 1 + l1 + tagged;
    l0 = der_len_put(lenbuf[0], content);
    total = 1 + l0 + content;
    if ((o = malloc(total)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    *out = o;
    *o++ = 0x30;
    memcpy(o, lenbuf[0], l0);
    o += l0;
    memcpy(o, der + hdr, clen);
    o += clen;
    *o++ = 0xa0;
    memcpy(o, lenbuf[1], l1);
    o += l1;
    *o++ = 0x03;
    memcpy(o, lenbuf[2], l2);
    o += l2;
    *o++ = 0x00;
    memcpy(o, token, token_len);
    *out_len = total;
    return ERR_OK;
}
