/*
 * test_sealstatus.c - the signed seal status statement (sealstatus.c): the
 * DER round trip of every field (present and absent), the signature over
 * the exact TBS bytes, and refusals: a flipped bit in the TBS or the
 * signature, trailing bytes, truncation, bad fields on encoding.  The key
 * is a software SM2 key made here (the daemon signs through custody).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "sealstatus.h"

struct fix {
    EVP_PKEY *key;
    uint8_t  *cert;
    size_t    cert_len;
};

/* Software signer: signs e with the test key. */
static err_code test_signer(void *ctx, const uint8_t e[SM3_DIGEST_LEN],
                            uint8_t *sig, size_t *sig_len, struct err *err)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new((EVP_PKEY *)ctx, NULL);
    err_code rc = ERR_OK;

    if (pc == NULL || EVP_PKEY_sign_init(pc) <= 0 ||
        EVP_PKEY_sign(pc, sig, sig_len, e, SM3_DIGEST_LEN) <= 0)
        rc = err_set(err, ERR_CRYPTO, "test signer failed");
    EVP_PKEY_CTX_free(pc);
    return rc;
}

/* A self-signed SM2 certificate for key (SM2 ID 1234567812345678). */
static X509 *make_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 17);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                               (const unsigned char *)"status test", -1, -1,
                               0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
    X509_set_pubkey(x, key);
    assert_true(EVP_PKEY_CTX_set1_id(pctx, SM2_DEFAULT_ID, 16) > 0);
    EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
    assert_true(EVP_DigestSignInit(mctx, NULL, EVP_sm3(), NULL, key) > 0);
    assert_true(X509_sign_ctx(x, mctx) > 0);
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_CTX_free(pctx);
    X509_NAME_free(n);
    return x;
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    unsigned char *der = NULL;
    X509 *x;
    int n;

    assert_non_null(f);
    f->key = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
    assert_non_null(f->key);
    x = make_cert(f->key);
    n = i2d_X509(x, &der);
    assert_true(n > 0);
    f->cert = malloc((size_t)n);
    memcpy(f->cert, der, (size_t)n);
    f->cert_len = (size_t)n;
    OPENSSL_free(der);
    X509_free(x);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    EVP_PKEY_free(f->key);
    free(f->cert);
    free(f);
    return 0;
}

/* A revoked seal's statement with every field. */
static void full_fields(const struct fix *f, struct sstatus *s)
{
    size_t i;

    memset(s, 0, sizeof(*s));
    snprintf(s->es_id, sizeof(s->es_id), "23010000000042");
    s->has_hash = 1;
    for (i = 0; i < SM3_DIGEST_LEN; i++)
        s->seal_hash[i] = (uint8_t)(i * 7 + 1);
    s->status = SSTATUS_REVOKED;
    s->has_time = 1;
    s->status_time = 1764670000;
    s->reason = 1;
    s->this_update = 1764680000;
    s->next_update = 1764680000 + 3600;
    s->cert = f->cert;
    s->cert_len = f->cert_len;
}

/* Encode s, sign the TBS with the test key, assemble: *der malloc'ed. */
static void sign_statement(const struct fix *f, const struct sstatus *s,
                           uint8_t **der, size_t *len)
{
    uint8_t *tbs = NULL, sig[SM2_SIG_DER_MAX];
    size_t tbs_len = 0, sig_len = 0;
    struct err e;

    err_clear(&e);
    assert_int_equal(sstatus_tbs_encode(s, &tbs, &tbs_len, &e), ERR_OK);
    assert_int_equal(sm2_sign(f->key, SM2_DEFAULT_ID, tbs, tbs_len,
                              test_signer, f->key, sig, &sig_len, &e),
                     ERR_OK);
    assert_int_equal(sstatus_assemble(tbs, tbs_len, NID_SM2_with_SM3, sig,
                                      sig_len, der, len, &e), ERR_OK);
    free(tbs);
}

