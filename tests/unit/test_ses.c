/*
 * test_ses.c - seal/signature decoding, building and verification:
 * every vector in $SEALD_VECTORS/seals and /signatures, a software-key round
 * trip (files written to $SEALD_BUILD_DIR/format-out for the e2e test),
 * tampering, hostile input (truncation, bit flips, limits), and GB/T 35275
 * SignedData built here (sd_testutil.h): attached and detached, with and
 * without signed attributes, bound to its document or not.
 *
 * With SEALD_FORMAT_OUT_ONLY=1 only the round-trip (file-producing) test runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

#include "ses.h"
#include "sm2.h"
#include "util.h"

#include "sd_testutil.h"

/* Handcrafted v4 SESeal (144 bytes) whose ExtData omits `critical`. */
#define HAND_SEAL_NO_CRITICAL \
    "\x30\x81\x8d\x30\x72\x30\x0a\x16\x02\x45\x53\x02\x01\x04\x16\x01" \
    "\x56\x16\x01\x31\x30\x42\x02\x01\x01\x0c\x01\x6e\x02\x01\x01\x30" \
    "\x04\x04\x02\x30\x00\x18\x0f\x32\x30\x32\x30\x30\x31\x30\x31\x30" \
    "\x30\x30\x30\x30\x30\x5a\x18\x0f\x32\x30\x32\x30\x30\x31\x30\x31" \
    "\x30\x30\x30\x30\x30\x30\x5a\x18\x0f\x32\x30\x33\x30\x30\x31\x30" \
    "\x31\x30\x30\x30\x30\x30\x30\x5a\x30\x11\x16\x03\x50\x4e\x47\x04" \
    "\x04\x89\x50\x4e\x47\x02\x01\x28\x02\x01\x28\x30\x0a\x30\x08\x06" \
    "\x03\x2a\x03\x04\x04\x01\x76\x04\x02\x30\x00\x06\x08\x2a\x81\x1c" \
    "\xcf\x55\x01\x83\x7d\x03\x09\x00\x30\x06\x02\x01\x01\x02\x01\x01"

/* ---- helpers ------------------------------------------------------------- */

static const char *vectors(void)
{
    const char *v = getenv("SEALD_VECTORS");

    if (v == NULL)
        fail_msg("SEALD_VECTORS is not set (ctest sets it to tests/vectors)");
    return v;
}

static uint8_t *read_vec(const char *rel, size_t *len)
{
    char path[1024];
    uint8_t *buf = NULL;
    struct err e;

    snprintf(path, sizeof(path), "%s/%s", vectors(), rel);
    if (util_read_file(path, SES_MAX_DER, &buf, len, &e) != ERR_OK)
        fail_msg("cannot read %s: %s", path, e.msg);
    return buf;
}

static const char *status_of(const json_t *r, const char *check)
{
    const char *s = json_string_value(json_object_get(
        json_object_get(json_object_get(r, "checks"), check), "status"));
    return s ? s : "(none)";
}

static const char *reason_of(const json_t *r, const char *check)
{
    const char *s = json_string_value(json_object_get(
        json_object_get(json_object_get(r, "checks"), check), "reason"));
    return s ? s : "";
}

static const char *str_of(const json_t *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r, key));
    return s ? s : "(null)";
}

#define assert_check(r, name, st) assert_string_equal(status_of(r, name), st)

/* Software signer for tests: signs e with an EVP_PKEY (test-only key). */
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

/* Self-signed SM2 CA certificate (usable as anchor and as leaf), signed with
 * the SM2 ID 1234567812345678. */
static X509 *make_cert(EVP_PKEY *key, const char *cn)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);
    X509V3_CTX v3;
    X509_EXTENSION *ext;

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600L * 24 * 30);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
                              "critical,digitalSignature,nonRepudiation,keyCertSign");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(EVP_PKEY_CTX_set1_id(pctx, SM2_DEFAULT_ID, 16) > 0);
    EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
    assert_true(EVP_DigestSignInit(mctx, NULL, EVP_sm3(), NULL, key) > 0);
    assert_true(X509_sign_ctx(x, mctx) > 0);
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_CTX_free(pctx);
    X509_NAME_free(n);
    return x;
}

static uint8_t *cert_der(X509 *x, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    uint8_t *out;

    assert_true(n > 0);
    out = malloc((size_t)n);
    memcpy(out, der, (size_t)n);
    OPENSSL_free(der);
    *len = (size_t)n;
    return out;
}

static void write_file(const char *dir, const char *name, const void *p,
                       size_t len)
{
    char path[1024];
    struct err e;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (util_write_file(path, p, len, 0644, &e) != ERR_OK)
        fail_msg("write %s: %s", path, e.msg);
}

/* Fixture: software key + cert, a v4 seal and a signature over doc. */
struct fixture {
    EVP_PKEY *key;
    X509 *cert;
    uint8_t *cert_der;
    size_t cert_len;
    uint8_t *seal;
    size_t seal_len;
    uint8_t *sig;
    size_t sig_len;
    uint8_t *early;             /* the same, timeInfo before the signer
                                   certificate's notBefore */
    size_t early_len;
    char trust[256];
    uint8_t doc[64];
    uint8_t cert_digest[SM3_DIGEST_LEN];
};

static const char PROP[] = "/Doc_0/Signs/Sign_0/Signature.xml";
static const char SEAL_NAME[] = "seald test seal";

