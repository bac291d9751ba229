/*
 * sd_testutil.h - builds GB/T 35275 SignedData for the unit tests (test_ses,
 * test_ofd), independently of the decoder under test: DER written by hand,
 * OIDs and names encoded by OpenSSL, the SM2 signature made with EVP and the
 * SM2 ID 1234567812345678 set explicitly.
 *
 * Header-only (static functions); include after <cmocka.h>.
 */
#ifndef SEALD_SD_TESTUTIL_H
#define SEALD_SD_TESTUTIL_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#define SD_T_UNUSED __attribute__((unused))

enum {
    SD_T_ATTRS       = 1,   /* signed attributes (contentType,
                               signingTime, messageDigest)              */
    SD_T_ATTACH_HASH = 2,   /* attached content: SM3 of the data (tongz) */
    SD_T_BAD_DIGEST  = 4,   /* messageDigest of other bytes, correctly
                               signed: a signer binding the wrong data  */
};

struct sd_t_buf {
    uint8_t *p;
    size_t n;
};

static void sd_t_raw(struct sd_t_buf *b, const void *p, size_t n)
{
    b->p = realloc(b->p, b->n + n + 1);
    assert_non_null(b->p);
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* Append tag, definite length and content c (n bytes) to b. */
static void sd_t_tlv(struct sd_t_buf *b, uint8_t tag, const void *c, size_t n)
{
    uint8_t h[6];
    size_t hl = 0;

    h[hl++] = tag;
    if (n < 0x80) {
        h[hl++] = (uint8_t)n;
    } else if (n < 0x100) {
        h[hl++] = 0x81;
        h[hl++] = (uint8_t)n;
    } else if (n < 0x10000) {
        h[hl++] = 0x82;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x83;
        h[hl++] = (uint8_t)(n >> 16);
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    }
    sd_t_raw(b, h, hl);
    sd_t_raw(b, c, n);
}

/* Wrap inner (consumed) in tag, appended to b. */
static void sd_t_wrap(struct sd_t_buf *b, uint8_t tag, struct sd_t_buf *inner)
{
    sd_t_tlv(b, tag, inner->p, inner->n);
    free(inner->p);
    inner->p = NULL;
    inner->n = 0;
}

static void sd_t_oid(struct sd_t_buf *b, const char *dotted)
{
    ASN1_OBJECT *o = OBJ_txt2obj(dotted, 1);
    unsigned char *der = NULL;
    int n;

    assert_non_null(o);
    n = i2d_ASN1_OBJECT(o, &der);
    assert_true(n > 0);
    sd_t_raw(b, der, (size_t)n);
    OPENSSL_free(der);
    ASN1_OBJECT_free(o);
}

/* AlgorithmIdentifier { oid, NULL } */
static void sd_t_alg(struct sd_t_buf *b, const char *dotted)
{
    struct sd_t_buf a = {NULL, 0};

    sd_t_oid(&a, dotted);
    sd_t_tlv(&a, 0x05, "", 0);
    sd_t_wrap(b, 0x30, &a);
}

/* Attribute { oid, SET { value (DER) } } */
static void sd_t_attr(struct sd_t_buf *b, const char *dotted,
                      const struct sd_t_buf *value)
{
    struct sd_t_buf a = {NULL, 0}, set = {NULL, 0};

    sd_t_oid(&a, dotted);
    sd_t_raw(&set, value->p, value->n);
    sd_t_wrap(&a, 0x31, &set);
    sd_t_wrap(b, 0x30, &a);
}

static void sd_t_sm3(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;

    assert_true(EVP_Digest(p, n, out, &len, EVP_sm3(), NULL) == 1);
    assert_int_equal(len, 32);
}

/* SM2 signature (DER) of key over msg, SM2 ID 1234567812345678. */
static void sd_t_sign(EVP_PKEY *key, const uint8_t *msg, size_t n,
                      struct sd_t_buf *sig)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key, NULL);
    size_t len = 0;

    assert_true(EVP_PKEY_CTX_set1_id(pc, "1234567812345678", 16) > 0);
    EVP_MD_CTX_set_pkey_ctx(md, pc);
    assert_true(EVP_DigestSignInit(md, NULL, EVP_sm3(), NULL, key) == 1);
    assert_true(EVP_DigestSign(md, NULL, &len, msg, n) == 1);
    sig->p = malloc(len);
    assert_non_null(sig->p);
    assert_true(EVP_DigestSign(md, sig->p, &len, msg, n) == 1);
    sig->n = len;
    EVP_MD_CTX_free(md);
    EVP_PKEY_CTX_free(pc);
}

/* A GB/T 35275 SignedData by key / cert over data (len bytes) with the
 * SD_T_* flags; signing_time is the signingTime attribute (with
 * SD_T_ATTRS).  Returns the malloc'ed DER, its length in *out_len. */
