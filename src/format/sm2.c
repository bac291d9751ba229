/*
 * sm2.c - owns SM3 hashing, the GM/T 0009 Z/e computation, SM2 signature
 * value normalisation (DER / non-minimal DER / raw r||s), SM2 verification
 * through EVP with an explicit signer ID, and the split signing step that
 * hands e to a signer callback.  No private key is ever created or loaded here.
 */
#include "sm2.h"
#include "util.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>

/* SM2 curve parameters a, b, xG, yG (GM/T 0003.5), 32 bytes each. */
static const uint8_t SM2_CURVE_ABG[128] = {
    /* a */
    0xFF,0xFF,0xFF,0xFE,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,
    0xFF,0xFF,0xFF,0xFF,0x00,0x00,0x00,0x00,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFC,
    /* b */
    0x28,0xE9,0xFA,0x9E,0x9D,0x9F,0x5E,0x34,0x4D,0x5A,0x9E,0x4B,0xCF,0x65,0x09,0xA7,
    0xF3,0x97,0x89,0xF5,0x15,0xAB,0x8F,0x92,0xDD,0xBC,0xBD,0x41,0x4D,0x94,0x0E,0x93,
    /* xG */
    0x32,0xC4,0xAE,0x2C,0x1F,0x19,0x81,0x19,0x5F,0x99,0x04,0x46,0x6A,0x39,0xC9,0x94,
    0x8F,0xE3,0x0B,0xBF,0xF2,0x66,0x0B,0xE1,0x71,0x5A,0x45,0x89,0x33,0x4C,0x74,0xC7,
    /* yG */
    0xBC,0x37,0x36,0xA2,0xF4,0xF6,0x77,0x9C,0x59,0xBD,0xCE,0xE3,0x6B,0x69,0x21,0x53,
    0xD0,0xA9,0x87,0x7C,0xC6,0x2A,0x47,0x40,0x02,0xDF,0x32,0xE5,0x21,0x39,0xF0,0xA0,
};

/* The SM2 group order n, to range-check r and s. */
static const uint8_t SM2_ORDER[32] = {
    0xFF,0xFF,0xFF,0xFE,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,0xFF,
    0x72,0x03,0xDF,0x6B,0x21,0xC6,0x05,0x2B,0x53,0xBB,0xF4,0x09,0x39,0xD5,0x41,0x23,
};

/* Contract: one-shot SM3.  Owns nothing. */
err_code sm2_sm3(const void *data, size_t len, uint8_t out[SM3_DIGEST_LEN],
                 struct err *err)
{
    err_code rc = ERR_OK;
    unsigned int olen = 0;
    EVP_MD *md = EVP_MD_fetch(NULL, "SM3", NULL);

    if (md == NULL || !EVP_Digest(data, len, out, &olen, md, NULL) ||
        olen != SM3_DIGEST_LEN)
        rc = err_set(err, ERR_CRYPTO, "SM3 digest failed");
    EVP_MD_free(md);
    return rc;
}

/* Contract: 1 when pkey is SM2 or EC on the SM2 curve. */
int sm2_is_sm2_key(const EVP_PKEY *pkey)
{
    char group[64];
    size_t glen = 0;

    if (pkey == NULL)
        return 0;
    if (!EVP_PKEY_is_a(pkey, "SM2") && !EVP_PKEY_is_a(pkey, "EC"))
        return 0;
    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                        group, sizeof(group), &glen))
        return 0;
    return strcmp(group, "SM2") == 0;
}

