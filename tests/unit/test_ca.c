/*
 * test_ca.c - unit tests of ca.c against the real dev token: a self-signed
 * SM2 root and end-entity certificates signed through custody (parsed back,
 * extensions checked, signatures verified with OpenSSL and the SM2 default
 * ID), refusals of ca_issue, PKCS#10 requests, and ca_import_check with a
 * certificate issued for a token key by an independent CA (OpenSSL with a
 * software key, standing in for an external CA).  Writes ca.pem, holder.pem
 * and csr.pem for tests/e2e/test_seal_lib.py (openssl CLI checks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "seal_testutil.h"

static void set_id(X509 *x)
{
    ASN1_OCTET_STRING *d = ASN1_OCTET_STRING_new();
    assert_true(ASN1_OCTET_STRING_set(d, (const unsigned char *)CA_SM2_ID, 16));
    X509_set0_distinguishing_id(x, d);
}

static X509_STORE *store_of(X509 *anchor)
{
    X509_STORE *s = X509_STORE_new();
    assert_non_null(s);
    assert_true(X509_STORE_add_cert(s, anchor));
    return s;
}

static void test_root_and_holder(void **state)
{
    char caid[CUSTODY_ID_HEX_MAX], hid[CUSTODY_ID_HEX_MAX];
    struct ca_key ca, h;
    uint8_t *ca_der = NULL, *h_der = NULL;
    size_t ca_len = 0, h_len = 0;
    X509 *cx, *hx;
    EVP_PKEY *ca_pub, *h_pub;
    X509_STORE *st;
    struct err e = { 0 };
    time_t now = time(NULL);
    char cn[256];
    uint32_t ku;

    (void)state;
    t_make_root(caid, &ca, &ca_der, &ca_len);
    cx = t_x509(ca_der, ca_len);
    ca_pub = t_pub(&ca);
    /* fields and extensions of the root */
    assert_int_equal(X509_get_version(cx), 2);
    assert_int_equal(X509_get_signature_nid(cx), NID_SM2_with_SM3);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cx),
                                   X509_get_issuer_name(cx)), 0);
    assert_true(X509_check_ca(cx) >= 1);
    assert_true(X509_get_extension_flags(cx) & EXFLAG_CA);
    ku = X509_get_key_usage(cx);
    assert_int_equal(ku, KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(cx,
        X509_get_ext_by_NID(cx, NID_basic_constraints, -1))), 1);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(cx,
        X509_get_ext_by_NID(cx, NID_key_usage, -1))), 1);
    assert_non_null(X509_get0_subject_key_id(cx));
    assert_true(EVP_PKEY_eq(X509_get0_pubkey(cx), ca_pub) == 1);
    /* self-signature verifies with the SM2 default ID, not without */
    set_id(cx);
    assert_int_equal(X509_verify(cx, ca_pub), 1);
    /* holder certificate */
    t_make_holder(&ca, ca_der, ca_len, "seald test holder", now - 60,
                  now + 86400 * 365, hid, &h, &h_der, &h_len);
    hx = t_x509(h_der, h_len);
    h_pub = t_pub(&h);
    assert_true(EVP_PKEY_eq(X509_get0_pubkey(hx), h_pub) == 1);
    assert_int_equal(X509_check_ca(hx), 0);
    assert_int_equal(X509_get_key_usage(hx),
                     KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(hx,
        X509_get_ext_by_NID(hx, NID_key_usage, -1))), 1);
    assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(cx),
                                           X509_get0_authority_key_id(hx)), 0);
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(hx),
                                          NID_commonName, cn, sizeof cn) > 0);
    assert_string_equal(cn, "seald test holder");
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(hx),
                                   X509_get_subject_name(cx)), 0);
    assert_int_equal(ASN1_STRING_length(X509_get0_serialNumber(hx)),
                     CA_SERIAL_LEN);
    set_id(hx);
    assert_int_equal(X509_verify(hx, ca_pub), 1);
    assert_int_equal(X509_verify(hx, h_pub), 0);
    ERR_clear_error();
    /* the import checks pass for the holder, with the right key only */
    st = store_of(cx);
    assert_int_equal(ca_import_check(h_der, h_len, h_pub, st, NULL, now, &e),
                     ERR_OK);
    assert_int_equal(ca_import_check(h_der, h_len, ca_pub, st, NULL, now, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "public key"));
    assert_int_equal(ca_import_check(h_der, h_len, h_pub, st, NULL,
                                     now + 86400 * 400, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "not valid now"));
    assert_int_equal(ca_import_check(h_der, h_len, h_pub, NULL, NULL, now, &e),
                     ERR_INVALID);
    /* a CA certificate is refused as a holder certificate */
    assert_int_equal(ca_import_check(ca_der, ca_len, ca_pub, st, NULL, now,
                                     &e), ERR_INVALID);
    /* a flipped signature bit breaks the chain */
    h_der[h_len - 3] ^= 0x01;
    assert_int_equal(ca_import_check(h_der, h_len, h_pub, st, NULL, now, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "chain"));
    h_der[h_len - 3] ^= 0x01;

    t_out_pem("ca.pem", "CERTIFICATE", ca_der, ca_len);
    t_out_pem("holder.pem", "CERTIFICATE", h_der, h_len);

    X509_STORE_free(st);
    X509_free(cx);
    X509_free(hx);
    EVP_PKEY_free(ca_pub);
    EVP_PKEY_free(h_pub);
    free(ca_der);
    free(h_der);
}