static void fixture_build2(struct fixture *f, int format, long list_type)
{
    struct ses_seal_params sp;
    struct ses_sign_params gp;
    struct ses_ext ext[2];
    struct ses_bytes certs[1];
    uint8_t hash[SM3_DIGEST_LEN], pic[100];
    char *pem = NULL;
    BIO *b;
    long pemlen;
    struct err e;
    time_t now = time(NULL);

    memset(f, 0, sizeof(*f));
    f->key = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
    assert_non_null(f->key);
    f->cert = make_cert(f->key, "seald test signer");
    f->cert_der = cert_der(f->cert, &f->cert_len);
    memset(pic, 0x89, sizeof(pic));
    memcpy(pic, "\x89PNG\r\n\x1a\n", 8);
    memset(ext, 0, sizeof(ext));
    strcpy(ext[0].oid, "1.2.156.112600.7.1");
    ext[0].critical = 0;
    ext[0].value.p = (const uint8_t *)"plain";
    ext[0].value.len = 5;
    strcpy(ext[1].oid, "1.2.156.112600.7.2");
    ext[1].critical = 1;
    ext[1].value.p = (const uint8_t *)"critical";
    ext[1].value.len = 8;
    certs[0].p = f->cert_der;
    certs[0].len = f->cert_len;
    if (list_type == 2) {
        assert_int_equal(sm2_sm3(f->cert_der, f->cert_len, f->cert_digest,
                                 &e), ERR_OK);
        certs[0].p = f->cert_digest;
        certs[0].len = sizeof(f->cert_digest);
    }
    memset(&sp, 0, sizeof(sp));
    sp.format = format;
    sp.vid = "seald";
    sp.es_id = "11010000000001";
    sp.name = SEAL_NAME;
    sp.type = 1;
    sp.cert_list_type = list_type;
    sp.certs = certs;
    sp.n_certs = 1;
    sp.create_date = now - 3600;
    sp.valid_start = now - 3600;
    sp.valid_end = now + 3600L * 24 * 30;
    sp.picture_type = "PNG";
    sp.picture.p = pic;
    sp.picture.len = sizeof(pic);
    sp.picture_width = 40;
    sp.picture_height = 40;
    sp.ext = ext;
    sp.n_ext = 2;
    sp.maker_cert.p = f->cert_der;
    sp.maker_cert.len = f->cert_len;
    err_clear(&e);
    if (ses_seal_build(&sp, test_signer, f->key, &f->seal, &f->seal_len,
                       &e) != ERR_OK)
        fail_msg("seal build: %s", e.msg);
    memset(f->doc, 'D', sizeof(f->doc));
    assert_int_equal(sm2_sm3(f->doc, sizeof(f->doc), hash, &e), ERR_OK);
    memset(&gp, 0, sizeof(gp));
    gp.format = format;
    gp.seal.p = f->seal;
    gp.seal.len = f->seal_len;
    gp.time_info = now;
    gp.data_hash.p = hash;
    gp.data_hash.len = sizeof(hash);
    gp.property_info = PROP;
    gp.ext = ext;
    gp.n_ext = 1;
    gp.signer_cert.p = f->cert_der;
    gp.signer_cert.len = f->cert_len;
    if (ses_signature_build(&gp, test_signer, f->key, &f->sig, &f->sig_len,
                            &e) != ERR_OK)
        fail_msg("signature build: %s", e.msg);
    gp.time_info = now - 3600L * 24 * 40;     /* notBefore: now - 30 d */
    if (ses_signature_build(&gp, test_signer, f->key, &f->early,
                            &f->early_len, &e) != ERR_OK)
        fail_msg("signature build: %s", e.msg);
    /* trust store with the test certificate as anchor */
    snprintf(f->trust, sizeof(f->trust), "/tmp/seald-test-trust-XXXXXX");
    assert_non_null(mkdtemp(f->trust));
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, f->cert);
    pemlen = BIO_get_mem_data(b, &pem);
    write_file(f->trust, "anchor.pem", pem, (size_t)pemlen);
    BIO_free(b);
}

static void fixture_build(struct fixture *f, int format)
{
    fixture_build2(f, format, 1);
}

static void fixture_free(struct fixture *f)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/anchor.pem", f->trust);
    unlink(path);
    rmdir(f->trust);
    EVP_PKEY_free(f->key);
    X509_free(f->cert);
    free(f->cert_der);
    free(f->seal);
    free(f->sig);
    free(f->early);
}

static json_t *verify_sig_bytes(const uint8_t *der, size_t len,
                                const uint8_t *doc, size_t doc_len,
                                const char *trust)
{
    struct ses_signature *s = NULL;
    struct ses_verify_opts o;
    struct err e;
    json_t *r;

    memset(&o, 0, sizeof(o));
    o.data = doc;
    o.data_len = doc_len;
    o.trust_dir = trust;
    if (ses_signature_decode(der, len, &s, &e) != ERR_OK)
        return ses_report_format_failure("signature", e.msg);
    r = ses_verify_signature(s, &o, &e);
    ses_signature_free(s);
    return r;
}

static json_t *verify_seal_bytes(const uint8_t *der, size_t len,
                                 const char *trust)
{
    struct ses_seal *s = NULL;
    struct ses_verify_opts o;
    struct err e;
    json_t *r;

    memset(&o, 0, sizeof(o));
    o.trust_dir = trust;
    if (ses_seal_decode(der, len, &s, &e) != ERR_OK)
        return ses_report_format_failure("seal", e.msg);
    r = ses_verify_seal(s, &o, &e);
    ses_seal_free(s);
    return r;
}

/* ---- vectors: seals ------------------------------------------------------ */

static void check_seal_vector(const char *file, int format, int sig_ok)
{
    char rel[256];
    size_t len;
    uint8_t *der;
    struct ses_seal *s = NULL;
    struct err e;
    json_t *r;

    snprintf(rel, sizeof(rel), "seals/%s", file);
    der = read_vec(rel, &len);
    assert_int_equal(ses_sniff(der, len), SES_KIND_SEAL);
    if (ses_seal_decode(der, len, &s, &e) != ERR_OK)
        fail_msg("%s: %s", file, e.msg);
    assert_int_equal(s->format, format);
    r = verify_seal_bytes(der, len, NULL);
    assert_non_null(r);
    assert_check(r, "structure", "passed");
    assert_check(r, "seal_signature", sig_ok ? "passed" : "failed");
    if (!sig_ok) {
        assert_string_equal(str_of(r, "indication"), "TOTAL_FAILED");
        assert_string_equal(str_of(r, "sub_indication"), "SIG_CRYPTO_FAILURE");
    } else {
        assert_string_not_equal(str_of(r, "indication"), "TOTAL_FAILED");
    }
    json_decref(r);
    ses_seal_free(s);
    free(der);
}

static void test_vector_seal_v1(void **state)
{
    check_seal_vector("ofdrw-UserV1.esl", SES_FMT_V1, 1);
}