/* Contract: Z over the fixed curve parameters and the key's affine point. */
err_code sm2_compute_z(const EVP_PKEY *pub, const char *id,
                       uint8_t z[SM3_DIGEST_LEN], struct err *err)
{
    err_code rc = ERR_OK;
    BIGNUM *x = NULL, *y = NULL;
    EVP_MD_CTX *mctx = NULL;
    EVP_MD *md = NULL;
    uint8_t buf[2 + 64];
    size_t idlen;
    unsigned int olen = 0;

    if (id == NULL)
        id = SM2_DEFAULT_ID;
    idlen = strlen(id);
    if (idlen > SM2_ID_MAX) {
        rc = err_set(err, ERR_INVALID, "SM2 signer ID too long");
        goto done;
    }
    if (!sm2_is_sm2_key(pub)) {
        rc = err_set(err, ERR_INVALID, "not an SM2 public key");
        goto done;
    }
    if (!EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
        !EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_EC_PUB_Y, &y) ||
        BN_bn2binpad(x, buf + 2, 32) != 32 ||
        BN_bn2binpad(y, buf + 2 + 32, 32) != 32) {
        rc = err_set(err, ERR_CRYPTO, "cannot read SM2 public point");
        goto done;
    }
    md = EVP_MD_fetch(NULL, "SM3", NULL);
    mctx = EVP_MD_CTX_new();
    buf[0] = (uint8_t)(((idlen * 8) >> 8) & 0xff);
    buf[1] = (uint8_t)((idlen * 8) & 0xff);
    if (md == NULL || mctx == NULL ||
        !EVP_DigestInit_ex(mctx, md, NULL) ||
        !EVP_DigestUpdate(mctx, buf, 2) ||
        !EVP_DigestUpdate(mctx, id, idlen) ||
        !EVP_DigestUpdate(mctx, SM2_CURVE_ABG, sizeof(SM2_CURVE_ABG)) ||
        !EVP_DigestUpdate(mctx, buf + 2, 64) ||
        !EVP_DigestFinal_ex(mctx, z, &olen) || olen != SM3_DIGEST_LEN) {
        rc = err_set(err, ERR_CRYPTO, "SM3 failed computing Z");
        goto done;
    }
done:
    EVP_MD_CTX_free(mctx);
    EVP_MD_free(md);
    BN_free(x);
    BN_free(y);
    return rc;
}

/* Contract: e = SM3(Z || msg). */
err_code sm2_compute_e(const EVP_PKEY *pub, const char *id, const void *msg,
                       size_t len, uint8_t e[SM3_DIGEST_LEN], struct err *err)
{
    err_code rc;
    uint8_t z[SM3_DIGEST_LEN];
    EVP_MD_CTX *mctx = NULL;
    EVP_MD *md = NULL;
    unsigned int olen = 0;

    rc = sm2_compute_z(pub, id, z, err);
    if (rc != ERR_OK)
        goto done;
    md = EVP_MD_fetch(NULL, "SM3", NULL);
    mctx = EVP_MD_CTX_new();
    if (md == NULL || mctx == NULL || !EVP_DigestInit_ex(mctx, md, NULL) ||
        !EVP_DigestUpdate(mctx, z, sizeof(z)) ||
        !EVP_DigestUpdate(mctx, msg, len) ||
        !EVP_DigestFinal_ex(mctx, e, &olen) || olen != SM3_DIGEST_LEN) {
        rc = err_set(err, ERR_CRYPTO, "SM3 failed computing e");
        goto done;
    }
done:
    EVP_MD_CTX_free(mctx);
    EVP_MD_free(md);
    return rc;
}

/*
 * Read one DER/BER tag-length header at p (avail bytes): tag must equal want,
 * length definite (short or long form up to 4 bytes, non-minimal allowed).
 * On success *hdr = header size, *clen = content length (fits in avail).
 */
static int tl_read(const uint8_t *p, size_t avail, uint8_t want, size_t *hdr,
                   size_t *clen)
{
    size_t n, i, l = 0;

    if (avail < 2 || p[0] != want)
        return 0;
    if (p[1] < 0x80) {
        l = p[1];
        n = 2;
    } else {
        size_t k = p[1] & 0x7f;
        if (k == 0 || k > 4 || avail < 2 + k)
            return 0;
        for (i = 0; i < k; i++)
            l = (l << 8) | p[2 + i];
        n = 2 + k;
    }
    if (l > avail - n)
        return 0;
    *hdr = n;
    *clen = l;
    return 1;
}