static void test_issue_refusals(void **state)
{
    char caid[CUSTODY_ID_HEX_MAX], hid[CUSTODY_ID_HEX_MAX],
         oid[CUSTODY_ID_HEX_MAX];
    struct ca_key ca, h, other;
    uint8_t *ca_der = NULL, *h_der = NULL, *x = NULL;
    size_t ca_len = 0, h_len = 0, xl = 0;
    struct ca_subject s = { .c = "CN", .cn = "refused" };
    struct ca_issue_params ip;
    struct err e = { 0 };
    time_t now = time(NULL), nb, na;

    (void)state;
    t_make_root(caid, &ca, &ca_der, &ca_len);
    assert_int_equal(ca_cert_times(ca_der, ca_len, &nb, &na, &e), ERR_OK);
    assert_true(nb <= now && na > now + 86400 * 3000);
    t_make_holder(&ca, ca_der, ca_len, "h", now, now + 86400, hid, &h, &h_der,
                  &h_len);
    t_new_key("other", oid, &other);
    memset(&ip, 0, sizeof ip);
    ip.subject = &s;
    ip.holder_pub = t_pub(&h);
    ip.not_before = now;
    ip.not_after = now + 86400;
    /* validity after the CA's end */
    ip.not_after = na + 1;
    assert_int_equal(ca_issue(&ca, ca_der, ca_len, &ip, &x, &xl, &e),
                     ERR_INVALID);
    assert_null(x);
    /* before the CA's start */
    ip.not_before = nb - 1;
    ip.not_after = now + 86400;
    assert_int_equal(ca_issue(&ca, ca_der, ca_len, &ip, &x, &xl, &e),
                     ERR_INVALID);
    /* empty validity */
    ip.not_before = now;
    ip.not_after = now;
    assert_int_equal(ca_issue(&ca, ca_der, ca_len, &ip, &x, &xl, &e),
                     ERR_INVALID);
    ip.not_after = now + 86400;
    /* issuer certificate is not a CA */
    assert_int_equal(ca_issue(&h, h_der, h_len, &ip, &x, &xl, &e),
                     ERR_INVALID);
    /* CA certificate does not hold the signing key */
    assert_int_equal(ca_issue(&other, ca_der, ca_len, &ip, &x, &xl, &e),
                     ERR_INVALID);
    /* bad names */
    s.c = "China";
    assert_int_equal(ca_issue(&ca, ca_der, ca_len, &ip, &x, &xl, &e),
                     ERR_INVALID);
    s.c = "CN";
    s.cn = "";
    assert_int_equal(ca_issue(&ca, ca_der, ca_len, &ip, &x, &xl, &e),
                     ERR_INVALID);
    s.cn = "0123456789012345678901234567890123456789012345678901234567890123456789";
    assert_int_equal(ca_issue(&ca, ca_der, ca_len, &ip, &x, &xl, &e),
                     ERR_INVALID);
    /* UTF-8 names are fine; a given serial is used */
    s.cn = "\xe7\x94\xb5\xe5\xad\x90\xe5\x8d\xb0\xe7\xab\xa0";  /* 电子印章 */
    ip.serial = (const uint8_t *)"\x01\x02\x03";
    ip.serial_len = 3;
    assert_int_equal(ca_issue(&ca, ca_der, ca_len, &ip, &x, &xl, &e), ERR_OK);
    {
        X509 *xx = t_x509(x, xl);
        assert_int_equal(ASN1_INTEGER_get(X509_get0_serialNumber(xx)),
                         0x010203);
        X509_free(xx);
    }
    free(x);
    x = NULL;
    /* days bounds of the root */
    assert_int_equal(ca_create_root(&other, &s, 0, &x, &xl, &e), ERR_INVALID);
    assert_int_equal(ca_create_root(&other, &s, CA_ROOT_MAX_DAYS + 1, &x, &xl,
                                    &e), ERR_INVALID);
    EVP_PKEY_free(ip.holder_pub);
    free(ca_der);
    free(h_der);
}