static void test_vector_seal_v4(void **state)
{
    check_seal_vector("ofdrw-UserV4.esl", SES_FMT_V4, 1);
}

static void test_vector_seal_v5(void **state)
{
    check_seal_vector("ofdrw-UserV5.esl", SES_FMT_V5, 1);
}

static void test_vector_seal_v5_ts(void **state)
{
    size_t len;
    uint8_t *der = read_vec("seals/ofdrw-UserV5_ts.esl", &len);
    json_t *r;

    check_seal_vector("ofdrw-UserV5_ts.esl", SES_FMT_V5, 1);
    r = verify_seal_bytes(der, len, NULL);
    assert_check(r, "timestamp", "indeterminate");
    assert_string_equal(reason_of(r, "timestamp"),
                        "present but not a valid token");
    assert_string_equal(str_of(r, "validation_time_source"),
                        "seal_create_date");
    json_decref(r);
    free(der);
}

static void test_vector_seal_hebeigede(void **state)
{
    size_t len;
    uint8_t *der = read_vec("seals/hebeigede-v4-badsig.der", &len);
    struct ses_seal *s = NULL;
    struct err e;
    size_t i, crit = 0;

    check_seal_vector("hebeigede-v4-badsig.der", SES_FMT_V4, 0);
    assert_int_equal(ses_seal_decode(der, len, &s, &e), ERR_OK);
    assert_int_equal(s->n_certs, 2);
    assert_int_equal(s->n_ext, 3);
    for (i = 0; i < s->n_ext; i++)
        crit += s->ext[i].critical == 1;
    assert_int_equal(crit, 1);
    assert_string_equal(s->picture_type, "GIF");
    ses_seal_free(s);
    free(der);
}

/* ---- vectors: signatures ------------------------------------------------- */

static void check_sig_vector(const char *dat, const char *xml, int format)
{
    char rel[256];
    size_t len, xlen = 0;
    uint8_t *der, *doc = NULL;
    struct ses_signature *s = NULL;
    struct err e;
    json_t *r;

    snprintf(rel, sizeof(rel), "signatures/%s", dat);
    der = read_vec(rel, &len);
    assert_int_equal(ses_sniff(der, len), SES_KIND_SIGNATURE);
    if (ses_signature_decode(der, len, &s, &e) != ERR_OK)
        fail_msg("%s: %s", dat, e.msg);
    assert_int_equal(s->format, format);
    ses_signature_free(s);
    if (xml != NULL) {
        snprintf(rel, sizeof(rel), "signatures/%s", xml);
        doc = read_vec(rel, &xlen);
    }
    r = verify_sig_bytes(der, len, doc, xlen, NULL);
    assert_non_null(r);
    assert_check(r, "structure", "passed");
    assert_check(r, "signature", "passed");
    assert_check(r, "seal_signature", "passed");
    assert_check(r, "signer_in_seal", "passed");
    assert_check(r, "data_hash", xml ? "passed" : "not_checked");
    assert_string_equal(str_of(r, "validation_time_source"), "tbs_time_info");
    assert_string_not_equal(str_of(r, "indication"), "TOTAL_FAILED");
    json_decref(r);
    if (xml == NULL) {
        /* dataHash is 32 zero bytes: any real document fails */
        r = verify_sig_bytes(der, len, (const uint8_t *)"x", 1, NULL);
        assert_check(r, "data_hash", "failed");
        assert_string_equal(str_of(r, "sub_indication"), "HASH_FAILURE");
        json_decref(r);
    }
    free(doc);
    free(der);
}

static void test_vector_sig_v4(void **state)
{
    check_sig_vector("ofdrw-SignedValueV4.dat", NULL, SES_FMT_V4);
}

static void test_vector_sig_v5(void **state)
{
    check_sig_vector("ofdrw-SignedValueV5.dat", NULL, SES_FMT_V5);
}

static void test_vector_sig_pairs(void **state)
{
    static const char *names[] = {"allprotected", "signedFile", "v4signed"};
    char dat[128], xml[128];
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(dat, sizeof(dat), "%s-Sign_0.SignedValue.dat", names[i]);
        snprintf(xml, sizeof(xml), "%s-Sign_0.Signature.xml", names[i]);
        check_sig_vector(dat, xml, SES_FMT_V4);
    }
}

/* The ofdrw root lacks keyCertSign: trusted, the strict chain check fails
 * with that reason while the cryptographic checks stay valid. */
static void test_vector_ofdrw_root_strict(void **state)
{
    size_t len, plen;
    uint8_t *der = read_vec("signatures/ofdrw-SignedValueV4.dat", &len);
    uint8_t *p12der = read_vec("keys/ofdrw-ROOT.p12", &plen);
    const unsigned char *q = p12der;
    PKCS12 *p12 = d2i_PKCS12(NULL, &q, (long)plen);
    OSSL_PROVIDER *legacy = OSSL_PROVIDER_load(NULL, "legacy");
    OSSL_PROVIDER *deflt = OSSL_PROVIDER_load(NULL, "default");
    EVP_PKEY *pk = NULL;
    X509 *root = NULL;
    char dir[] = "/tmp/seald-test-root-XXXXXX", path[256];
    unsigned char *rder = NULL;
    int rlen;
    json_t *r;

    if (legacy == NULL)
        fail_msg("OpenSSL's legacy provider (needed for the ofdrw PKCS#12 "
                 "file) is missing");
    assert_non_null(p12);
    assert_int_equal(PKCS12_parse(p12, "123456", &pk, &root, NULL), 1);
    assert_non_null(mkdtemp(dir));
    rlen = i2d_X509(root, &rder);
    write_file(dir, "ofdrw-root.der", rder, (size_t)rlen);
    r = verify_sig_bytes(der, len, NULL, 0, dir);
    assert_check(r, "signature", "passed");
    assert_check(r, "seal_signature", "passed");
    assert_check(r, "certificate_chain", "failed");
    assert_non_null(strstr(reason_of(r, "certificate_chain"),
                           "invalid CA certificate"));
    assert_string_equal(str_of(r, "indication"), "INDETERMINATE");
    assert_string_equal(str_of(r, "sub_indication"),
                        "CHAIN_CONSTRAINTS_FAILURE");
    json_decref(r);
    /* without the anchor: untrusted -> indeterminate, no chain found */
    r = verify_sig_bytes(der, len, NULL, 0, NULL);
    assert_check(r, "certificate_chain", "indeterminate");
    assert_string_equal(str_of(r, "sub_indication"),
                        "NO_CERTIFICATE_CHAIN_FOUND");
    json_decref(r);
    snprintf(path, sizeof(path), "%s/ofdrw-root.der", dir);
    unlink(path);
    rmdir(dir);
    OPENSSL_free(rder);
    EVP_PKEY_free(pk);
    X509_free(root);
    PKCS12_free(p12);
    OSSL_PROVIDER_unload(legacy);
    OSSL_PROVIDER_unload(deflt);
    free(p12der);
    free(der);
}