/* Copy a (possibly non-minimal) positive INTEGER body into out[32]. */
static int int_to_32(const uint8_t *p, size_t len, uint8_t out[32])
{
    if (len == 0 || (p[0] & 0x80))
        return 0;                         /* empty or negative */
    while (len > 0 && p[0] == 0) {
        p++;
        len--;
    }
    if (len > 32)
        return 0;
    memset(out, 0, 32);
    memcpy(out + 32 - len, p, len);
    return 1;
}

/* 1 when 0 < v < n. */
static int in_range(const uint8_t v[32])
{
    static const uint8_t zero[32];

    return memcmp(v, zero, 32) != 0 && memcmp(v, SM2_ORDER, 32) < 0;
}

/* Contract: normalise any accepted signature value to r||s. */
err_code sm2_sig_normalize(const uint8_t *sig, size_t len,
                           uint8_t rs[SM2_SIG_RAW_LEN], struct err *err)
{
    size_t h, l, h1, l1, h2, l2;
    const uint8_t *p;

    if (sig == NULL || len == 0 || len > SM2_SIG_IN_MAX)
        return err_set(err, ERR_MALFORMED, "signature value size %zu", len);
    if (tl_read(sig, len, 0x30, &h, &l) && h + l == len) {
        p = sig + h;
        if (tl_read(p, l, 0x02, &h1, &l1) &&
            tl_read(p + h1 + l1, l - h1 - l1, 0x02, &h2, &l2) &&
            h1 + l1 + h2 + l2 == l &&
            int_to_32(p + h1, l1, rs) &&
            int_to_32(p + h1 + l1 + h2, l2, rs + 32))
            goto check;
    }
    if (len == SM2_SIG_RAW_LEN) {
        memcpy(rs, sig, SM2_SIG_RAW_LEN);
        goto check;
    }
    return err_set(err, ERR_MALFORMED,
                   "signature value is neither DER SEQUENCE{r,s} nor r||s");
check:
    if (!in_range(rs) || !in_range(rs + 32))
        return err_set(err, ERR_MALFORMED, "signature r or s out of range");
    return ERR_OK;
}

/* Contract: strict DER via ECDSA_SIG (minimal INTEGERs). */
err_code sm2_sig_to_der(const uint8_t rs[SM2_SIG_RAW_LEN], uint8_t *der,
                        size_t *der_len, struct err *err)
{
    err_code rc = ERR_OK;
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *ss = BN_bin2bn(rs + 32, 32, NULL);
    unsigned char *p = der;
    int n;

    if (s == NULL || r == NULL || ss == NULL || !ECDSA_SIG_set0(s, r, ss)) {
        BN_free(r);
        BN_free(ss);
        rc = err_set(err, ERR_NOMEM, "ECDSA_SIG allocation failed");
        goto done;
    }
    n = i2d_ECDSA_SIG(s, NULL);
    if (n <= 0 || n > SM2_SIG_DER_MAX || i2d_ECDSA_SIG(s, &p) != n) {
        rc = err_set(err, ERR_CRYPTO, "DER encoding of signature failed");
        goto done;
    }
    *der_len = (size_t)n;
done:
    ECDSA_SIG_free(s);
    return rc;
}

/* Contract: DigestVerify with SM3 and the ID set explicitly every call. */
err_code sm2_verify(const EVP_PKEY *pub, const char *id, const void *msg,
                    size_t len, const uint8_t *sig, size_t sig_len, int *ok,
                    struct err *err)
{
    err_code rc = ERR_OK;
    uint8_t rs[SM2_SIG_RAW_LEN], der[SM2_SIG_DER_MAX];
    size_t der_len = 0;
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int r;