static void test_csr(void **state)
{
    char kid[CUSTODY_ID_HEX_MAX];
    struct ca_key k;
    struct ca_subject s = { .c = "CN", .st = "Guangdong", .l = "Guangzhou",
                            .o = "seald test org", .ou = "office",
                            .serial_number = "91440000000000000X",
                            .cn = "seald csr" };
    uint8_t *der = NULL;
    size_t len = 0;
    const unsigned char *p;
    X509_REQ *r;
    EVP_PKEY *pub;
    ASN1_OCTET_STRING *d = ASN1_OCTET_STRING_new();
    struct err e = { 0 };
    char buf[128];

    (void)state;
    t_new_key("csr", kid, &k);
    assert_int_equal(ca_csr_create(&k, &s, &der, &len, &e), ERR_OK);
    p = der;
    r = d2i_X509_REQ(NULL, &p, (long)len);
    assert_non_null(r);
    assert_ptr_equal(p, der + len);
    pub = t_pub(&k);
    assert_true(EVP_PKEY_eq(X509_REQ_get0_pubkey(r), pub) == 1);
    assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(r),
                                          NID_organizationalUnitName, buf,
                                          sizeof buf) > 0);
    assert_string_equal(buf, "office");
    assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(r),
                                          NID_serialNumber, buf,
                                          sizeof buf) > 0);
    assert_string_equal(buf, "91440000000000000X");
    assert_int_equal(X509_REQ_get_signature_nid(r), NID_SM2_with_SM3);
    ASN1_OCTET_STRING_set(d, (const unsigned char *)CA_SM2_ID, 16);
    X509_REQ_set0_distinguishing_id(r, d);
    assert_int_equal(X509_REQ_verify(r, pub), 1);
    t_out_pem("csr.pem", "CERTIFICATE REQUEST", der, len);
    X509_REQ_free(r);
    EVP_PKEY_free(pub);
    free(der);
}

/* An "external" CA made with OpenSSL and a software key issues a cert for a
 * token key from a seald CSR; ca_import_check accepts it against that CA. */