/* ---- round trip ------------------------------------------------------------ */

static void roundtrip(int format, int write_out)
{
    struct fixture f;
    struct ses_seal *s = NULL;
    struct ses_signature *g = NULL;
    struct err e;
    json_t *r;
    static const uint8_t crit_true[] = {0x01, 0x01, 0xff};
    static const uint8_t crit_false[] = {0x01, 0x01, 0x00};

    fixture_build(&f, format);
    /* critical written in both cases */
    assert_non_null(memmem(f.seal, f.seal_len, crit_true, 3));
    assert_non_null(memmem(f.seal, f.seal_len, crit_false, 3));
    assert_int_equal(ses_seal_decode(f.seal, f.seal_len, &s, &e), ERR_OK);
    assert_int_equal(s->format, format);
    assert_int_equal(s->header_version, format);
    assert_string_equal(s->name, SEAL_NAME);
    assert_int_equal(s->n_ext, 2);
    assert_int_equal(s->ext[0].critical, 0);
    assert_int_equal(s->ext[1].critical, 1);
    assert_int_equal(s->n_certs, 1);
    r = verify_seal_bytes(f.seal, f.seal_len, f.trust);
    if (strcmp(str_of(r, "indication"), "TOTAL_PASSED") != 0)
        fail_msg("seal: %s", json_dumps(r, 0));
    json_decref(r);

    assert_int_equal(ses_signature_decode(f.sig, f.sig_len, &g, &e), ERR_OK);
    assert_int_equal(g->format, format);
    assert_int_equal(g->version, format);
    assert_int_equal(g->data_hash.len, 32);
    assert_string_equal(g->property_info, PROP);
    assert_int_equal(g->n_ext, 1);
    /* the embedded seal is byte-identical to the built seal */
    assert_non_null(memmem(f.sig, f.sig_len, f.seal, f.seal_len));
    /* TBS extDatas written as [0] EXPLICIT */
    {
        const uint8_t *pi = memmem(g->tbs.p, g->tbs.len, PROP, strlen(PROP));
        assert_non_null(pi);
        assert_int_equal(pi[strlen(PROP)], 0xa0);
    }
    r = verify_sig_bytes(f.sig, f.sig_len, f.doc, sizeof(f.doc), f.trust);
    if (strcmp(str_of(r, "indication"), "TOTAL_PASSED") != 0)
        fail_msg("signature: %s", json_dumps(r, 0));
    assert_check(r, "data_hash", "passed");
    assert_check(r, "certificate_chain", "passed");
    json_decref(r);
    /* signed (by its timeInfo) before the certificate's notBefore:
     * TOTAL_FAILED/NOT_YET_VALID (EN 319 102-1), the message naming the
     * certificate's own dates */
    r = verify_sig_bytes(f.early, f.early_len, f.doc, sizeof(f.doc), f.trust);
    assert_string_equal(str_of(r, "indication"), "TOTAL_FAILED");
    assert_string_equal(str_of(r, "sub_indication"), "NOT_YET_VALID");
    assert_check(r, "signer_certificate_validity", "failed");
    {
        const char *why = json_string_value(json_object_get(json_object_get(
            json_object_get(r, "checks"), "signer_certificate_validity"),
            "reason"));
        assert_non_null(why);
        assert_non_null(strstr(why, "(notBefore)"));
        assert_non_null(strstr(why, "(notAfter)"));
    }
    json_decref(r);

    if (write_out) {
        const char *bd = getenv("SEALD_FORMAT_OUT");
        char dir[512];
        char *pem = NULL;
        long n;
        BIO *b = BIO_new(BIO_s_mem());
        if (bd != NULL) {
            snprintf(dir, sizeof(dir), "%s", bd);
        } else if ((bd = getenv("SEALD_BUILD_DIR")) != NULL) {
            snprintf(dir, sizeof(dir), "%s/format-out", bd);
        } else {
            BIO_free(b);
            goto done;
        }
        mkdir(dir, 0755);
        write_file(dir, "seal.esl", f.seal, f.seal_len);
        write_file(dir, "sig.dat", f.sig, f.sig_len);
        write_file(dir, "sig-early.dat", f.early, f.early_len);
        write_file(dir, "doc.bin", f.doc, sizeof(f.doc));
        write_file(dir, "sealinfo.der", s->signed_part.p, s->signed_part.len);
        write_file(dir, "tbs.der", g->tbs.p, g->tbs.len);
        write_file(dir, "seal-sigvalue.der", s->sig_value.p,
                   s->sig_value.len);
        write_file(dir, "sig-sigvalue.der", g->sig_value.p, g->sig_value.len);
        PEM_write_bio_PUBKEY(b, f.key);
        n = BIO_get_mem_data(b, &pem);
        write_file(dir, "pub.pem", pem, (size_t)n);
        BIO_free(b);
        b = BIO_new(BIO_s_mem());
        PEM_write_bio_X509(b, f.cert);
        n = BIO_get_mem_data(b, &pem);
        write_file(dir, "cert.pem", pem, (size_t)n);
        BIO_free(b);
    }
done:
    ses_signature_free(g);
    ses_seal_free(s);
    fixture_free(&f);
}

static void test_roundtrip_v4(void **state)
{
    roundtrip(SES_FMT_V4, 1);
}

static void test_roundtrip_v5(void **state)
{
    roundtrip(SES_FMT_V5, 0);
}