SD_T_UNUSED static uint8_t *sd_t_build(EVP_PKEY *key, X509 *cert,
                                       const uint8_t *data, size_t len,
                                       int flags, time_t signing_time,
                                       size_t *out_len)
{
    struct sd_t_buf top = {NULL, 0}, sd = {NULL, 0}, tmp = {NULL, 0};
    struct sd_t_buf ci = {NULL, 0}, si = {NULL, 0}, attrs = {NULL, 0};
    struct sd_t_buf v = {NULL, 0}, sig = {NULL, 0}, ias = {NULL, 0};
    uint8_t hash[32], content_hash[32];
    unsigned char *der = NULL;
    int n;

    sd_t_sm3(data, len, hash);
    /* version, digestAlgorithms */
    sd_t_tlv(&sd, 0x02, "\x01", 1);
    sd_t_alg(&tmp, "1.2.156.10197.1.401");
    sd_t_wrap(&sd, 0x31, &tmp);
    /* contentInfo */
    sd_t_oid(&ci, "1.2.156.10197.6.1.4.2.1");
    if (flags & SD_T_ATTACH_HASH) {
        sd_t_tlv(&tmp, 0x04, hash, 32);
        sd_t_wrap(&ci, 0xa0, &tmp);
    }
    sd_t_wrap(&sd, 0x30, &ci);
    /* certificates [0] IMPLICIT */
    n = i2d_X509(cert, &der);
    assert_true(n > 0);
    sd_t_tlv(&sd, 0xa0, der, (size_t)n);
    OPENSSL_free(der);
    der = NULL;
    /* SignerInfo */
    sd_t_tlv(&si, 0x02, "\x01", 1);
    n = i2d_X509_NAME(X509_get_issuer_name(cert), &der);
    assert_true(n > 0);
    sd_t_raw(&ias, der, (size_t)n);
    OPENSSL_free(der);
    der = NULL;
    n = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &der);
    assert_true(n > 0);
    sd_t_raw(&ias, der, (size_t)n);
    OPENSSL_free(der);
    der = NULL;
    sd_t_wrap(&si, 0x30, &ias);
    sd_t_alg(&si, "1.2.156.10197.1.401");
    if (flags & SD_T_ATTRS) {
        ASN1_UTCTIME *t = ASN1_UTCTIME_set(NULL, signing_time);

        sd_t_oid(&v, "1.2.156.10197.6.1.4.2.1");
        sd_t_attr(&attrs, "1.2.840.113549.1.9.3", &v);
        free(v.p);
        v.p = NULL;
        v.n = 0;
        n = i2d_ASN1_UTCTIME(t, &der);
        assert_true(n > 0);
        sd_t_raw(&v, der, (size_t)n);
        OPENSSL_free(der);
        der = NULL;
        ASN1_UTCTIME_free(t);
        sd_t_attr(&attrs, "1.2.840.113549.1.9.5", &v);
        free(v.p);
        v.p = NULL;
        v.n = 0;
        /* messageDigest: SM3 of the content (attached) or of the data */
        if (flags & SD_T_ATTACH_HASH)
            sd_t_sm3(hash, 32, content_hash);
        else
            memcpy(content_hash, hash, 32);
        if (flags & SD_T_BAD_DIGEST)
            content_hash[0] ^= 0x5a;
        sd_t_tlv(&v, 0x04, content_hash, 32);
        sd_t_attr(&attrs, "1.2.840.113549.1.9.4", &v);
        free(v.p);
        v.p = NULL;
        /* signed as SET OF, carried as [0] IMPLICIT */
        sd_t_tlv(&tmp, 0x31, attrs.p, attrs.n);
        sd_t_sign(key, tmp.p, tmp.n, &sig);
        free(tmp.p);
        tmp.p = NULL;
        tmp.n = 0;
        sd_t_wrap(&si, 0xa0, &attrs);
    } else if (flags & SD_T_ATTACH_HASH) {
        sd_t_sign(key, hash, 32, &sig);
    } else {
        sd_t_sign(key, data, len, &sig);
    }
    sd_t_alg(&si, "1.2.156.10197.1.501");
    sd_t_tlv(&si, 0x04, sig.p, sig.n);
    free(sig.p);
    sd_t_wrap(&tmp, 0x30, &si);
    sd_t_wrap(&sd, 0x31, &tmp);
    /* ContentInfo { signedData, [0] EXPLICIT SignedData } */
    sd_t_oid(&top, "1.2.156.10197.6.1.4.2.2");
    sd_t_wrap(&tmp, 0x30, &sd);
    sd_t_wrap(&top, 0xa0, &tmp);
    sd_t_wrap(&tmp, 0x30, &top);
    *out_len = tmp.n;
    return tmp.p;
}

#endif