static void test_external_import(void **state)
{
    char kid[CUSTODY_ID_HEX_MAX];
    struct ca_key k;
    struct ca_subject s = { .c = "CN", .cn = "external holder" };
    uint8_t *csr = NULL, *leaf = NULL, *pem_der = NULL;
    size_t csr_len = 0, leaf_len = 0, pem_der_len = 0;
    const unsigned char *p;
    X509_REQ *r;
    X509 *root = NULL, *x = NULL, *other_root = NULL;
    EVP_PKEY *ca_key = NULL, *other_key = NULL, *pub;
    EVP_PKEY_CTX *kc;
    EVP_MD_CTX *md;
    X509_STORE *st, *st_other;
    STACK_OF(X509) *chain = NULL;
    struct err e = { 0 };
    time_t now = time(NULL);
    int n;
    BIO *b;
    char *pem;
    long pl;

    (void)state;
    t_new_key("ext", kid, &k);
    assert_int_equal(ca_csr_create(&k, &s, &csr, &csr_len, &e), ERR_OK);
    p = csr;
    r = d2i_X509_REQ(NULL, &p, (long)csr_len);
    assert_non_null(r);
    for (int i = 0; i < 2; i++) {
        kc = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
        assert_int_equal(EVP_PKEY_keygen_init(kc), 1);
        assert_int_equal(EVP_PKEY_keygen(kc, i ? &other_key : &ca_key), 1);
        EVP_PKEY_CTX_free(kc);
    }
    /* roots: self-signed with OpenSSL (SM2 default ID) */
    for (int i = 0; i < 3; i++) {
        EVP_PKEY *sk = i == 1 ? other_key : ca_key;
        X509 *c = X509_new();
        EVP_PKEY_CTX *pc = NULL;
        X509V3_CTX v3;
        X509_EXTENSION *ext;
        X509_set_version(c, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(c), 100 + i);
        X509_gmtime_adj(X509_getm_notBefore(c), -3600);
        X509_gmtime_adj(X509_getm_notAfter(c), 86400 * 30);
        if (i < 2) {
            X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN",
                                       MBSTRING_ASC,
                                       (const unsigned char *)"ext root", -1,
                                       -1, 0);
            X509_set_issuer_name(c, X509_get_subject_name(c));
            X509_set_pubkey(c, sk);
            X509V3_set_ctx(&v3, c, c, NULL, NULL, 0);
            ext = X509V3_EXT_nconf_nid(NULL, &v3, NID_basic_constraints,
                                       "critical,CA:TRUE");
        } else {
            X509_set_subject_name(c, X509_REQ_get_subject_name(r));
            X509_set_issuer_name(c, X509_get_subject_name(root));
            X509_set_pubkey(c, X509_REQ_get0_pubkey(r));
            X509V3_set_ctx(&v3, root, c, NULL, NULL, 0);
            ext = X509V3_EXT_nconf_nid(NULL, &v3, NID_key_usage,
                                       "critical,digitalSignature");
        }
        X509_add_ext(c, ext, -1);
        X509_EXTENSION_free(ext);
        md = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestSignInit(md, &pc, EVP_sm3(), NULL, sk), 1);
        assert_int_equal(EVP_PKEY_CTX_set1_id(pc, CA_SM2_ID, 16), 1);
        assert_true(X509_sign_ctx(c, md) > 0);
        EVP_MD_CTX_free(md);
        if (i == 0)
            root = c;
        else if (i == 1)
            other_root = c;
        else
            x = c;
    }
    n = i2d_X509(x, &leaf);
    assert_true(n > 0);
    leaf_len = (size_t)n;
    pub = t_pub(&k);
    st = store_of(root);
    st_other = store_of(other_root);
    assert_int_equal(ca_import_check(leaf, leaf_len, pub, st, NULL, now, &e),
                     ERR_OK);
    assert_int_equal(ca_import_check(leaf, leaf_len, pub, st_other, NULL, now,
                                     &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "chain"));
    /* ca_cert_load: PEM with leaf + chain, and DER */
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    PEM_write_bio_X509(b, root);
    pl = BIO_get_mem_data(b, &pem);
    assert_int_equal(ca_cert_load((const uint8_t *)pem, (size_t)pl, &pem_der,
                                  &pem_der_len, &chain, &e), ERR_OK);
    assert_int_equal(pem_der_len, leaf_len);
    assert_memory_equal(pem_der, leaf, leaf_len);
    assert_int_equal(sk_X509_num(chain), 1);
    assert_int_equal(X509_cmp(sk_X509_value(chain, 0), root), 0);
    free(pem_der);
    sk_X509_pop_free(chain, X509_free);
    assert_int_equal(ca_cert_load(leaf, leaf_len, &pem_der, &pem_der_len,
                                  NULL, &e), ERR_OK);
    assert_memory_equal(pem_der, leaf, leaf_len);
    free(pem_der);
    assert_int_equal(ca_cert_load((const uint8_t *)"junk", 4, &pem_der,
                                  &pem_der_len, NULL, &e), ERR_MALFORMED);
    BIO_free(b);
    X509_STORE_free(st);
    X509_STORE_free(st_other);
    X509_free(root);
    X509_free(other_root);
    X509_free(x);
    X509_REQ_free(r);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(pub);
    OPENSSL_free(leaf);
    free(csr);
}

#define T_SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

/* ECDSA P-256 token (SoftHSM2; skipped if not installed): root, holder and
 * request signed ecdsa-with-SHA256 through custody_sign_digest. */