    *ok = 0;
    if (id == NULL)
        id = SM2_DEFAULT_ID;
    if (!sm2_is_sm2_key(pub)) {
        rc = err_set(err, ERR_INVALID, "not an SM2 public key");
        goto done;
    }
    if (sm2_sig_normalize(sig, sig_len, rs, NULL) != ERR_OK)
        goto done;                               /* invalid, not an error */
    rc = sm2_sig_to_der(rs, der, &der_len, err);
    if (rc != ERR_OK)
        goto done;
    mctx = EVP_MD_CTX_new();
    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *)pub, NULL);
    if (mctx == NULL || pctx == NULL ||
        EVP_PKEY_CTX_set1_id(pctx, id, strlen(id)) <= 0) {
        rc = err_set(err, ERR_CRYPTO, "cannot set up SM2 verification");
        goto done;
    }
    EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
    if (EVP_DigestVerifyInit_ex(mctx, NULL, "SM3", NULL, NULL,
                                (EVP_PKEY *)pub, NULL) <= 0) {
        rc = err_set(err, ERR_CRYPTO, "SM2 verify init failed");
        goto done;
    }
    r = EVP_DigestVerify(mctx, der, der_len, msg, len);
    *ok = (r == 1);
done:
    ERR_clear_error();
    EVP_MD_CTX_free(mctx);          /* does not free a set pkey ctx */
    EVP_PKEY_CTX_free(pctx);
    return rc;
}

/* Contract: as sm2_verify, key from cert (borrowed). */
err_code sm2_verify_cert(X509 *cert, const char *id, const void *msg,
                         size_t len, const uint8_t *sig, size_t sig_len,
                         int *ok, struct err *err)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert);

    *ok = 0;
    if (pub == NULL)
        return err_set(err, ERR_INVALID, "certificate has no usable key");
    return sm2_verify(pub, id, msg, len, sig, sig_len, ok, err);
}

/* Contract: see sm2.h; always checks the signer's value. */
err_code sm2_sign(const EVP_PKEY *pub, const char *id, const void *msg,
                  size_t len, sm2_signer_fn signer, void *signer_ctx,
                  uint8_t *der, size_t *der_len, struct err *err)
{
    return sm2_sign_ex(pub, id, msg, len, signer, signer_ctx, 1, der, der_len,
                       err);
}

/* Contract: e computed here, private step in the callback, result checked
 * when check is 1. */
err_code sm2_sign_ex(const EVP_PKEY *pub, const char *id, const void *msg,
                     size_t len, sm2_signer_fn signer, void *signer_ctx,
                     int check, uint8_t *der, size_t *der_len,
                     struct err *err)
{
    err_code rc;
    uint8_t e[SM3_DIGEST_LEN], raw[SM2_SIG_IN_MAX], rs[SM2_SIG_RAW_LEN];
    size_t raw_len = sizeof(raw);
    int ok = 0;

    rc = sm2_compute_e(pub, id, msg, len, e, err);
    if (rc != ERR_OK)
        goto done;
    rc = signer(signer_ctx, e, raw, &raw_len, err);
    if (rc != ERR_OK)
        goto done;
    if (raw_len > sizeof(raw)) {
        rc = err_set(err, ERR_INTERNAL, "signer overflowed its buffer");
        goto done;
    }
    rc = sm2_sig_normalize(raw, raw_len, rs, err);
    if (rc != ERR_OK)
        goto done;
    rc = sm2_sig_to_der(rs, der, der_len, err);
    if (rc != ERR_OK || !check)
        goto done;
    rc = sm2_verify(pub, id, msg, len, der, *der_len, &ok, err);
    if (rc == ERR_OK && !ok)
        rc = err_set(err, ERR_CRYPTO,
                     "signer returned a signature that does not verify");
done:
    util_wipe(e, sizeof(e));
    return rc;
}

/* Contract: strict parse of one DER certificate; caller owns *out. */
err_code sm2_cert_parse(const uint8_t *der, size_t len, X509 **out,
                        struct err *err)
{
    const unsigned char *p = der;
    X509 *x;

    *out = NULL;
    if (len == 0 || len > (size_t)0x7fffffff)
        return err_set(err, ERR_MALFORMED, "certificate size %zu", len);
    x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL || p != der + len) {
        X509_free(x);
        ERR_clear_error();
        return err_set(err, ERR_MALFORMED, "certificate is not valid DER");
    }
    *out = x;
    return ERR_OK;
}
