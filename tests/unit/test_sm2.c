/*
 * test_sm2.c - SM3, Z/e per GM/T 0009 (cross-checked against OpenSSL's own
 * SM2 DigestSign/DigestVerify with the ID set), signature value
 * normalisation (DER, non-minimal DER, raw r||s) and the split signing step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sm2.h"
#include "util.h"

static const char MSG[] = "seald message to sign";

static err_code soft_signer(void *ctx, const uint8_t e[SM3_DIGEST_LEN],
                            uint8_t *sig, size_t *sig_len, struct err *err)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new((EVP_PKEY *)ctx, NULL);
    err_code rc = ERR_OK;

    if (pc == NULL || EVP_PKEY_sign_init(pc) <= 0 ||
        EVP_PKEY_sign(pc, sig, sig_len, e, SM3_DIGEST_LEN) <= 0)
        rc = err_set(err, ERR_CRYPTO, "soft signer failed");
    EVP_PKEY_CTX_free(pc);
    return rc;
}

/* Signer returning raw r||s to check normalisation on the way out. */
static err_code raw_signer(void *ctx, const uint8_t e[SM3_DIGEST_LEN],
                           uint8_t *sig, size_t *sig_len, struct err *err)
{
    uint8_t der[SM2_SIG_IN_MAX];
    size_t n = sizeof(der);
    err_code rc = soft_signer(ctx, e, der, &n, err);

    if (rc != ERR_OK)
        return rc;
    rc = sm2_sig_normalize(der, n, sig, err);
    *sig_len = SM2_SIG_RAW_LEN;
    return rc;
}

static err_code bad_signer(void *ctx, const uint8_t e[SM3_DIGEST_LEN],
                           uint8_t *sig, size_t *sig_len, struct err *err)
{
    memset(sig, 0x11, SM2_SIG_RAW_LEN);
    *sig_len = SM2_SIG_RAW_LEN;
    return ERR_OK;
}

/* OpenSSL's own SM2 sign with an explicit ID. */
static size_t ossl_sign(EVP_PKEY *k, const char *id, const void *m, size_t n,
                        uint8_t *sig)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(k, NULL);
    size_t len = SM2_SIG_IN_MAX;

    assert_true(EVP_PKEY_CTX_set1_id(pctx, id, strlen(id)) > 0);
    EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
    assert_true(EVP_DigestSignInit(mctx, NULL, EVP_sm3(), NULL, k) > 0);
    assert_true(EVP_DigestSign(mctx, sig, &len, m, n) > 0);
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_CTX_free(pctx);
    return len;
}

static int ossl_verify(EVP_PKEY *k, const char *id, const void *m, size_t n,
                       const uint8_t *sig, size_t len)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(k, NULL);
    int r;

    assert_true(EVP_PKEY_CTX_set1_id(pctx, id, strlen(id)) > 0);
    EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
    assert_true(EVP_DigestVerifyInit(mctx, NULL, EVP_sm3(), NULL, k) > 0);
    r = EVP_DigestVerify(mctx, sig, len, m, n);
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_CTX_free(pctx);
    return r == 1;
}

static void test_sm3_vector(void **state)
{
    uint8_t h[SM3_DIGEST_LEN];
    char hex[65];

    assert_int_equal(sm2_sm3("abc", 3, h, NULL), ERR_OK);
    util_hex_encode(h, sizeof(h), hex);
    assert_string_equal(hex, "66c7f0f462eeedd9d1f2d46bdc10e4e2"
                             "4167c4875cf2f7a2297da02b8f4ba8e0");
}

/* e computed here + raw SM2 sign by OpenSSL == a signature OpenSSL's
 * DigestVerify (which computes Z itself) accepts: proves Z and e. */
static void test_z_e_against_openssl(void **state)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
    uint8_t e[SM3_DIGEST_LEN], sig[SM2_SIG_IN_MAX];
    size_t len = sizeof(sig);
    struct err er;
    static const char *ids[] = {SM2_DEFAULT_ID, "ALICE123@YAHOO.COM", "x"};
    size_t i;

    assert_non_null(k);
    for (i = 0; i < 3; i++) {
        len = sizeof(sig);
        assert_int_equal(sm2_compute_e(k, ids[i], MSG, strlen(MSG), e, &er),
                         ERR_OK);
        assert_int_equal(soft_signer(k, e, sig, &len, &er), ERR_OK);
        assert_true(ossl_verify(k, ids[i], MSG, strlen(MSG), sig, len));
        /* and OpenSSL's signature verifies with our verifier */
        len = ossl_sign(k, ids[i], MSG, strlen(MSG), sig);
        {
            int ok = 0;
            assert_int_equal(sm2_verify(k, ids[i], MSG, strlen(MSG), sig, len,
                                        &ok, &er), ERR_OK);
            assert_true(ok);
            /* wrong ID fails */
            assert_int_equal(sm2_verify(k, i ? NULL : "1234", MSG, strlen(MSG),
                                        sig, len, &ok, &er), ERR_OK);
            assert_false(ok);
        }
    }
    EVP_PKEY_free(k);
}