static void test_ecdsa_token(void **state)
{
    struct custody_token_conf conf;
    struct custody *c = NULL;
    struct err e = { 0 };
    char dir[160], path[256], text[400], caid[CUSTODY_ID_HEX_MAX],
         hid[CUSTODY_ID_HEX_MAX];
    struct ca_key ca = { 0 }, h = { 0 };
    struct ca_subject s = { .c = "CN", .cn = "seald ecdsa CA" };
    struct ca_issue_params ip;
    uint8_t *ca_der = NULL, *h_der = NULL, *csr = NULL;
    size_t ca_len = 0, h_len = 0, csr_len = 0;
    const unsigned char *q;
    X509 *cx, *hx;
    X509_REQ *r;
    X509_STORE *st;
    EVP_PKEY *ca_pub = NULL, *h_pub = NULL;
    time_t now = time(NULL);

    (void)state;
    if (access(T_SOFTHSM, R_OK) != 0)
        fail_msg("SoftHSM2 is missing: scripts/test installs it");
    snprintf(dir, sizeof dir, "%s/softhsm", t_root);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/tokens", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/softhsm2.conf", dir);
    snprintf(text, sizeof text, "directories.tokendir = %s/tokens\n"
             "objectstore.backend = file\nlog.level = ERROR\n", dir);
    t_write_text(path, text);
    setenv("SOFTHSM2_CONF", path, 1);
    assert_int_equal(system("softhsm2-util --init-token --free --label ec-ca "
                            "--so-pin 12345678 --pin 123456 >/dev/null"), 0);
    custody_conf_init(&conf);
    strcpy(conf.name, "hsm");
    strcpy(conf.module, T_SOFTHSM);
    strcpy(conf.profile, "ecdsa-p256");
    strcpy(conf.token_label, "ec-ca");
    snprintf(conf.pin_file, sizeof conf.pin_file, "%s", t_pin);
    conf.pool_size = 1;
    assert_int_equal(custody_open(&conf, 1, &c, &e), ERR_OK);
    ca.custody = h.custody = c;
    ca.token = h.token = "hsm";
    assert_int_equal(custody_generate(c, "hsm", "ca", NULL, 0, caid, &e),
                     ERR_OK);
    assert_int_equal(custody_generate(c, "hsm", "h", NULL, 0, hid, &e),
                     ERR_OK);
    ca.key_id = caid;
    h.key_id = hid;
    assert_int_equal(ca_create_root(&ca, &s, 30, &ca_der, &ca_len, &e),
                     ERR_OK);
    assert_int_equal(custody_public_key(c, "hsm", caid, &ca_pub, &e), ERR_OK);
    assert_int_equal(custody_public_key(c, "hsm", hid, &h_pub, &e), ERR_OK);
    memset(&ip, 0, sizeof ip);
    s.cn = "seald ecdsa holder";
    ip.subject = &s;
    ip.holder_pub = h_pub;
    ip.not_before = now;
    ip.not_after = now + 86400;
    assert_int_equal(ca_issue(&ca, ca_der, ca_len, &ip, &h_der, &h_len, &e),
                     ERR_OK);
    cx = t_x509(ca_der, ca_len);
    hx = t_x509(h_der, h_len);
    assert_int_equal(X509_get_signature_nid(cx), NID_ecdsa_with_SHA256);
    assert_int_equal(X509_verify(cx, ca_pub), 1);
    assert_int_equal(X509_verify(hx, ca_pub), 1);
    st = store_of(cx);
    assert_int_equal(ca_import_check(h_der, h_len, h_pub, st, NULL, now, &e),
                     ERR_OK);
    assert_int_equal(ca_csr_create(&h, &s, &csr, &csr_len, &e), ERR_OK);
    q = csr;
    r = d2i_X509_REQ(NULL, &q, (long)csr_len);
    assert_non_null(r);
    assert_int_equal(X509_REQ_verify(r, h_pub), 1);
    X509_REQ_free(r);
    X509_STORE_free(st);
    X509_free(cx);
    X509_free(hx);
    EVP_PKEY_free(ca_pub);
    EVP_PKEY_free(h_pub);
    free(ca_der);
    free(h_der);
    free(csr);
    custody_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_and_holder),
        cmocka_unit_test(test_issue_refusals),
        cmocka_unit_test(test_csr),
        cmocka_unit_test(test_external_import),
        cmocka_unit_test(test_ecdsa_token),
    };
    return cmocka_run_group_tests(tests, t_token_setup, t_token_teardown);
}