/* A preloaded trust store (what the daemon uses) gives the same result. */
static void test_trust_store(void **state)
{
    struct fixture f;
    struct ses_signature *g = NULL;
    struct ses_verify_opts o;
    X509_STORE *st = NULL;
    struct err e;
    int n = 0;
    json_t *r;

    assert_int_equal(ses_trust_load("/nonexistent-seald-dir", NULL, &st, &n,
                                    &e), ERR_IO);
    assert_null(st);
    fixture_build(&f, SES_FMT_V5);
    assert_int_equal(ses_trust_load(f.trust, NULL, &st, &n, &e), ERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ses_signature_decode(f.sig, f.sig_len, &g, &e), ERR_OK);
    memset(&o, 0, sizeof(o));
    o.trust_store = st;
    o.data = f.doc;
    o.data_len = sizeof(f.doc);
    r = ses_verify_signature(g, &o, &e);
    assert_string_equal(str_of(r, "indication"), "TOTAL_PASSED");
    json_decref(r);
    ses_signature_free(g);
    X509_STORE_free(st);
    fixture_free(&f);
}

/* ---- tampering ------------------------------------------------------------- */

static uint8_t *dup_flip(const uint8_t *p, size_t len, size_t off, int bit)
{
    uint8_t *c = malloc(len);

    memcpy(c, p, len);
    c[off] ^= (uint8_t)(1u << bit);
    return c;
}

static void test_tamper(void **state)
{
    struct fixture f;
    uint8_t doc[sizeof(f.doc)], *t;
    const uint8_t *hit;
    json_t *r;

    fixture_build(&f, SES_FMT_V4);

    /* document */
    memcpy(doc, f.doc, sizeof(doc));
    doc[10] ^= 0x01;
    r = verify_sig_bytes(f.sig, f.sig_len, doc, sizeof(doc), f.trust);
    assert_check(r, "data_hash", "failed");
    assert_check(r, "signature", "passed");
    assert_string_equal(str_of(r, "sub_indication"), "HASH_FAILURE");
    json_decref(r);

    /* TBS_Sign (propertyInfo byte) */
    hit = memmem(f.sig, f.sig_len, PROP, strlen(PROP));
    assert_non_null(hit);
    t = dup_flip(f.sig, f.sig_len, (size_t)(hit - f.sig) + 5, 0);
    r = verify_sig_bytes(t, f.sig_len, f.doc, sizeof(f.doc), f.trust);
    assert_check(r, "signature", "failed");
    assert_check(r, "seal_signature", "passed");
    assert_string_equal(str_of(r, "sub_indication"), "SIG_CRYPTO_FAILURE");
    json_decref(r);
    free(t);

    /* seal info (the seal name) in a bare seal */
    hit = memmem(f.seal, f.seal_len, SEAL_NAME, strlen(SEAL_NAME));
    assert_non_null(hit);
    t = dup_flip(f.seal, f.seal_len, (size_t)(hit - f.seal) + 2, 1);
    r = verify_seal_bytes(t, f.seal_len, f.trust);
    assert_check(r, "seal_signature", "failed");
    assert_string_equal(str_of(r, "sub_indication"), "SIG_CRYPTO_FAILURE");
    json_decref(r);
    free(t);

    /* seal info inside the signature: both signatures break */
    hit = memmem(f.sig, f.sig_len, SEAL_NAME, strlen(SEAL_NAME));
    t = dup_flip(f.sig, f.sig_len, (size_t)(hit - f.sig) + 2, 1);
    r = verify_sig_bytes(t, f.sig_len, f.doc, sizeof(f.doc), f.trust);
    assert_check(r, "seal_signature", "failed");
    assert_check(r, "signature", "failed");
    assert_string_equal(str_of(r, "sub_indication"), "SIG_CRYPTO_FAILURE");
    json_decref(r);
    free(t);

    /* signer certificate (outside TBS_Sign): last byte of its signature */
    hit = f.sig + f.sig_len - 1;
    {
        const uint8_t *c = NULL, *q = f.sig;
        /* the last occurrence of the certificate is the signer's */
        while ((q = memmem(q, f.sig_len - (size_t)(q - f.sig), f.cert_der,
                           f.cert_len)) != NULL) {
            c = q;
            q++;
        }
        assert_non_null(c);
        hit = c + f.cert_len - 1;
    }
    t = dup_flip(f.sig, f.sig_len, (size_t)(hit - f.sig), 0);
    r = verify_sig_bytes(t, f.sig_len, f.doc, sizeof(f.doc), f.trust);
    assert_check(r, "signature", "passed");
    assert_check(r, "signer_in_seal", "failed");
    assert_string_not_equal(status_of(r, "certificate_chain"), "passed");
    assert_string_equal(str_of(r, "indication"), "TOTAL_FAILED");
    assert_string_equal(str_of(r, "sub_indication"), "SIG_CONSTRAINTS_FAILURE");
    json_decref(r);
    free(t);

    /* maker certificate inside the bare seal: chain breaks */
    {
        const uint8_t *c = NULL, *q = f.seal;
        while ((q = memmem(q, f.seal_len - (size_t)(q - f.seal), f.cert_der,
                           f.cert_len)) != NULL) {
            c = q;
            q++;
        }
        hit = c + f.cert_len - 1;
    }
    t = dup_flip(f.seal, f.seal_len, (size_t)(hit - f.seal), 0);
    r = verify_seal_bytes(t, f.seal_len, f.trust);
    assert_check(r, "seal_signature", "passed");
    assert_string_not_equal(status_of(r, "certificate_chain"), "passed");
    assert_string_equal(str_of(r, "indication"), "INDETERMINATE");
    json_decref(r);
    free(t);

    fixture_free(&f);
}

/* ---- hostile input --------------------------------------------------------- */