static size_t der_int(uint8_t *o, const uint8_t v[32], int pad)
{
    size_t n = 0, i = 0;

    while (i < 31 && v[i] == 0)
        i++;
    o[n++] = 0x02;
    o[n++] = (uint8_t)(32 - i + (size_t)pad + ((v[i] & 0x80) ? 1 : 0));
    while (pad-- > 0)
        o[n++] = 0x00;                       /* non-minimal padding */
    if (v[i] & 0x80)
        o[n++] = 0x00;
    memcpy(o + n, v + i, 32 - i);
    return n + 32 - i;
}

static void test_normalize_forms(void **state)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
    uint8_t sig[SM2_SIG_IN_MAX], rs[64], rs2[64], buf[200], der[SM2_SIG_DER_MAX];
    size_t len = ossl_sign(k, SM2_DEFAULT_ID, MSG, strlen(MSG), sig), n, dl;
    struct err er;
    int ok = 0;

    assert_int_equal(sm2_sig_normalize(sig, len, rs, &er), ERR_OK);
    /* raw r||s */
    assert_int_equal(sm2_verify(k, NULL, MSG, strlen(MSG), rs, 64, &ok, &er),
                     ERR_OK);
    assert_true(ok);
    /* non-minimal INTEGERs and long-form length */
    n = 0;
    buf[n++] = 0x30;
    buf[n++] = 0x81;
    n++;
    n += der_int(buf + n, rs, 2);
    n += der_int(buf + n, rs + 32, 1);
    buf[2] = (uint8_t)(n - 3);
    assert_int_equal(sm2_sig_normalize(buf, n, rs2, &er), ERR_OK);
    assert_memory_equal(rs, rs2, 64);
    assert_int_equal(sm2_verify(k, NULL, MSG, strlen(MSG), buf, n, &ok, &er),
                     ERR_OK);
    assert_true(ok);
    /* strict DER round trip */
    assert_int_equal(sm2_sig_to_der(rs, der, &dl, &er), ERR_OK);
    assert_int_equal(sm2_sig_normalize(der, dl, rs2, &er), ERR_OK);
    assert_memory_equal(rs, rs2, 64);
    /* garbage */
    assert_int_equal(sm2_sig_normalize(buf, 10, rs2, &er), ERR_MALFORMED);
    assert_int_equal(sm2_sig_normalize(buf, 0, rs2, &er), ERR_MALFORMED);
    memset(buf, 0, 64);
    assert_int_equal(sm2_sig_normalize(buf, 64, rs2, &er), ERR_MALFORMED);
    memset(buf, 0xff, 64);                    /* r >= n */
    assert_int_equal(sm2_sig_normalize(buf, 64, rs2, &er), ERR_MALFORMED);
    buf[0] = 0x30; buf[1] = 0x06; buf[2] = 0x02; buf[3] = 0x01; buf[4] = 0x80;
    buf[5] = 0x02; buf[6] = 0x01; buf[7] = 0x01;  /* negative r */
    assert_int_equal(sm2_sig_normalize(buf, 8, rs2, &er), ERR_MALFORMED);
    /* a tampered value verifies as invalid, not as an error */
    sig[len - 1] ^= 1;
    assert_int_equal(sm2_verify(k, NULL, MSG, strlen(MSG), sig, len, &ok, &er),
                     ERR_OK);
    assert_false(ok);
    EVP_PKEY_free(k);
}

static void test_split_sign(void **state)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
    uint8_t der[SM2_SIG_DER_MAX], rs[64], back[SM2_SIG_DER_MAX];
    size_t len = 0, bl = 0;
    struct err er;

    assert_int_equal(sm2_sign(k, NULL, MSG, strlen(MSG), raw_signer, k, der,
                              &len, &er), ERR_OK);
    /* output is strict DER: re-encoding gives the same bytes */
    assert_int_equal(sm2_sig_normalize(der, len, rs, &er), ERR_OK);
    assert_int_equal(sm2_sig_to_der(rs, back, &bl, &er), ERR_OK);
    assert_int_equal(bl, len);
    assert_memory_equal(back, der, len);
    assert_true(ossl_verify(k, SM2_DEFAULT_ID, MSG, strlen(MSG), der, len));
    assert_int_equal(sm2_sign(k, NULL, MSG, strlen(MSG), soft_signer, k, der,
                              &len, &er), ERR_OK);
    /* a signer producing garbage is caught */
    assert_int_not_equal(sm2_sign(k, NULL, MSG, strlen(MSG), bad_signer, k,
                                  der, &len, &er), ERR_OK);
    EVP_PKEY_free(k);
}

static void test_non_sm2_key(void **state)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    uint8_t z[SM3_DIGEST_LEN];
    struct err er;
    int ok = 1;

    assert_non_null(k);
    assert_false(sm2_is_sm2_key(k));
    assert_int_equal(sm2_compute_z(k, NULL, z, &er), ERR_INVALID);
    assert_int_equal(sm2_verify(k, NULL, "x", 1, z, 32, &ok, &er), ERR_INVALID);
    assert_false(ok);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sm3_vector),
        cmocka_unit_test(test_z_e_against_openssl),
        cmocka_unit_test(test_normalize_forms),
        cmocka_unit_test(test_split_sign),
        cmocka_unit_test(test_non_sm2_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