static void test_round_trip_full(void **state)
{
    struct fix *f = *state;
    struct sstatus s, d;
    uint8_t *der = NULL;
    size_t len = 0;
    struct err e;

    full_fields(f, &s);
    sign_statement(f, &s, &der, &len);
    err_clear(&e);
    assert_int_equal(sstatus_decode(der, len, &d, &e), ERR_OK);
    assert_string_equal(d.es_id, s.es_id);
    assert_int_equal(d.has_hash, 1);
    assert_memory_equal(d.seal_hash, s.seal_hash, SM3_DIGEST_LEN);
    assert_int_equal(d.status, SSTATUS_REVOKED);
    assert_int_equal(d.has_time, 1);
    assert_int_equal(d.status_time, s.status_time);
    assert_int_equal(d.reason, 1);
    assert_int_equal(d.this_update, s.this_update);
    assert_int_equal(d.next_update, s.next_update);
    assert_int_equal(d.alg_nid, NID_SM2_with_SM3);
    assert_int_equal(d.cert_len, f->cert_len);
    assert_memory_equal(d.cert, f->cert, f->cert_len);
    assert_string_equal(sstatus_state_name(d.status), "revoked");
    assert_string_equal(sstatus_reason_name(d.reason), "keyCompromise");
    sstatus_clear(&d);
    free(der);
}

/* An active seal has no time or reason; an unknown esID has no hash and
 * an unknown hash no esID: each comes back absent. */
static void test_round_trip_absent(void **state)
{
    struct fix *f = *state;
    struct sstatus s, d;
    uint8_t *der = NULL;
    size_t len = 0;
    struct err e;
    int k;

    for (k = 0; k < 3; k++) {
        full_fields(f, &s);
        s.has_time = 0;
        s.reason = -1;
        s.status = k == 0 ? SSTATUS_ACTIVE : SSTATUS_UNKNOWN;
        if (k == 1)
            s.has_hash = 0;
        if (k == 2)
            s.es_id[0] = '\0';
        sign_statement(f, &s, &der, &len);
        err_clear(&e);
        assert_int_equal(sstatus_decode(der, len, &d, &e), ERR_OK);
        assert_int_equal(d.status, s.status);
        assert_int_equal(d.has_time, 0);
        assert_int_equal(d.reason, -1);
        assert_int_equal(d.has_hash, k != 1);
        assert_string_equal(d.es_id, k == 2 ? "" : s.es_id);
        sstatus_clear(&d);
        free(der);
    }
}

/* Any flipped byte is refused, whether it breaks the DER or the
 * signature; trailing bytes and truncation too. */
static void test_tamper(void **state)
{
    struct fix *f = *state;
    struct sstatus s, d;
    uint8_t *der = NULL, *copy;
    size_t len = 0, i;
    struct err e;

    full_fields(f, &s);
    sign_statement(f, &s, &der, &len);
    copy = malloc(len + 1);
    for (i = 0; i < len; i++) {
        memcpy(copy, der, len);
        copy[i] ^= 0x01;
        err_clear(&e);
        if (sstatus_decode(copy, len, &d, &e) == ERR_OK)
            fail_msg("byte %zu of %zu flipped is accepted", i, len);
        assert_null(d.cert);
    }
    memcpy(copy, der, len);
    copy[len] = 0;
    assert_int_equal(sstatus_decode(copy, len + 1, &d, &e), ERR_MALFORMED);
    assert_int_equal(sstatus_decode(der, len - 1, &d, &e), ERR_MALFORMED);
    assert_int_equal(sstatus_decode(der, 0, &d, &e), ERR_MALFORMED);
    free(copy);
    free(der);
}

/* Encoding refuses fields out of bounds. */
static void test_encode_refusals(void **state)
{
    struct fix *f = *state;
    struct sstatus s;
    uint8_t *tbs = NULL;
    size_t len = 0;
    struct err e;

    full_fields(f, &s);
    s.es_id[0] = '\0';
    s.has_hash = 0;                          /* names no seal */
    assert_int_equal(sstatus_tbs_encode(&s, &tbs, &len, &e), ERR_INVALID);
    full_fields(f, &s);
    s.es_id[3] = ' ';                        /* not visible ASCII */
    assert_int_equal(sstatus_tbs_encode(&s, &tbs, &len, &e), ERR_INVALID);
    full_fields(f, &s);
    s.reason = 7;                            /* not a CRLReason */
    assert_int_equal(sstatus_tbs_encode(&s, &tbs, &len, &e), ERR_INVALID);
    full_fields(f, &s);
    s.status = SSTATUS__COUNT;
    assert_int_equal(sstatus_tbs_encode(&s, &tbs, &len, &e), ERR_INVALID);
    full_fields(f, &s);
    s.next_update = s.this_update;
    assert_int_equal(sstatus_tbs_encode(&s, &tbs, &len, &e), ERR_INVALID);
    full_fields(f, &s);
    s.cert_len = 10;                         /* not a certificate */
    assert_int_equal(sstatus_tbs_encode(&s, &tbs, &len, &e), ERR_INVALID);
    assert_null(tbs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_full),
        cmocka_unit_test(test_round_trip_absent),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_encode_refusals),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