static void decode_any(const uint8_t *p, size_t len)
{
    struct ses_seal *s = NULL;
    struct ses_signature *g = NULL;
    struct err e;
    json_t *r;
    struct ses_verify_opts o;

    memset(&o, 0, sizeof(o));
    if (ses_seal_decode(p, len, &s, &e) == ERR_OK) {
        r = ses_verify_seal(s, &o, &e);
        json_decref(r);
        r = ses_seal_to_json(s);
        json_decref(r);
        ses_seal_free(s);
    } else {
        assert_null(s);
    }
    if (ses_signature_decode(p, len, &g, &e) == ERR_OK) {
        r = ses_verify_signature(g, &o, &e);
        json_decref(r);
        r = ses_signature_to_json(g);
        json_decref(r);
        ses_signature_free(g);
    } else {
        assert_null(g);
    }
    {
        struct ses_signed_data *sd = NULL;

        if (ses_signed_data_decode(p, len, &sd, &e) == ERR_OK) {
            o.data = p;                  /* any bytes as the document */
            o.data_len = len;
            r = ses_verify_signed_data(sd, &o, &e);
            assert_non_null(r);
            json_decref(r);
            ses_signed_data_free(sd);
        } else {
            assert_null(sd);
        }
    }
}

static void test_truncation(void **state)
{
    size_t len, n;
    uint8_t *der = read_vec("signatures/v4signed-Sign_0.SignedValue.dat", &len);
    uint8_t *seal = NULL;
    struct ses_signature *g = NULL;
    struct err e;

    for (n = 0; n < len; n += (n < 64 || len - n < 64) ? 1 : 37) {
        uint8_t *c = malloc(n ? n : 1);
        memcpy(c, der, n);
        assert_int_not_equal(ses_signature_decode(c, n, &g, &e), ERR_OK);
        assert_null(g);
        decode_any(c, n);
        free(c);
    }
    /* trailing garbage */
    seal = malloc(len + 1);
    memcpy(seal, der, len);
    seal[len] = 0;
    assert_int_equal(ses_signature_decode(seal, len + 1, &g, &e),
                     ERR_MALFORMED);
    free(seal);
    /* oversized */
    assert_int_equal(ses_signature_decode(der, SES_MAX_DER + 1, &g, &e),
                     ERR_TOO_LARGE);
    free(der);
}

/* ses_ts.c: the token goes in as timeStamp and changes nothing signed;
 * a query over the value; what is not a token is a failed check. */
static void test_timestamp_slot(void **state)
{
    size_t len, vlen = 0, olen = 0;
    uint8_t *der = read_vec("signatures/v4signed-Sign_0.SignedValue.dat", &len);
    uint8_t *val = NULL, *out = NULL, *again = NULL, junk[300];
    struct ses_signature *a = NULL, *b = NULL;
    struct ses_ts_query q;
    struct ses_ts_info info;
    struct err e;

    (void)state;
    memset(junk, 0x5a, sizeof(junk));
    assert_int_equal(ses_signature_value(der, len, &val, &vlen, &e), ERR_OK);
    assert_int_equal(ses_signature_add_timestamp(der, len, junk, sizeof(junk),
                                                 &out, &olen, &e), ERR_OK);
    assert_int_equal(ses_signature_decode(der, len, &a, &e), ERR_OK);
    assert_int_equal(ses_signature_decode(out, olen, &b, &e), ERR_OK);
    assert_false(a->has_timestamp);
    assert_true(b->has_timestamp);
    assert_int_equal(b->timestamp.len, sizeof(junk));
    assert_memory_equal(b->timestamp.p, junk, sizeof(junk));
    assert_int_equal(a->tbs.len, b->tbs.len);
    assert_memory_equal(a->tbs.p, b->tbs.p, a->tbs.len);
    assert_int_equal(b->sig_value.len, vlen);
    assert_memory_equal(b->sig_value.p, val, vlen);
    /* one timestamp only */
    assert_int_equal(ses_signature_value(out, olen, &again, &vlen, &e),
                     ERR_CONFLICT);
    assert_null(again);
    assert_int_equal(ses_ts_token_verify(junk, sizeof(junk), &b->sig_value,
                                         NULL, &info), SES_TS_FAILED);
    assert_false(info.parsed);
    assert_int_equal(ses_ts_query_new(val, vlen, "sm3", &q, &e), ERR_OK);
    assert_int_equal(q.imprint_len, 32);
    assert_true(q.len > 32);
    ses_ts_query_free(&q);
    assert_int_equal(ses_ts_query_new(val, vlen, "md5", &q, &e), ERR_INVALID);
    ses_signature_free(a);
    ses_signature_free(b);
    free(out);
    free(val);
    free(der);
}

static void test_bitflips(void **state)
{
    static const char *files[] = {
        "signatures/ofdrw-SignedValueV4.dat", "seals/ofdrw-UserV1.esl",
        "seals/hebeigede-v4-badsig.der", "seals/ofdrw-UserV5_ts.esl"};
    size_t i, k, len;
    uint32_t x = 12345;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        uint8_t *der = read_vec(files[i], &len);
        for (k = 0; k < 300; k++) {
            uint8_t *c;
            x = x * 1103515245u + 12345u;
            /* bias towards the headers where structure lives */
            c = dup_flip(der, len, (x >> 8) % (k & 1 ? len : (len < 600 ? len : 600)),
                         (int)(x & 7));
            decode_any(c, len);
            free(c);
        }
        free(der);
    }
}

static void test_garbage(void **state)
{
    static const uint8_t g1[] = {0x30, 0x80, 0x00, 0x00};
    static const uint8_t g2[] = {0x30, 0x84, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t g3[] = {0x30, 0x06, 0x30, 0x02, 0x02, 0x00, 0x04, 0x00};
    static const uint8_t g4[] = {0x30, 0x04, 0x30, 0x02, 0x30, 0x00};
    struct ses_seal *s = NULL;
    struct err e;

    decode_any(g1, sizeof(g1));
    decode_any(g2, sizeof(g2));
    decode_any(g3, sizeof(g3));
    decode_any(g4, sizeof(g4));
    decode_any(NULL, 0);
    assert_int_equal(ses_sniff(g1, sizeof(g1)), SES_KIND_UNKNOWN);
    assert_int_not_equal(ses_seal_decode(g4, sizeof(g4), &s, &e), ERR_OK);
}

/* A seal whose certList is a certDigestList (SM3 of the signer cert). */
static void test_cert_digest_list(void **state)
{
    struct fixture f;
    struct ses_seal *s = NULL;
    struct err e;
    json_t *r;

    fixture_build2(&f, SES_FMT_V4, 2);
    assert_int_equal(ses_seal_decode(f.seal, f.seal_len, &s, &e), ERR_OK);
    assert_int_equal(s->cert_list_type, 2);
    assert_int_equal(s->n_certs, 1);
    assert_string_equal(s->certs[0].digest_type, "SM3");
    assert_memory_equal(s->certs[0].der.p, f.cert_digest, SM3_DIGEST_LEN);
    ses_seal_free(s);
    r = verify_sig_bytes(f.sig, f.sig_len, f.doc, sizeof(f.doc), f.trust);
    assert_check(r, "signer_in_seal", "passed");
    assert_non_null(strstr(reason_of(r, "signer_in_seal"), "certDigestList"));
    assert_string_equal(str_of(r, "indication"), "TOTAL_PASSED");
    json_decref(r);
    fixture_free(&f);
}

/* ExtData without the (DEFAULT FALSE) critical field still decodes. */
static void test_critical_absent(void **state)
{
    static const uint8_t der[] = HAND_SEAL_NO_CRITICAL;
    struct ses_seal *s = NULL;
    struct err e;
    json_t *r;
    const size_t len = sizeof(der) - 1;           /* string literal NUL */

    assert_int_equal(ses_seal_decode(der, len, &s, &e), ERR_OK);
    assert_int_equal(s->n_ext, 1);
    assert_int_equal(s->ext[0].critical, -1);
    assert_string_equal(s->ext[0].oid, "1.2.3.4");
    ses_seal_free(s);
    /* its maker certificate is junk: a format failure, reported */
    r = verify_seal_bytes(der, len, NULL);
    assert_string_equal(str_of(r, "sub_indication"), "FORMAT_FAILURE");
    json_decref(r);
}

/* Building refuses what it must not write. */
static void test_build_limits(void **state)
{
    struct ses_seal_params sp;
    uint8_t *der = NULL;
    size_t len = 0;
    struct err e;

    memset(&sp, 0, sizeof(sp));
    sp.format = SES_FMT_V1;
    assert_int_equal(ses_seal_build(&sp, test_signer, NULL, &der, &len, &e),
                     ERR_INVALID);
    assert_null(der);
}

/* ---- GB/T 35275 SignedData ----------------------------------------------- */

/* Report of SignedData der over doc (NULL: none) or hash, with anchors in
 * trust (NULL: none). */
static json_t *verify_sd(const uint8_t *der, size_t len, const uint8_t *doc,
                         size_t doc_len, const uint8_t *hash,
                         const char *trust)
{
    struct ses_signed_data *sd = NULL;
    struct ses_verify_opts o;
    struct err e;
    json_t *r;

    memset(&o, 0, sizeof(o));
    o.data = doc;
    o.data_len = doc_len;
    o.hash = hash;
    o.hash_len = hash ? SM3_DIGEST_LEN : 0;
    o.trust_dir = trust;
    if (ses_signed_data_decode(der, len, &sd, &e) != ERR_OK)
        fail_msg("SignedData decode: %s", e.msg);
    r = ses_verify_signed_data(sd, &o, &e);
    assert_non_null(r);
    ses_signed_data_free(sd);
    return r;
}

/* Detached with signed attributes (what an OFD Type="Sign" holds): the
 * SM2 value over the attributes is not enough, messageDigest must be SM3
 * of the very document given. */
static void test_sd_detached_attrs(void **state)
{
    struct fixture f;
    time_t when = time(NULL) - 600;
    uint8_t *der, doc[sizeof(f.doc)], h[SM3_DIGEST_LEN];
    size_t len;
    json_t *r;
    struct err e;

    (void)state;
    fixture_build(&f, SES_FMT_V4);
    der = sd_t_build(f.key, f.cert, f.doc, sizeof(f.doc), SD_T_ATTRS, when,
                     &len);
    assert_int_equal(ses_sniff(der, len), SES_KIND_SIGNED_DATA);
    /* genuine, trusted */
    r = verify_sd(der, len, f.doc, sizeof(f.doc), NULL, f.trust);
    assert_string_equal(str_of(r, "kind"), "signed_data");
    assert_check(r, "structure", "passed");
    assert_check(r, "signature", "passed");
    assert_check(r, "data_hash", "passed");
    assert_string_equal(reason_of(r, "data_hash"),
                        "messageDigest is SM3 of the document");
    assert_check(r, "certificate_chain", "passed");
    assert_check(r, "signer_certificate_validity", "passed");
    assert_string_equal(str_of(r, "indication"), "TOTAL_PASSED");
    assert_string_equal(str_of(r, "validation_time_source"),
                        "signing_time_attribute");
    assert_true(json_is_true(json_object_get(r, "detached")));
    assert_true(json_is_true(json_object_get(r, "signed_attributes")));
    assert_non_null(json_object_get(json_object_get(r, "signer"), "subject"));
    json_decref(r);
    /* genuine, no anchors: untrusted is indeterminate, as for seals */
    r = verify_sd(der, len, f.doc, sizeof(f.doc), NULL, NULL);
    assert_check(r, "certificate_chain", "indeterminate");
    assert_string_equal(str_of(r, "indication"), "INDETERMINATE");
    assert_string_equal(str_of(r, "sub_indication"),
                        "NO_CERTIFICATE_CHAIN_FOUND");
    json_decref(r);
    /* the document changed after signing: the attributes still verify,
     * the binding does not */
    memcpy(doc, f.doc, sizeof(doc));
    doc[7] ^= 1;
    r = verify_sd(der, len, doc, sizeof(doc), NULL, f.trust);
    assert_check(r, "signature", "passed");
    assert_check(r, "data_hash", "failed");
    assert_string_equal(str_of(r, "indication"), "TOTAL_FAILED");
    assert_string_equal(str_of(r, "sub_indication"), "HASH_FAILURE");
    json_decref(r);
    /* by hash */
    assert_int_equal(sm2_sm3(f.doc, sizeof(f.doc), h, &e), ERR_OK);
    r = verify_sd(der, len, NULL, 0, h, f.trust);
    assert_check(r, "data_hash", "passed");
    json_decref(r);
    h[0] ^= 1;
    r = verify_sd(der, len, NULL, 0, h, f.trust);
    assert_check(r, "data_hash", "failed");
    json_decref(r);
    /* nothing to bind to: not checked, the rest still reported */
    r = verify_sd(der, len, NULL, 0, NULL, f.trust);
    assert_check(r, "data_hash", "not_checked");
    assert_check(r, "signature", "passed");
    json_decref(r);
    free(der);
    /* a signer who signed a messageDigest of other bytes */
    der = sd_t_build(f.key, f.cert, f.doc, sizeof(f.doc),
                     SD_T_ATTRS | SD_T_BAD_DIGEST, when, &len);
    r = verify_sd(der, len, f.doc, sizeof(f.doc), NULL, f.trust);
    assert_check(r, "signature", "passed");
    assert_check(r, "data_hash", "failed");
    json_decref(r);
    free(der);
    fixture_free(&f);
}

/* Attached content (SM3 of the document, as tongz writes it), with and
 * without signed attributes; detached without attributes (the signature is
 * over the document itself). */
static void test_sd_other_shapes(void **state)
{
    struct fixture f;
    uint8_t *der, doc[sizeof(f.doc)];
    size_t len;
    json_t *r;
    int flags[] = {SD_T_ATTACH_HASH, SD_T_ATTACH_HASH | SD_T_ATTRS, 0};
    size_t i;

    (void)state;
    fixture_build(&f, SES_FMT_V4);
    memcpy(doc, f.doc, sizeof(doc));
    doc[3] ^= 0x20;
    for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        der = sd_t_build(f.key, f.cert, f.doc, sizeof(f.doc), flags[i],
                         time(NULL) - 60, &len);
        r = verify_sd(der, len, f.doc, sizeof(f.doc), NULL, f.trust);
        assert_check(r, "signature", "passed");
        assert_check(r, "data_hash", "passed");
        assert_string_equal(str_of(r, "indication"), "TOTAL_PASSED");
        json_decref(r);
        r = verify_sd(der, len, doc, sizeof(doc), NULL, f.trust);
        assert_string_equal(str_of(r, "indication"), "TOTAL_FAILED");
        assert_check(r, flags[i] ? "data_hash" : "signature", "failed");
        json_decref(r);
        free(der);
    }
    /* attached with attributes whose messageDigest is not the content's */
    der = sd_t_build(f.key, f.cert, f.doc, sizeof(f.doc),
                     SD_T_ATTACH_HASH | SD_T_ATTRS | SD_T_BAD_DIGEST,
                     time(NULL), &len);
    r = verify_sd(der, len, f.doc, sizeof(f.doc), NULL, f.trust);
    assert_check(r, "signature", "passed");
    assert_check(r, "data_hash", "failed");
    assert_non_null(strstr(reason_of(r, "data_hash"), "encapsulated"));
    json_decref(r);
    free(der);
    /* detached without attributes and without the document: the signature
     * cannot be checked */
    der = sd_t_build(f.key, f.cert, f.doc, sizeof(f.doc), 0, 0, &len);
    r = verify_sd(der, len, NULL, 0, NULL, f.trust);
    assert_check(r, "signature", "indeterminate");
    assert_string_equal(str_of(r, "indication"), "INDETERMINATE");
    json_decref(r);
    free(der);
    fixture_free(&f);
}

/* Hostile SignedData: truncations, bit flips, trailing bytes. */
static void test_sd_hostile(void **state)
{
    struct fixture f;
    struct ses_signed_data *sd = NULL;
    uint8_t *der, *c;
    size_t len, n, k;
    uint32_t x = 777;
    struct err e;

    (void)state;
    fixture_build(&f, SES_FMT_V4);
    der = sd_t_build(f.key, f.cert, f.doc, sizeof(f.doc), SD_T_ATTRS,
                     time(NULL), &len);
    for (n = 0; n < len; n += n < 80 ? 1 : 23) {
        c = malloc(n ? n : 1);
        memcpy(c, der, n);
        assert_int_not_equal(ses_signed_data_decode(c, n, &sd, &e), ERR_OK);
        assert_null(sd);
        decode_any(c, n);
        free(c);
    }
    for (k = 0; k < 300; k++) {
        x = x * 1103515245u + 12345u;
        c = dup_flip(der, len, (x >> 8) % len, (int)(x & 7));
        decode_any(c, len);
        free(c);
    }
    c = malloc(len + 1);
    memcpy(c, der, len);
    c[len] = 0;
    assert_int_equal(ses_signed_data_decode(c, len + 1, &sd, &e),
                     ERR_MALFORMED);
    free(c);
    assert_int_equal(ses_signed_data_decode(der, SES_MAX_DER + 1, &sd, &e),
                     ERR_TOO_LARGE);
    free(der);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest all[] = {
        cmocka_unit_test(test_vector_seal_v1),
        cmocka_unit_test(test_vector_seal_v4),
        cmocka_unit_test(test_vector_seal_v5),
        cmocka_unit_test(test_vector_seal_v5_ts),
        cmocka_unit_test(test_vector_seal_hebeigede),
        cmocka_unit_test(test_vector_sig_v4),
        cmocka_unit_test(test_vector_sig_v5),
        cmocka_unit_test(test_vector_sig_pairs),
        cmocka_unit_test(test_vector_ofdrw_root_strict),
        cmocka_unit_test(test_roundtrip_v4),
        cmocka_unit_test(test_timestamp_slot),
        cmocka_unit_test(test_roundtrip_v5),
        cmocka_unit_test(test_trust_store),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_bitflips),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_build_limits),
        cmocka_unit_test(test_cert_digest_list),
        cmocka_unit_test(test_critical_absent),
        cmocka_unit_test(test_sd_detached_attrs),
        cmocka_unit_test(test_sd_other_shapes),
        cmocka_unit_test(test_sd_hostile),
    };
    const struct CMUnitTest out_only[] = {
        cmocka_unit_test(test_roundtrip_v4),
    };
    const char *o = getenv("SEALD_FORMAT_OUT_ONLY");

    if (o != NULL && strcmp(o, "1") == 0)
        return cmocka_run_group_tests(out_only, NULL, NULL);
    return cmocka_run_group_tests(all, NULL, NULL);
}
