/*
 * test_ofd.c - OFD packages: every vector in $SEALD_VECTORS/ofd verifies with
 * the outcome its README gives; sealing minimal OFDs built here (software SM2
 * key, test-only) by page, keyword and across pages, re-sealing, whole-document
 * protection, byte preservation of untouched entries, relative paths and
 * vendor date formats, Type="Sign" signatures with a GB/T 35275 SignedData
 * bound (or no longer bound) to their Signature.xml, and hostile packages
 * (zip bomb, traversal names, XML entity bomb, deep nesting, missing parts,
 * missing referenced files).
 *
 * With SEALD_OFD_OUT=DIR the sealed files used by tests/e2e/test_ofd.py are
 * written there (SEALD_OFD_OUT_ONLY=1: only that); with SEALD_OFD_CORPUS=DIR
 * small OFDs for the fuzz seed corpus.
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

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <zip.h>

#include "ofd.h"
#include "ses.h"
#include "sm2.h"
#include "util.h"

#include "sd_testutil.h"

/* ---- helpers ------------------------------------------------------------- */

struct blob {
    uint8_t *p;
    size_t len;
};

struct zpart {
    const char *name;
    const void *data;
    size_t len;
    int store;                 /* 1: stored, 0: deflated */
};

/* Build a zip in memory from parts. */
static struct blob zip_build(const struct zpart *parts, size_t n)
{
    zip_error_t ze;
    zip_source_t *src;
    zip_t *za;
    struct blob b = {NULL, 0};
    zip_int64_t size;
    size_t i;

    zip_error_init(&ze);
    src = zip_source_buffer_create(NULL, 0, 0, &ze);
    assert_non_null(src);
    za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    assert_non_null(za);
    zip_source_keep(src);
    for (i = 0; i < n; i++) {
        zip_source_t *zs = zip_source_buffer(za, parts[i].data, parts[i].len,
                                             0);
        zip_int64_t idx;

        assert_non_null(zs);
        idx = zip_file_add(za, parts[i].name, zs, ZIP_FL_ENC_UTF_8);
        assert_true(idx >= 0);
        if (parts[i].store)
            zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    }
    assert_int_equal(zip_close(za), 0);
    assert_int_equal(zip_source_open(src), 0);
    zip_source_seek(src, 0, SEEK_END);
    size = zip_source_tell(src);
    zip_source_seek(src, 0, SEEK_SET);
    b.p = malloc((size_t)size);
    assert_int_equal(zip_source_read(src, b.p, (zip_uint64_t)size), size);
    b.len = (size_t)size;
    zip_source_close(src);
    zip_source_free(src);
    return b;
}

/* Entry of a zip (raw: compressed bytes); malloc'ed, NULL if absent. */
static uint8_t *zip_get(const struct blob *z, const char *name, int raw,
                        size_t *len)
{
    zip_error_t ze;
    zip_source_t *src;
    zip_t *za;
    zip_stat_t st;
    zip_file_t *zf;
    uint8_t *out = NULL;
    zip_int64_t idx;

    zip_error_init(&ze);
    src = zip_source_buffer_create(z->p, z->len, 0, &ze);
    za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    if (za == NULL)
        fail_msg("zip open (%s): %s", name, zip_error_strerror(&ze));
    idx = zip_name_locate(za, name, 0);
    if (idx >= 0) {
        zip_stat_index(za, (zip_uint64_t)idx, 0, &st);
        *len = (size_t)(raw ? st.comp_size : st.size);
        out = malloc(*len + 1);
        zf = zip_fopen_index(za, (zip_uint64_t)idx, raw ? ZIP_FL_COMPRESSED : 0);
        assert_non_null(zf);
        assert_int_equal(zip_fread(zf, out, *len), (zip_int64_t)*len);
        zip_fclose(zf);
        out[*len] = '\0';
    }
    zip_discard(za);
    return out;
}

static const char *vectors(void)
{
    const char *v = getenv("SEALD_VECTORS");

    if (v == NULL)
        fail_msg("SEALD_VECTORS is not set (ctest sets it to tests/vectors)");
    return v;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "(null)";
}

static const char *chk(const json_t *sig, const char *name)
{
    const char *s = json_string_value(json_object_get(json_object_get(
        json_object_get(sig, "checks"), name), "status"));
    return s ? s : "(none)";
}

static const char *seschk(const json_t *sig, const char *name)
{
    return chk(json_object_get(sig, "ses"), name);
}

static json_t *verify_blob(const struct blob *b, const char *trust)
{
    struct ofd_verify_opts o = {0};
    json_t *r = NULL;
    struct err e;

    o.trust_dir = trust;
    if (ofd_verify(b->p, b->len, &o, &r, &e) != ERR_OK)
        fail_msg("ofd_verify: %s", e.msg);
    return r;
}

/* ---- software key, seal and signing callback ----------------------------- */

struct signer {
    EVP_PKEY *key;
    X509 *cert;
    uint8_t *cert_der;
    size_t cert_len;
    uint8_t *seal;
    size_t seal_len;
    char trust[64];
};

static err_code sm2_soft(void *ctx, const uint8_t e[SM3_DIGEST_LEN],
                         uint8_t *sig, size_t *sig_len, struct err *err)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new((EVP_PKEY *)ctx, NULL);
    err_code rc = ERR_OK;

    *sig_len = SM2_SIG_IN_MAX;
    if (pc == NULL || EVP_PKEY_sign_init(pc) <= 0 ||
        EVP_PKEY_sign(pc, sig, sig_len, e, SM3_DIGEST_LEN) <= 0)
        rc = err_set(err, ERR_CRYPTO, "test signer failed");
    EVP_PKEY_CTX_free(pc);
    return rc;
}

static X509 *make_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);
    X509V3_CTX v3;
    X509_EXTENSION *ext;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 777);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                               (const unsigned char *)"seald ofd test", -1,
                               -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600L * 24);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                              "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
                              "critical,digitalSignature,nonRepudiation,"
                              "keyCertSign");
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

static void signer_init(struct signer *s)
{
    struct ses_seal_params sp;
    struct ses_bytes certs[1];
    uint8_t pic[64];
    unsigned char *der = NULL;
    int n;
    time_t now = time(NULL);
    char path[128];
    FILE *f;
    struct err e;

    memset(s, 0, sizeof(*s));
    s->key = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
    assert_non_null(s->key);
    s->cert = make_cert(s->key);
    n = i2d_X509(s->cert, &der);
    assert_true(n > 0);
    s->cert_der = malloc((size_t)n);
    memcpy(s->cert_der, der, (size_t)n);
    s->cert_len = (size_t)n;
    OPENSSL_free(der);
    memset(pic, 0x42, sizeof(pic));
    memcpy(pic, "\x89PNG\r\n\x1a\n", 8);
    certs[0].p = s->cert_der;
    certs[0].len = s->cert_len;
    memset(&sp, 0, sizeof(sp));
    sp.format = SES_FMT_V4;
    sp.vid = "seald";
    sp.es_id = "11010000000042";
    sp.name = "seald ofd test seal";
    sp.type = 1;
    sp.cert_list_type = 1;
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
    sp.maker_cert.p = s->cert_der;
    sp.maker_cert.len = s->cert_len;
    if (ses_seal_build(&sp, sm2_soft, s->key, &s->seal, &s->seal_len, &e) !=
        ERR_OK)
        fail_msg("seal build: %s", e.msg);
    snprintf(s->trust, sizeof(s->trust), "/tmp/seald-ofd-trust-XXXXXX");
    assert_non_null(mkdtemp(s->trust));
    snprintf(path, sizeof(path), "%s/anchor.pem", s->trust);
    f = fopen(path, "w");
    assert_non_null(f);
    PEM_write_X509(f, s->cert);
    fclose(f);
}

static void signer_free(struct signer *s)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/anchor.pem", s->trust);
    unlink(path);
    rmdir(s->trust);
    EVP_PKEY_free(s->key);
    X509_free(s->cert);
    free(s->cert_der);
    free(s->seal);
}

/* The ofd_sign_fn of the tests: a v4 SES_Signature with the software key. */
static err_code sign_cb(void *ctx, const uint8_t datahash[32],
                        const char *property_info, uint8_t **ses_der,
                        size_t *len, struct err *e)
{
    struct signer *s = ctx;
    struct ses_sign_params gp;

    memset(&gp, 0, sizeof(gp));
    gp.format = SES_FMT_V4;
    gp.seal.p = s->seal;
    gp.seal.len = s->seal_len;
    gp.time_info = time(NULL);
    gp.data_hash.p = datahash;
    gp.data_hash.len = 32;
    gp.property_info = property_info;
    gp.signer_cert.p = s->cert_der;
    gp.signer_cert.len = s->cert_len;
    return ses_signature_build(&gp, sm2_soft, s->key, ses_der, len, e);
}

/* ---- a minimal OFD built here ------------------------------------------- */

#define OFD_XML_PLAIN \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
    "<ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\" Version=\"1.0\" " \
    "DocType=\"OFD\"><ofd:DocBody><ofd:DocInfo><ofd:DocID>test</ofd:DocID>" \
    "</ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>" \
    "</ofd:DocBody></ofd:OFD>\n"

static char doc_xml[2048];
static char page_xml[4][1024];
static const char PUBRES[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Res "
    "xmlns:ofd=\"http://www.ofdspec.org/2016\" BaseLoc=\"Res\"><ofd:Fonts>"
    "<ofd:Font ID=\"3\" FontName=\"SimSun\"/></ofd:Fonts></ofd:Res>\n";
static uint8_t image_bytes[3000];

/* OFD with n_pages pages (IDs 10, 11, ...); page 1 (or 0) holds the keyword
 * text "甲方（盖章）：ABC" at Boundary 30 200 60 8 with DeltaX. */
static struct blob make_ofd(size_t n_pages)
{
    struct zpart parts[10];
    size_t i, n = 0, off;

    off = (size_t)snprintf(doc_xml, sizeof(doc_xml),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Document "
        "xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:CommonData>"
        "<ofd:MaxUnitID>20</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>"
        "0 0 210 297</ofd:PhysicalBox></ofd:PageArea><ofd:PublicRes>"
        "PublicRes.xml</ofd:PublicRes></ofd:CommonData><ofd:Pages>");
    for (i = 0; i < n_pages; i++)
        off += (size_t)snprintf(doc_xml + off, sizeof(doc_xml) - off,
            "<ofd:Page ID=\"%zu\" BaseLoc=\"Pages/Page_%zu/Content.xml\"/>",
            10 + i, i);
    snprintf(doc_xml + off, sizeof(doc_xml) - off,
             "</ofd:Pages></ofd:Document>\n");
    parts[n++] = (struct zpart){"OFD.xml", OFD_XML_PLAIN,
                                strlen(OFD_XML_PLAIN), 0};
    parts[n++] = (struct zpart){"Doc_0/Document.xml", doc_xml,
                                strlen(doc_xml), 0};
    parts[n++] = (struct zpart){"Doc_0/PublicRes.xml", PUBRES,
                                strlen(PUBRES), 0};
    for (i = 0; i < n_pages && i < 4; i++) {
        static char names[4][64];
        int kw = (n_pages > 1 ? i == 1 : i == 0);

        snprintf(page_xml[i], sizeof(page_xml[i]),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Page "
            "xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:Content>"
            "<ofd:Layer ID=\"%zu\"><ofd:TextObject ID=\"%zu\" "
            "Boundary=\"30 40 100 6\" Font=\"3\" Size=\"5\"><ofd:TextCode "
            "X=\"0\" Y=\"5\">Page %zu body text</ofd:TextCode>"
            "</ofd:TextObject>%s</ofd:Layer></ofd:Content></ofd:Page>\n",
            100 + i, 200 + i, i,
            kw ? "<ofd:TextObject ID=\"300\" Boundary=\"30 200 60 8\" "
                 "Font=\"3\" Size=\"5\"><ofd:TextCode X=\"0\" Y=\"6\" "
                 "DeltaX=\"g 6 5 2.5 2.5\">甲方（盖章）：ABC</ofd:TextCode>"
                 "</ofd:TextObject>" : "");
        snprintf(names[i], sizeof(names[i]), "Doc_0/Pages/Page_%zu/Content.xml",
                 i);
        parts[n++] = (struct zpart){names[i], page_xml[i],
                                    strlen(page_xml[i]), 0};
    }
    for (i = 0; i < sizeof(image_bytes); i++)
        image_bytes[i] = (uint8_t)(i * 7 + (i >> 5));
    parts[n++] = (struct zpart){"Doc_0/Res/image.png", image_bytes,
                                sizeof(image_bytes), 1};
    return zip_build(parts, n);
}

static struct blob seal_blob(const struct blob *in, struct signer *s,
                             const struct ofd_stamp_pos *pos,
                             enum ofd_protect protect,
                             struct ofd_seal_info *info)
{
    struct ofd_seal_params p;
    struct blob out = {NULL, 0};
    struct err e;

    memset(&p, 0, sizeof(p));
    p.seal.p = s->seal;
    p.seal.len = s->seal_len;
    p.pos = *pos;
    p.protect = protect;
    p.sign = sign_cb;
    p.sign_ctx = s;
    if (ofd_seal(in->p, in->len, &p, &out.p, &out.len, info, &e) != ERR_OK)
        fail_msg("ofd_seal: %s", e.msg);
    return out;
}

static void write_out(const char *dir, const char *name, const void *p,
                      size_t len)
{
    char path[1024];
    struct err e;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (util_write_file(path, p, len, 0644, &e) != ERR_OK)
        fail_msg("write %s: %s", path, e.msg);
}

/* Attribute value attr="..." of the n-th (0-based) element tag in xml. */
static int xml_attr(const char *xml, const char *tag, size_t nth,
                    const char *attr, char *out, size_t cap)
{
    const char *p = xml, *a, *end;
    char pat[64];

    while (1) {
        p = strstr(p, tag);
        if (p == NULL)
            return 0;
        if (nth-- == 0)
            break;
        p += strlen(tag);
    }
    end = strchr(p, '>');
    snprintf(pat, sizeof(pat), " %s=\"", attr);
    a = strstr(p, pat);
    if (a == NULL || a > end)
        return 0;
    a += strlen(pat);
    end = strchr(a, '"');
    snprintf(out, cap, "%.*s", (int)(end - a), a);
    return 1;
}

/* ---- vectors ------------------------------------------------------------- */

static json_t *verify_vector(const char *name)
{
    char path[1024];
    struct blob b;
    struct err e;
    json_t *r;

    snprintf(path, sizeof(path), "%s/ofd/%s", vectors(), name);
    if (util_read_file(path, OFD_MAX_PACKAGE, &b.p, &b.len, &e) != ERR_OK)
        fail_msg("%s: %s", path, e.msg);
    r = verify_blob(&b, NULL);
    free(b.p);
    return r;
}

static const json_t *sig_at(const json_t *r, size_t i)
{
    const json_t *s = json_array_get(json_object_get(r, "signatures"), i);

    assert_non_null(s);
    return s;
}

/* all valid except the chain (no anchors given) */
static void expect_all_valid(const char *name, const char *ref_extra)
{
    json_t *r = verify_vector(name);
    const json_t *s = sig_at(r, 0);
    size_t i;
    int seen = ref_extra == NULL;

    assert_int_equal(json_array_size(json_object_get(r, "signatures")), 1);
    assert_string_equal(chk(s, "references"), "passed");
    assert_string_equal(seschk(s, "signature"), "passed");
    assert_string_equal(seschk(s, "seal_signature"), "passed");
    assert_string_equal(seschk(s, "data_hash"), "passed");
    assert_string_equal(jstr(s, "signed_value_kind"), "ses_signature");
    assert_true(json_is_true(json_object_get(s, "property_info_matches")));
    assert_string_equal(jstr(s, "indication"), "INDETERMINATE");
    assert_string_equal(jstr(s, "sub_indication"), "NO_CERTIFICATE_CHAIN_FOUND");
    assert_string_equal(jstr(r, "summary"), "indeterminate");
    assert_int_equal(ofd_report_exit_code(r), 2);
    for (i = 0; i < json_array_size(json_object_get(s, "references")); i++) {
        const json_t *it = json_array_get(json_object_get(s, "references"), i);

        assert_string_equal(jstr(it, "status"), "passed");
        if (ref_extra && !strcmp(jstr(it, "file"), ref_extra))
            seen = 1;
    }
    assert_true(seen);
    /* stamp position and page */
    s = json_array_get(json_object_get(s, "stamps"), 0);
    assert_non_null(s);
    assert_int_equal(json_integer_value(json_object_get(s, "page_index")), 0);
    json_decref(r);
}

static void test_vector_v4signed(void **state)
{
    (void)state;
    expect_all_valid("v4signed.ofd", NULL);
}

static void test_vector_signedfile(void **state)
{
    (void)state;
    expect_all_valid("signedFile.ofd", NULL);
}

static void test_vector_allprotected(void **state)
{
    json_t *r;
    const json_t *s;

    (void)state;
    expect_all_valid("allprotected.ofd", "/Doc_0/Signs/Signatures.xml");
    r = verify_vector("allprotected.ofd");
    s = sig_at(r, 0);
    assert_string_equal(chk(s, "seal_file"), "passed");
    assert_string_equal(jstr(s, "signature_date_time"), "2020-10-23 19:45:37");
    assert_string_equal(jstr(s, "signature_time"), "2020-10-23T19:45:37");
    s = json_array_get(json_object_get(s, "stamps"), 0);
    assert_true(json_real_value(json_array_get(json_object_get(s,
                "boundary_mm"), 0)) == 50.0);
    json_decref(r);
}

static void test_vector_digitalsign(void **state)
{
    json_t *r = verify_vector("DigitalSign.ofd");
    const json_t *s = sig_at(r, 0);

    (void)state;
    assert_string_equal(jstr(s, "type"), "Sign");
    assert_string_equal(jstr(s, "signed_value_kind"), "sm2_signature");
    assert_string_equal(chk(s, "references"), "passed");
    assert_string_equal(chk(s, "signature"), "indeterminate");
    assert_string_equal(jstr(s, "indication"), "INDETERMINATE");
    assert_int_equal(ofd_report_exit_code(r), 2);
    json_decref(r);
}

static void test_vector_dms360(void **state)
{
    json_t *r = verify_vector("v1-dms360.ofd");
    const json_t *s = sig_at(r, 0);

    (void)state;
    assert_string_equal(seschk(s, "seal_signature"), "passed");
    assert_string_equal(seschk(s, "signature"), "failed");
    assert_string_equal(seschk(s, "data_hash"), "failed");
    assert_string_equal(chk(s, "references"), "failed");
    assert_string_equal(jstr(s, "indication"), "TOTAL_FAILED");
    assert_string_equal(jstr(r, "indication"), "TOTAL_FAILED");
    assert_string_equal(jstr(r, "summary"), "some failed");
    assert_int_equal(ofd_report_exit_code(r), 1);
    /* PageRef 1021 is the second page */
    s = json_array_get(json_object_get(s, "stamps"), 0);
    assert_int_equal(json_integer_value(json_object_get(s, "page_index")), 1);
    json_decref(r);
}

static void test_vector_keyword_edited(void **state)
{
    json_t *r = verify_vector("keyword-edited.ofd");
    const json_t *s1 = sig_at(r, 0), *s3 = sig_at(r, 1);

    (void)state;
    assert_string_equal(jstr(s1, "id"), "2");
    assert_string_equal(seschk(s1, "signature"), "passed");
    assert_string_equal(seschk(s1, "seal_signature"), "passed");
    assert_string_equal(seschk(s1, "data_hash"), "passed");
    assert_string_equal(chk(s1, "references"), "failed");
    assert_int_equal(json_array_size(json_object_get(s1, "failed_references")),
                     3);
    assert_string_equal(jstr(s1, "indication"), "TOTAL_FAILED");
    assert_string_equal(jstr(s3, "type"), "Sign");
    assert_string_equal(jstr(s3, "signed_value_kind"), "gbt35275_signed_data");
    /* attached content SM3(Signature.xml), raw r||s, signed by tongz */
    s3 = json_object_get(s3, "signed_data");
    assert_string_equal(chk(s3, "data_hash"), "passed");
    assert_string_equal(chk(s3, "signature"), "passed");
    assert_string_equal(chk(s3, "signer_certificate_validity"), "passed");
    assert_string_equal(chk(s3, "certificate_chain"), "indeterminate");
    assert_string_equal(jstr(s3, "validation_time_source"),
                        "claimed_signing_time");
    assert_string_equal(jstr(r, "indication"), "TOTAL_FAILED");
    assert_int_equal(ofd_report_exit_code(r), 1);
    json_decref(r);
}

/* Sealing the vectors (read into memory at test time): the vendors'
 * signatures keep their outcome, the new one is valid; a file with a
 * signature protecting Signatures.xml is refused. */
static void test_seal_vectors(void **state)
{
    static const char *names[] = {"v4signed.ofd", "signedFile.ofd",
                                  "keyword-edited.ofd", "v1-dms360.ofd",
                                  "DigitalSign.ofd", "allprotected.ofd"};
    struct signer s;
    struct ofd_stamp_pos pos = {0};
    size_t i, k;

    (void)state;
    signer_init(&s);
    pos.mode = OFD_STAMP_PAGE;
    pos.x = 10;
    pos.y = 10;
    pos.width = 20;
    pos.height = 20;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[1024];
        struct blob in, out = {NULL, 0};
        struct ofd_seal_params p;
        struct err e;
        json_t *before, *after;
        size_t n;
        err_code rc;

        snprintf(path, sizeof(path), "%s/ofd/%s", vectors(), names[i]);
        if (util_read_file(path, OFD_MAX_PACKAGE, &in.p, &in.len, &e) !=
            ERR_OK)
            fail_msg("%s: %s", path, e.msg);
        memset(&p, 0, sizeof(p));
        p.seal.p = s.seal;
        p.seal.len = s.seal_len;
        p.pos = pos;
        p.sign = sign_cb;
        p.sign_ctx = &s;
        rc = ofd_seal(in.p, in.len, &p, &out.p, &out.len, NULL, &e);
        if (strcmp(names[i], "allprotected.ofd") == 0 ||
            strcmp(names[i], "keyword-edited.ofd") == 0) {
            /* a signature there protects Signatures.xml (Sign_3 of
               keyword-edited too): locked */
            assert_int_equal(rc, ERR_CONFLICT);
            free(in.p);
            continue;
        }
        if (rc != ERR_OK)
            fail_msg("seal %s: %s", names[i], e.msg);
        before = verify_blob(&in, s.trust);
        after = verify_blob(&out, s.trust);
        n = json_array_size(json_object_get(before, "signatures"));
        assert_int_equal(json_array_size(json_object_get(after, "signatures")),
                         n + 1);
        for (k = 0; k < n; k++) {
            assert_string_equal(chk(sig_at(before, k), "references"),
                                chk(sig_at(after, k), "references"));
            assert_string_equal(jstr(sig_at(before, k), "indication"),
                                jstr(sig_at(after, k), "indication"));
        }
        assert_string_equal(jstr(sig_at(after, n), "indication"),
                            "TOTAL_PASSED");
        json_decref(before);
        json_decref(after);
        free(in.p);
        free(out.p);
    }
    signer_free(&s);
}

/* ---- sealing ------------------------------------------------------------- */

static void check_preserved(const struct blob *before, const struct blob *after,
                            const char *except)
{
    static const char *names[] = {
        "OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml",
        "Doc_0/Pages/Page_0/Content.xml", "Doc_0/Pages/Page_1/Content.xml",
        "Doc_0/Pages/Page_2/Content.xml", "Doc_0/Res/image.png",
        "Doc_0/Signs/Sign_0/Signature.xml", "Doc_0/Signs/Sign_0/Seal.esl",
        "Doc_0/Signs/Sign_0/SignedValue.dat"};
    size_t i, la, lb;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        uint8_t *a, *b;

        if (except && strstr(except, names[i]))
            continue;
        a = zip_get(before, names[i], 1, &la);
        if (a == NULL)
            continue;
        b = zip_get(after, names[i], 1, &lb);
        assert_non_null(b);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);  /* compressed bytes copied as-is */
        free(a);
        free(b);
    }
}

static void test_seal_page_and_reseal(void **state)
{
    struct signer s;
    struct blob in = make_ofd(3), one, two;
    struct ofd_stamp_pos pos = {0};
    struct ofd_seal_info info;
    json_t *r;
    char *xml, v[128];
    size_t len;
    const char *out = getenv("SEALD_OFD_OUT");

    (void)state;
    signer_init(&s);
    pos.mode = OFD_STAMP_PAGE;
    pos.page = 2;
    pos.x = 50;
    pos.y = 60.5;
    one = seal_blob(&in, &s, &pos, OFD_PROTECT_CONTENT, &info);
    assert_string_equal(info.signature_path, "/Doc_0/Signs/Sign_0/Signature.xml");
    assert_int_equal(info.n_stamps, 1);
    /* 7 files + the new Seal.esl, no Signatures.xml */
    assert_int_equal(info.n_references, 8);
    check_preserved(&in, &one, "OFD.xml");
    xml = (char *)zip_get(&one, "Doc_0/Signs/Sign_0/Signature.xml", 0, &len);
    assert_non_null(xml);
    assert_true(xml_attr(xml, "<ofd:StampAnnot", 0, "PageRef", v, sizeof(v)));
    assert_string_equal(v, "12");
    assert_true(xml_attr(xml, "<ofd:StampAnnot", 0, "Boundary", v, sizeof(v)));
    assert_string_equal(v, "50 60.5 40 40");
    assert_null(strstr(xml, "Signatures.xml"));
    assert_non_null(strstr(xml, "<ofd:SignatureMethod>1.2.156.10197.1.501<"));
    free(xml);
    r = verify_blob(&one, s.trust);
    assert_string_equal(jstr(r, "indication"), "TOTAL_PASSED");
    assert_string_equal(jstr(r, "summary"), "all valid");
    assert_string_equal(chk(sig_at(r, 0), "seal_file"), "passed");
    json_decref(r);
    /* second seal keeps the first valid */
    pos.page = 0;
    two = seal_blob(&one, &s, &pos, OFD_PROTECT_CONTENT, &info);
    assert_string_equal(info.signature_path, "/Doc_0/Signs/Sign_1/Signature.xml");
    check_preserved(&one, &two, "Doc_0/Signs/Signatures.xml");
    r = verify_blob(&two, s.trust);
    assert_int_equal(json_array_size(json_object_get(r, "signatures")), 2);
    assert_string_equal(jstr(sig_at(r, 0), "indication"), "TOTAL_PASSED");
    assert_string_equal(jstr(sig_at(r, 1), "indication"), "TOTAL_PASSED");
    assert_string_equal(jstr(sig_at(r, 1), "id"), "s002");
    assert_string_equal(jstr(r, "indication"), "TOTAL_PASSED");
    json_decref(r);
    if (out != NULL) {
        BIO *b = BIO_new(BIO_s_mem());
        char *pem;
        long pl;

        write_out(out, "plain.ofd", in.p, in.len);
        write_out(out, "sealed.ofd", one.p, one.len);
        write_out(out, "sealed2.ofd", two.p, two.len);
        PEM_write_bio_X509(b, s.cert);
        pl = BIO_get_mem_data(b, &pem);
        write_out(out, "cert.pem", pem, (size_t)pl);
        BIO_free(b);
        b = BIO_new(BIO_s_mem());
        PEM_write_bio_PUBKEY(b, s.key);
        pl = BIO_get_mem_data(b, &pem);
        write_out(out, "pub.pem", pem, (size_t)pl);
        BIO_free(b);
    }
    if (getenv("SEALD_OFD_CORPUS") != NULL) {
        const char *c = getenv("SEALD_OFD_CORPUS");
        char *sx = (char *)zip_get(&one, "Doc_0/Signs/Sign_0/Signature.xml", 0,
                                   &len);
        char *seed = malloc(len + 1);

        write_out(c, "plain.ofd", in.p, in.len);
        write_out(c, "sealed.ofd", one.p, one.len);
        seed[0] = 'X';  /* fuzz_ofd: the rest is a Signature.xml */
        memcpy(seed + 1, sx, len);
        write_out(c, "signature-xml.bin", seed, len + 1);
        free(seed);
        free(sx);
    }
    free(in.p);
    free(one.p);
    free(two.p);
    signer_free(&s);
}

static void test_seal_keyword(void **state)
{
    struct signer s;
    struct blob in = make_ofd(3), out;
    struct ofd_stamp_pos pos = {0};
    struct ofd_seal_info info;
    struct ofd_seal_params p;
    char *xml, v[128];
    size_t len;
    json_t *r;
    struct err e;
    uint8_t *o2 = NULL;
    size_t o2len;

    (void)state;
    signer_init(&s);
    pos.mode = OFD_STAMP_KEYWORD;
    pos.page = OFD_PAGE_ANY;
    pos.keyword = "盖章";
    pos.width = 30;
    pos.height = 30;
    out = seal_blob(&in, &s, &pos, OFD_PROTECT_CONTENT, &info);
    xml = (char *)zip_get(&out, "Doc_0/Signs/Sign_0/Signature.xml", 0, &len);
    assert_true(xml_attr(xml, "<ofd:StampAnnot", 0, "PageRef", v, sizeof(v)));
    assert_string_equal(v, "11"); /* page 1 holds the keyword */
    /* "盖章" is glyphs 3..4 at x = 30 + 3*5 = 45, 10 mm wide: centre 50;
       the TextObject spans y 200..208: centre 204 */
    assert_true(xml_attr(xml, "<ofd:StampAnnot", 0, "Boundary", v, sizeof(v)));
    assert_string_equal(v, "35 189 30 30");
    free(xml);
    r = verify_blob(&out, s.trust);
    assert_string_equal(jstr(r, "indication"), "TOTAL_PASSED");
    json_decref(r);
    /* keyword not present: refused */
    memset(&p, 0, sizeof(p));
    p.seal.p = s.seal;
    p.seal.len = s.seal_len;
    p.pos = pos;
    p.pos.keyword = "不存在的词";
    p.sign = sign_cb;
    p.sign_ctx = &s;
    assert_int_equal(ofd_seal(in.p, in.len, &p, &o2, &o2len, NULL, &e),
                     ERR_INVALID);
    /* page out of range */
    p.pos.mode = OFD_STAMP_PAGE;
    p.pos.page = 3;
    assert_int_equal(ofd_seal(in.p, in.len, &p, &o2, &o2len, NULL, &e),
                     ERR_INVALID);
    /* outside the page */
    p.pos.page = 0;
    p.pos.x = 190;
    assert_int_equal(ofd_seal(in.p, in.len, &p, &o2, &o2len, NULL, &e),
                     ERR_INVALID);
    assert_null(o2);
    free(in.p);
    free(out.p);
    signer_free(&s);
}

static void test_seal_cross_page(void **state)
{
    struct signer s;
    struct blob in = make_ofd(3), out;
    struct ofd_stamp_pos pos = {0};
    struct ofd_seal_info info;
    char *xml, v[128], want[64];
    size_t len, i;
    json_t *r;
    const json_t *st;

    (void)state;
    signer_init(&s);
    pos.mode = OFD_STAMP_CROSS_PAGE;
    pos.y = 100;
    pos.width = 42;
    pos.height = 42;
    out = seal_blob(&in, &s, &pos, OFD_PROTECT_CONTENT, &info);
    assert_int_equal(info.n_stamps, 3);
    xml = (char *)zip_get(&out, "Doc_0/Signs/Sign_0/Signature.xml", 0, &len);
    for (i = 0; i < 3; i++) {
        assert_true(xml_attr(xml, "<ofd:StampAnnot", i, "PageRef", v,
                             sizeof(v)));
        snprintf(want, sizeof(want), "%zu", 10 + i);
        assert_string_equal(v, want);
        /* slice i of 3 (14 mm) shown at the right edge of each page */
        assert_true(xml_attr(xml, "<ofd:StampAnnot", i, "Boundary", v,
                             sizeof(v)));
        snprintf(want, sizeof(want), "%g 100 42 42", 210.0 - 14.0 * (i + 1));
        assert_string_equal(v, want);
        assert_true(xml_attr(xml, "<ofd:StampAnnot", i, "Clip", v, sizeof(v)));
        snprintf(want, sizeof(want), "%g 0 14 42", 14.0 * i);
        assert_string_equal(v, want);
    }
    assert_false(xml_attr(xml, "<ofd:StampAnnot", 3, "PageRef", v, sizeof(v)));
    free(xml);
    r = verify_blob(&out, s.trust);
    assert_string_equal(jstr(r, "indication"), "TOTAL_PASSED");
    st = json_array_get(json_object_get(sig_at(r, 0), "stamps"), 2);
    assert_int_equal(json_integer_value(json_object_get(st, "page_index")), 2);
    assert_non_null(json_object_get(st, "clip_mm"));
    json_decref(r);
    free(in.p);
    free(out.p);
    signer_free(&s);
}

static void test_protect_all(void **state)
{
    struct signer s;
    struct blob in = make_ofd(1), out;
    struct ofd_stamp_pos pos = {0};
    struct ofd_seal_info info;
    struct ofd_seal_params p;
    char *xml;
    size_t len;
    json_t *r;
    struct err e;
    uint8_t *o2 = NULL;
    size_t o2len;

    (void)state;
    signer_init(&s);
    pos.mode = OFD_STAMP_PAGE;
    pos.x = 10;
    pos.y = 10;
    out = seal_blob(&in, &s, &pos, OFD_PROTECT_ALL, &info);
    xml = (char *)zip_get(&out, "Doc_0/Signs/Sign_0/Signature.xml", 0, &len);
    assert_non_null(strstr(xml, "FileRef=\"/Doc_0/Signs/Signatures.xml\""));
    free(xml);
    r = verify_blob(&out, s.trust);
    assert_string_equal(jstr(r, "indication"), "TOTAL_PASSED");
    json_decref(r);
    memset(&p, 0, sizeof(p));
    p.seal.p = s.seal;
    p.seal.len = s.seal_len;
    p.pos = pos;
    p.sign = sign_cb;
    p.sign_ctx = &s;
    assert_int_equal(ofd_seal(out.p, out.len, &p, &o2, &o2len, NULL, &e),
                     ERR_CONFLICT);
    free(in.p);
    free(out.p);
    signer_free(&s);
}

/* Tampering after sealing: a changed page and a removed file. */
static void test_tamper(void **state)
{
    struct signer s;
    struct blob in = make_ofd(2), out, bad;
    struct ofd_stamp_pos pos = {0};
    struct zpart parts[16];
    static const char *names[] = {
        "OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml",
        "Doc_0/Pages/Page_0/Content.xml", "Doc_0/Pages/Page_1/Content.xml",
        "Doc_0/Res/image.png", "Doc_0/Signs/Signatures.xml",
        "Doc_0/Signs/Sign_0/Signature.xml", "Doc_0/Signs/Sign_0/Seal.esl",
        "Doc_0/Signs/Sign_0/SignedValue.dat"};
    uint8_t *data[10];
    size_t lens[10], i, n;
    json_t *r;
    const json_t *sig, *it;

    (void)state;
    signer_init(&s);
    pos.mode = OFD_STAMP_PAGE;
    pos.x = 10;
    pos.y = 10;
    out = seal_blob(&in, &s, &pos, OFD_PROTECT_CONTENT, NULL);
    for (i = 0; i < 10; i++) {
        data[i] = zip_get(&out, names[i], 0, &lens[i]);
        assert_non_null(data[i]);
    }
    /* 1: edit page 1 */
    for (i = 0, n = 0; i < 10; i++)
        parts[n++] = (struct zpart){names[i], data[i], lens[i], 0};
    data[4][lens[4] - 20] ^= 1;
    bad = zip_build(parts, n);
    r = verify_blob(&bad, s.trust);
    sig = sig_at(r, 0);
    assert_string_equal(chk(sig, "references"), "failed");
    assert_string_equal(jstr(sig, "sub_indication"), "HASH_FAILURE");
    assert_string_equal(json_string_value(json_array_get(json_object_get(sig,
                        "failed_references"), 0)),
                        "/Doc_0/Pages/Page_1/Content.xml");
    assert_string_equal(seschk(sig, "signature"), "passed");
    assert_int_equal(ofd_report_exit_code(r), 1);
    json_decref(r);
    free(bad.p);
    data[4][lens[4] - 20] ^= 1;
    /* 2: the image removed: reported missing, no crash */
    for (i = 0, n = 0; i < 10; i++)
        if (i != 5)
            parts[n++] = (struct zpart){names[i], data[i], lens[i], 0};
    bad = zip_build(parts, n);
    r = verify_blob(&bad, s.trust);
    sig = sig_at(r, 0);
    assert_string_equal(chk(sig, "references"), "failed");
    for (i = 0; i < json_array_size(json_object_get(sig, "references")); i++) {
        it = json_array_get(json_object_get(sig, "references"), i);
        if (!strcmp(jstr(it, "file"), "/Doc_0/Res/image.png"))
            assert_string_equal(jstr(it, "reason"),
                                "file missing from the package");
    }
    json_decref(r);
    free(bad.p);
    /* 3: SignedValue.dat removed */
    for (i = 0, n = 0; i < 10; i++)
        if (i != 9)
            parts[n++] = (struct zpart){names[i], data[i], lens[i], 0};
    bad = zip_build(parts, n);
    r = verify_blob(&bad, s.trust);
    assert_string_equal(jstr(sig_at(r, 0), "sub_indication"), "FORMAT_FAILURE");
    assert_int_equal(ofd_report_exit_code(r), 1);
    json_decref(r);
    free(bad.p);
    /* 4: Signature.xml removed */
    for (i = 0, n = 0; i < 10; i++)
        if (i != 7)
            parts[n++] = (struct zpart){names[i], data[i], lens[i], 0};
    bad = zip_build(parts, n);
    r = verify_blob(&bad, s.trust);
    assert_string_equal(jstr(sig_at(r, 0), "indication"), "TOTAL_FAILED");
    json_decref(r);
    free(bad.p);
    /* 5: an entity bomb as Signature.xml: that signature fails, no crash */
    for (i = 0, n = 0; i < 10; i++)
        parts[n++] = (struct zpart){names[i], data[i], lens[i], 0};
    parts[7].data = "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY b \"c\">]>"
                    "<a>&b;</a>";
    parts[7].len = strlen(parts[7].data);
    bad = zip_build(parts, n);
    r = verify_blob(&bad, s.trust);
    assert_string_equal(jstr(sig_at(r, 0), "sub_indication"), "FORMAT_FAILURE");
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(
        json_object_get(sig_at(r, 0), "checks"), "structure"), "reason")),
        "DTD"));
    json_decref(r);
    free(bad.p);
    for (i = 0; i < 10; i++)
        free(data[i]);
    free(in.p);
    free(out.p);
    signer_free(&s);
}

/* A package signed by hand: relative SignedValue, CheckMethod "SM3", an
 * ofdrw-style date, relative Signatures path in OFD.xml. */
static void test_relative_paths(void **state)
{
    struct signer s;
    struct blob in = make_ofd(1), out;
    static const char *names[] = {
        "Doc_0/Document.xml", "Doc_0/PublicRes.xml",
        "Doc_0/Pages/Page_0/Content.xml", "Doc_0/Res/image.png"};
    static const char ofd_xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ofd:OFD xmlns:ofd=\"http://www.ofdspec.org\" Version=\"1.0\" "
        "DocType=\"OFD\"><ofd:DocBody><ofd:DocRoot>/Doc_0/Document.xml"
        "</ofd:DocRoot><ofd:Signatures>Doc_0/Signs/Signatures.xml"
        "</ofd:Signatures></ofd:DocBody></ofd:OFD>\n";
    static const char sigs_xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Signatures "
        "xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:MaxSignId>7"
        "</ofd:MaxSignId><ofd:Signature ID=\"7\" BaseLoc=\"Sign_0/"
        "Signature.xml\"/></ofd:Signatures>\n";
    struct zpart parts[10];
    uint8_t *data[4], h[32], *ses = NULL;
    size_t lens[4], i, n = 0, seslen;
    char sig_xml[4096], *b64;
    size_t off;
    struct err e;
    json_t *r;
    const json_t *sig;

    (void)state;
    signer_init(&s);
    off = (size_t)snprintf(sig_xml, sizeof(sig_xml),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Signature "
        "xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:SignedInfo>"
        "<ofd:Provider><ofd:ProviderName>hand</ofd:ProviderName>"
        "</ofd:Provider><ofd:SignatureMethod>1.2.156.10197.1.501"
        "</ofd:SignatureMethod><ofd:SignatureDateTime>2020-04-22 16:22:44"
        "</ofd:SignatureDateTime><ofd:References CheckMethod=\"SM3\">");
    for (i = 0; i < 4; i++) {
        data[i] = zip_get(&in, names[i], 0, &lens[i]);
        assert_int_equal(sm2_sm3(data[i], lens[i], h, &e), ERR_OK);
        assert_int_equal(util_b64_encode(h, 32, &b64, &e), ERR_OK);
        /* relative FileRef from Sign_0/: ../../Pages/... */
        off += (size_t)snprintf(sig_xml + off, sizeof(sig_xml) - off,
            "<ofd:Reference FileRef=\"%s%s\"><ofd:CheckValue>%s"
            "</ofd:CheckValue></ofd:Reference>", i % 2 ? "/" : "../../../",
            names[i], b64);
        free(b64);
    }
    snprintf(sig_xml + off, sizeof(sig_xml) - off,
             "</ofd:References><ofd:StampAnnot ID=\"1\" PageRef=\"10\" "
             "Boundary=\"1 2 3 4\"/></ofd:SignedInfo><ofd:SignedValue>"
             "SignedValue.dat</ofd:SignedValue></ofd:Signature>\n");
    assert_int_equal(sm2_sm3(sig_xml, strlen(sig_xml), h, &e), ERR_OK);
    assert_int_equal(sign_cb(&s, h, "/Doc_0/Signs/Sign_0/Signature.xml", &ses,
                             &seslen, &e), ERR_OK);
    parts[n++] = (struct zpart){"OFD.xml", ofd_xml, strlen(ofd_xml), 0};
    for (i = 0; i < 4; i++)
        parts[n++] = (struct zpart){names[i], data[i], lens[i], 0};
    parts[n++] = (struct zpart){"Doc_0/Signs/Signatures.xml", sigs_xml,
                                strlen(sigs_xml), 0};
    parts[n++] = (struct zpart){"Doc_0/Signs/Sign_0/Signature.xml", sig_xml,
                                strlen(sig_xml), 0};
    parts[n++] = (struct zpart){"Doc_0/Signs/Sign_0/SignedValue.dat", ses,
                                seslen, 0};
    out = zip_build(parts, n);
    r = verify_blob(&out, s.trust);
    sig = sig_at(r, 0);
    assert_string_equal(chk(sig, "references"), "passed");
    assert_string_equal(seschk(sig, "data_hash"), "passed");
    assert_string_equal(jstr(sig, "signature_time"), "2020-04-22T16:22:44");
    assert_string_equal(jstr(r, "indication"), "TOTAL_PASSED");
    assert_string_equal(chk(sig, "seal_file"), "not_checked");
    json_decref(r);
    for (i = 0; i < 4; i++)
        free(data[i]);
    free(ses);
    free(in.p);
    free(out.p);
    signer_free(&s);
}

/* A package with one Type="Sign" signature (no seal) whose SignedValue is
 * sv, or, when sv is NULL, a detached GB/T 35275 SignedData with signed
 * attributes made here over the Signature.xml written (*sv_out gets it,
 * malloc'ed).  The References hold the SM3 of the files as they are now,
 * so editing a page and calling this again with the old SignedValue is a
 * page changed after signing whose CheckValues were rewritten. */
static struct blob sign_type_ofd(struct signer *s, const char *page_edit,
                                 const uint8_t *sv, size_t sv_len,
                                 uint8_t **sv_out, size_t *sv_out_len)
{
    struct blob in = make_ofd(2), out;
    static const char *names[] = {
        "Doc_0/Document.xml", "Doc_0/PublicRes.xml",
        "Doc_0/Pages/Page_0/Content.xml", "Doc_0/Pages/Page_1/Content.xml",
        "Doc_0/Res/image.png"};
    static const char ofd_xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\" Version=\"1.0\" "
        "DocType=\"OFD\"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml"
        "</ofd:DocRoot><ofd:Signatures>Doc_0/Signs/Signatures.xml"
        "</ofd:Signatures></ofd:DocBody></ofd:OFD>\n";
    static const char sigs_xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Signatures "
        "xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:MaxSignId>1"
        "</ofd:MaxSignId><ofd:Signature ID=\"1\" Type=\"Sign\" BaseLoc=\""
        "/Doc_0/Signs/Sign_0/Signature.xml\"/></ofd:Signatures>\n";
    static char sig_xml[4096];
    struct zpart parts[12];
    uint8_t *data[5], h[32];
    size_t lens[5], i, n = 0, off;
    char *b64;
    struct err e;

    off = (size_t)snprintf(sig_xml, sizeof(sig_xml),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Signature "
        "xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:SignedInfo>"
        "<ofd:Provider ProviderName=\"sd-test\" Company=\"seald\"/>"
        "<ofd:SignatureMethod>1.2.156.10197.1.501</ofd:SignatureMethod>"
        "<ofd:SignatureDateTime>20240102030405Z</ofd:SignatureDateTime>"
        "<ofd:References CheckMethod=\"1.2.156.10197.1.401\">");
    assert_int_equal(sm2_sm3(ofd_xml, strlen(ofd_xml), h, &e), ERR_OK);
    assert_int_equal(util_b64_encode(h, 32, &b64, &e), ERR_OK);
    off += (size_t)snprintf(sig_xml + off, sizeof(sig_xml) - off,
        "<ofd:Reference FileRef=\"/OFD.xml\"><ofd:CheckValue>%s"
        "</ofd:CheckValue></ofd:Reference>", b64);
    free(b64);
    for (i = 0; i < 5; i++) {
        data[i] = zip_get(&in, names[i], 0, &lens[i]);
        assert_non_null(data[i]);
        if (i == 3 && page_edit != NULL) {
            char *hit = strstr((char *)data[i], "body text");

            assert_non_null(hit);
            memcpy(hit, page_edit, strlen("body text"));
        }
        assert_int_equal(sm2_sm3(data[i], lens[i], h, &e), ERR_OK);
        assert_int_equal(util_b64_encode(h, 32, &b64, &e), ERR_OK);
        off += (size_t)snprintf(sig_xml + off, sizeof(sig_xml) - off,
            "<ofd:Reference FileRef=\"/%s\"><ofd:CheckValue>%s"
            "</ofd:CheckValue></ofd:Reference>", names[i], b64);
        free(b64);
    }
    snprintf(sig_xml + off, sizeof(sig_xml) - off,
             "</ofd:References></ofd:SignedInfo><ofd:SignedValue>"
             "/Doc_0/Signs/Sign_0/SignedValue.dat</ofd:SignedValue>"
             "</ofd:Signature>\n");
    if (sv == NULL) {
        *sv_out = sd_t_build(s->key, s->cert, (const uint8_t *)sig_xml,
                             strlen(sig_xml), SD_T_ATTRS, time(NULL) - 60,
                             sv_out_len);
        sv = *sv_out;
        sv_len = *sv_out_len;
    }
    parts[n++] = (struct zpart){"OFD.xml", ofd_xml, strlen(ofd_xml), 0};
    for (i = 0; i < 5; i++)
        parts[n++] = (struct zpart){names[i], data[i], lens[i], 0};
    parts[n++] = (struct zpart){"Doc_0/Signs/Signatures.xml", sigs_xml,
                                strlen(sigs_xml), 0};
    parts[n++] = (struct zpart){"Doc_0/Signs/Sign_0/Signature.xml", sig_xml,
                                strlen(sig_xml), 0};
    parts[n++] = (struct zpart){"Doc_0/Signs/Sign_0/SignedValue.dat", sv,
                                sv_len, 0};
    out = zip_build(parts, n);
    for (i = 0; i < 5; i++)
        free(data[i]);
    free(in.p);
    return out;
}

static const char *sdchk(const json_t *sig, const char *name)
{
    return chk(json_object_get(sig, "signed_data"), name);
}

/* Issue 14 item 12: a page changed after signing, its CheckValue rewritten
 * and the SignedData left as it was, no longer passes: messageDigest is
 * SM3 of the original Signature.xml. */
static void test_signed_data_binding(void **state)
{
    struct signer s;
    struct blob good, bad;
    uint8_t *sv = NULL;
    size_t sv_len = 0;
    json_t *r;
    const json_t *sig;

    (void)state;
    signer_init(&s);
    good = sign_type_ofd(&s, NULL, NULL, 0, &sv, &sv_len);
    /* the page edited, the CheckValues rewritten, SignedValue untouched */
    bad = sign_type_ofd(&s, "EVIL TEXT", sv, sv_len, NULL, NULL);
    r = verify_blob(&bad, s.trust);
    sig = sig_at(r, 0);
    assert_string_equal(chk(sig, "references"), "passed");
    assert_string_equal(jstr(sig, "indication"), "TOTAL_FAILED");
    assert_string_equal(jstr(sig, "sub_indication"), "HASH_FAILURE");
    assert_string_equal(jstr(r, "indication"), "TOTAL_FAILED");
    assert_int_equal(ofd_report_exit_code(r), 1);
    assert_string_equal(sdchk(sig, "signature"), "passed");
    assert_string_equal(sdchk(sig, "data_hash"), "failed");
    json_decref(r);
    free(bad.p);
    /* the genuine one, its signer trusted */
    r = verify_blob(&good, s.trust);
    sig = sig_at(r, 0);
    assert_string_equal(jstr(sig, "signed_value_kind"), "gbt35275_signed_data");
    assert_string_equal(chk(sig, "references"), "passed");
    assert_string_equal(jstr(sig, "indication"), "TOTAL_PASSED");
    assert_string_equal(jstr(r, "indication"), "TOTAL_PASSED");
    assert_string_equal(sdchk(sig, "signature"), "passed");
    assert_string_equal(sdchk(sig, "data_hash"), "passed");
    assert_string_equal(sdchk(sig, "certificate_chain"), "passed");
    assert_string_equal(jstr(json_object_get(sig, "signed_data"),
                             "validation_time_source"),
                        "signing_time_attribute");
    json_decref(r);
    /* untrusted signer: indeterminate, not passed */
    r = verify_blob(&good, NULL);
    assert_string_equal(jstr(sig_at(r, 0), "indication"), "INDETERMINATE");
    assert_string_equal(jstr(sig_at(r, 0), "sub_indication"),
                        "NO_CERTIFICATE_CHAIN_FOUND");
    json_decref(r);
    free(good.p);
    free(sv);
    signer_free(&s);
}

static void test_datetime(void **state)
{
    time_t t;
    int z;

    (void)state;
    assert_int_equal(ofd_parse_datetime("2020-04-22 16:22:44", &t, &z, NULL),
                     ERR_OK);
    assert_int_equal(t, 1587572564);
    assert_false(z);
    assert_int_equal(ofd_parse_datetime("20200620091849Z", &t, &z, NULL),
                     ERR_OK);
    assert_int_equal(t, 1592644729);
    assert_true(z);
    assert_int_equal(ofd_parse_datetime("20201004072855.302Z", &t, &z, NULL),
                     ERR_OK);
    assert_int_equal(t, 1601796535);
    assert_int_equal(ofd_parse_datetime("20201010151120", &t, &z, NULL), ERR_OK);
    assert_int_equal(ofd_parse_datetime("2020-10-10T15:11:20+08:00", &t, &z,
                                        NULL), ERR_OK);
    assert_int_equal(t, 1602313880);
    assert_true(z);
    assert_int_equal(ofd_parse_datetime("yesterday", &t, &z, NULL),
                     ERR_INVALID);
    assert_int_equal(ofd_parse_datetime("2020-13-01 00:00:00", &t, &z, NULL),
                     ERR_INVALID);
}

/* ---- hostile packages ---------------------------------------------------- */

static err_code verify_parts(const struct zpart *parts, size_t n,
                             struct err *e)
{
    struct blob b = zip_build(parts, n);
    json_t *r = NULL;
    err_code rc = ofd_verify(b.p, b.len, NULL, &r, e);

    json_decref(r);
    free(b.p);
    return rc;
}

static void test_hostile(void **state)
{
    static const char bomb_xml[] =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
        "<ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:DocBody>"
        "<ofd:DocRoot>&lol3;</ofd:DocRoot></ofd:DocBody></ofd:OFD>";
    struct zpart parts[4];
    uint8_t *zeros;
    char *deep;
    size_t i, off = 0;
    struct err e;
    json_t *r = NULL;

    (void)state;
    /* zip bomb: 8 MiB of zeros deflates to a few KiB */
    zeros = calloc(1, 8u << 20);
    parts[0] = (struct zpart){"OFD.xml", OFD_XML_PLAIN, strlen(OFD_XML_PLAIN),
                              0};
    parts[1] = (struct zpart){"Doc_0/bomb.bin", zeros, 8u << 20, 0};
    assert_int_equal(verify_parts(parts, 2, &e), ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "zip bomb"));
    free(zeros);
    /* traversal names */
    parts[1] = (struct zpart){"../../etc/evil", "x", 1, 0};
    assert_int_equal(verify_parts(parts, 2, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "unsafe"));
    parts[1] = (struct zpart){"/abs/evil", "x", 1, 0};
    assert_int_equal(verify_parts(parts, 2, &e), ERR_MALFORMED);
    parts[1] = (struct zpart){"Doc_0/../../evil", "x", 1, 0};
    assert_int_equal(verify_parts(parts, 2, &e), ERR_MALFORMED);
    /* XML entity bomb */
    parts[0] = (struct zpart){"OFD.xml", bomb_xml, strlen(bomb_xml), 0};
    assert_int_equal(verify_parts(parts, 1, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "DTD"));
    /* deep nesting */
    deep = malloc(20000);
    off += (size_t)sprintf(deep, "<ofd:OFD xmlns:ofd=\"x\">");
    for (i = 0; i < 200; i++)
        off += (size_t)sprintf(deep + off, "<a>");
    for (i = 0; i < 200; i++)
        off += (size_t)sprintf(deep + off, "</a>");
    off += (size_t)sprintf(deep + off, "</ofd:OFD>");
    parts[0] = (struct zpart){"OFD.xml", deep, off, 0};
    assert_int_equal(verify_parts(parts, 1, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "deeper"));
    free(deep);
    /* missing parts */
    parts[0] = (struct zpart){"Doc_0/Document.xml", "<a/>", 4, 0};
    assert_int_equal(verify_parts(parts, 1, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "OFD.xml"));
    parts[0] = (struct zpart){"OFD.xml", OFD_XML_PLAIN, strlen(OFD_XML_PLAIN),
                              0};
    assert_int_equal(verify_parts(parts, 1, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "Document.xml"));
    /* UTF-16 (would hide a DTD from the byte scan) */
    parts[0] = (struct zpart){"OFD.xml", "<\0?\0x\0m\0l\0", 10, 0};
    assert_int_equal(verify_parts(parts, 1, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "ASCII-compatible"));
    /* broken XML */
    parts[0] = (struct zpart){"OFD.xml", "<ofd:OFD><unclosed>", 19, 0};
    assert_int_equal(verify_parts(parts, 1, &e), ERR_MALFORMED);
    /* not a zip, empty, truncated */
    assert_int_equal(ofd_verify((const uint8_t *)"PK\3\4garbagegarbagegarbage",
                                25, NULL, &r, &e), ERR_MALFORMED);
    assert_null(r);
    {
        struct blob b = make_ofd(2);

        for (i = 1; i < b.len; i += b.len / 7) {
            assert_int_not_equal(ofd_verify(b.p, i, NULL, &r, &e), ERR_OK);
            assert_null(r);
        }
        r = ofd_report_refused(&e);
        assert_string_equal(jstr(r, "sub_indication"), "FORMAT_FAILURE");
        assert_int_equal(ofd_report_exit_code(r), 1);
        json_decref(r);
        r = NULL;
        /* an unsigned document: indeterminate, no signatures */
        assert_int_equal(ofd_verify(b.p, b.len, NULL, &r, &e), ERR_OK);
        assert_string_equal(jstr(r, "summary"), "no signatures");
        assert_int_equal(ofd_report_exit_code(r), 2);
        json_decref(r);
        free(b.p);
    }
}

/* ---- the inflation budget (issue 14 item 13) ----------------------------- */

#define BOMB_ENTRY (1u << 20)   /* 1 MiB: not over the ratio check's size */

/* A valid one-page OFD whose one signature references n entries of
 * entry_size zero bytes (all deflated: about 1 KiB each for 1 MiB), after
 * the Reference elements refs_xml (may be NULL). */
static struct blob bomb_ofd(size_t n, size_t entry_size, const char *refs_xml)
{
    struct blob base = make_ofd(1), out;
    static const char *names[] = {
        "Doc_0/Document.xml", "Doc_0/PublicRes.xml",
        "Doc_0/Pages/Page_0/Content.xml", "Doc_0/Res/image.png"};
    static const char ofd_xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\"><ofd:DocBody>"
        "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot><ofd:Signatures>"
        "Doc_0/Signs/Signatures.xml</ofd:Signatures></ofd:DocBody>"
        "</ofd:OFD>\n";
    static const char sigs_xml[] =
        "<?xml version=\"1.0\"?>\n<ofd:Signatures xmlns:ofd=\"http://www."
        "ofdspec.org/2016\"><ofd:Signature ID=\"1\" Type=\"Sign\" BaseLoc=\""
        "/Doc_0/Signs/Sign_0/Signature.xml\"/></ofd:Signatures>\n";
    struct zpart *parts = calloc(n + 8, sizeof(*parts));
    char (*bnames)[48] = calloc(n ? n : 1, sizeof(*bnames));
    uint8_t *zeros = calloc(1, entry_size > 64 ? entry_size : 64), *data[4];
    uint8_t h[32];
    size_t lens[4], i, k = 0, off = 0;
    size_t cap = 512 + n * 160 + (refs_xml ? strlen(refs_xml) : 0);
    char *sig = malloc(cap), *b64 = NULL;
    struct err e;

    assert_non_null(parts);
    assert_int_equal(sm2_sm3(zeros, entry_size, h, &e), ERR_OK);
    assert_int_equal(util_b64_encode(h, 32, &b64, &e), ERR_OK);
    off += (size_t)snprintf(sig + off, cap - off,
        "<?xml version=\"1.0\"?>\n<ofd:Signature xmlns:ofd=\"http://www."
        "ofdspec.org/2016\"><ofd:SignedInfo><ofd:References "
        "CheckMethod=\"SM3\">%s", refs_xml ? refs_xml : "");
    for (i = 0; i < n; i++) {
        snprintf(bnames[i], sizeof(bnames[i]), "Doc_0/Res/z%zu.bin", i);
        off += (size_t)snprintf(sig + off, cap - off,
            "<ofd:Reference FileRef=\"/%s\"><ofd:CheckValue>%s"
            "</ofd:CheckValue></ofd:Reference>", bnames[i], b64);
        parts[k++] = (struct zpart){bnames[i], zeros, entry_size, 0};
    }
    snprintf(sig + off, cap - off, "</ofd:References></ofd:SignedInfo>"
             "<ofd:SignedValue>SignedValue.dat</ofd:SignedValue>"
             "</ofd:Signature>\n");
    parts[k++] = (struct zpart){"OFD.xml", ofd_xml, strlen(ofd_xml), 0};
    for (i = 0; i < 4; i++) {
        data[i] = zip_get(&base, names[i], 0, &lens[i]);
        parts[k++] = (struct zpart){names[i], data[i], lens[i], 0};
    }
    parts[k++] = (struct zpart){"Doc_0/Signs/Signatures.xml", sigs_xml,
                                strlen(sigs_xml), 0};
    parts[k++] = (struct zpart){"Doc_0/Signs/Sign_0/Signature.xml", sig,
                                strlen(sig), 0};
    parts[k++] = (struct zpart){"Doc_0/Signs/Sign_0/SignedValue.dat",
                                zeros, 64, 0};
    out = zip_build(parts, k);
    for (i = 0; i < 4; i++)
        free(data[i]);
    free(b64);
    free(sig);
    free(zeros);
    free(bnames);
    free(parts);
    free(base.p);
    return out;
}

/* The package of the issue: 250 entries of 1 MiB, each under the ratio
 * check, 250 MiB in all from a few hundred KB: refused by the default
 * budget before anything is inflated, by verification and by sealing. */
static void test_inflation_budget(void **state)
{
    struct blob b = bomb_ofd(250, BOMB_ENTRY, NULL), ok;
    struct ofd_verify_opts o;
    struct ofd_stamp_pos pos = {0};
    struct ofd_seal_params sp;
    struct signer s;
    uint8_t *out = NULL;
    size_t out_len = 0;
    json_t *r = NULL;
    struct err e;

    (void)state;
    assert_true(b.len < 400u * 1024u);
    err_clear(&e);
    assert_int_equal(ofd_verify(b.p, b.len, NULL, &r, &e), ERR_TOO_LARGE);
    assert_null(r);
    assert_non_null(strstr(e.msg, "ofd.max_inflated_bytes"));
    memset(&o, 0, sizeof(o));
    assert_int_equal(ofd_verify(b.p, b.len, &o, &r, &e), ERR_TOO_LARGE);
    r = ofd_report_refused(&e);
    assert_string_equal(jstr(json_object_get(r, "error"), "code"),
                        "payload_too_large");
    json_decref(r);
    r = NULL;
    signer_init(&s);
    memset(&sp, 0, sizeof(sp));
    sp.seal.p = s.seal;
    sp.seal.len = s.seal_len;
    pos.mode = OFD_STAMP_PAGE;
    sp.pos = pos;
    sp.sign = sign_cb;
    sp.sign_ctx = &s;
    assert_int_equal(ofd_seal(b.p, b.len, &sp, &out, &out_len, NULL, &e),
                     ERR_TOO_LARGE);
    assert_null(out);
    free(b.p);
    /* a small one within the default budget still verifies and seals */
    ok = bomb_ofd(8, BOMB_ENTRY, NULL);
    assert_int_equal(ofd_verify(ok.p, ok.len, NULL, &r, &e), ERR_OK);
    assert_string_equal(chk(sig_at(r, 0), "references"), "passed");
    json_decref(r);
    assert_int_equal(ofd_seal(ok.p, ok.len, &sp, &out, &out_len, NULL, &e),
                     ERR_OK);
    free(out);
    /* ... but not under a budget smaller than its entries declare */
    sp.max_inflated = 4u * BOMB_ENTRY;
    assert_int_equal(ofd_seal(ok.p, ok.len, &sp, &out, &out_len, NULL, &e),
                     ERR_TOO_LARGE);
    o.max_inflated = 8u * BOMB_ENTRY;
    assert_int_equal(ofd_verify(ok.p, ok.len, &o, &r, &e), ERR_TOO_LARGE);
    o.max_inflated = 9u * BOMB_ENTRY;
    assert_int_equal(ofd_verify(ok.p, ok.len, &o, &r, &e), ERR_OK);
    json_decref(r);
    free(ok.p);
    signer_free(&s);
}

/* The budget is counted while inflating, not only from the headers: an
 * entry inflated twice (hashed as a reference, then read as a signature's
 * Signature.xml) counts twice, and reading stops once the total passes. */
static void test_inflation_running_total(void **state)
{
    static const char sigs_xml[] =
        "<?xml version=\"1.0\"?>\n<ofd:Signatures xmlns:ofd=\"http://www."
        "ofdspec.org/2016\"><ofd:Signature ID=\"1\" Type=\"Sign\" BaseLoc=\""
        "/Doc_0/Signs/Sign_0/Signature.xml\"/><ofd:Signature ID=\"2\" "
        "Type=\"Sign\" BaseLoc=\"/Doc_0/Signs/Sign_1/Signature.xml\"/>"
        "</ofd:Signatures>\n";
    struct blob b;
    struct zpart parts[12];
    struct ofd_verify_opts o;
    uint8_t *data[12], h[32];
    size_t lens[12], i, n = 0, big_len = 600u * 1024u;
    char *big = malloc(big_len + 1), ref[256], *b64;
    const char *names[12];
    json_t *r = NULL;
    struct err e;

    (void)state;
    /* Sign_1/Signature.xml: 600 KiB (a comment pads it), referenced by
     * Sign_0 before Sign_1 itself is verified */
    memset(big, ' ', big_len);
    memcpy(big, "<?xml version=\"1.0\"?>\n<!--", 26);
    memcpy(big + big_len - 200, "--><ofd:Signature xmlns:ofd=\"http://www."
           "ofdspec.org/2016\"><ofd:SignedInfo><ofd:References/>"
           "</ofd:SignedInfo><ofd:SignedValue>v.dat</ofd:SignedValue>"
           "</ofd:Signature>\n", 157);
    big_len = big_len - 200 + 157;
    assert_int_equal(sm2_sm3(big, big_len, h, &e), ERR_OK);
    assert_int_equal(util_b64_encode(h, 32, &b64, &e), ERR_OK);
    snprintf(ref, sizeof(ref), "<ofd:Reference FileRef=\"/Doc_0/Signs/"
             "Sign_1/Signature.xml\"><ofd:CheckValue>%s</ofd:CheckValue>"
             "</ofd:Reference>", b64);
    free(b64);
    b = bomb_ofd(0, 0, ref);
    for (i = 0; i < 10; i++) {
        static const char *all[] = {
            "OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml",
            "Doc_0/Pages/Page_0/Content.xml", "Doc_0/Res/image.png",
            "Doc_0/Signs/Sign_0/Signature.xml",
            "Doc_0/Signs/Sign_0/SignedValue.dat"};

        if (i >= sizeof(all) / sizeof(all[0]))
            break;
        names[n] = all[i];
        data[n] = zip_get(&b, all[i], 0, &lens[n]);
        assert_non_null(data[n]);
        parts[n] = (struct zpart){names[n], data[n], lens[n], 0};
        n++;
    }
    parts[n++] = (struct zpart){"Doc_0/Signs/Signatures.xml", sigs_xml,
                                strlen(sigs_xml), 0};
    parts[n++] = (struct zpart){"Doc_0/Signs/Sign_1/Signature.xml", big,
                                big_len, 0};
    free(b.p);
    b = zip_build(parts, n);
    memset(&o, 0, sizeof(o));
    /* what the headers declare fits, twice that entry does not */
    o.max_inflated = 1024u * 1024u;
    assert_int_equal(ofd_verify(b.p, b.len, &o, &r, &e), ERR_TOO_LARGE);
    assert_null(r);
    assert_non_null(strstr(e.msg, "inflates to more than 1048576"));
    /* with room for both it verifies (both signatures reported) */
    o.max_inflated = 2u * 1024u * 1024u;
    assert_int_equal(ofd_verify(b.p, b.len, &o, &r, &e), ERR_OK);
    assert_int_equal(json_array_size(json_object_get(r, "signatures")), 2);
    assert_string_equal(chk(sig_at(r, 0), "references"), "passed");
    json_decref(r);
    for (i = 0; i < n - 2; i++)
        free(data[i]);
    free(big);
    free(b.p);
}

/* XML parsing has the budget too: sixteen documents naming one 200 KiB
 * Document.xml inflate it once but would parse it sixteen times. */
static void test_parse_budget(void **state)
{
    struct blob base = make_ofd(1), b;
    struct zpart parts[8];
    struct ofd_verify_opts o;
    size_t doc_len = 200u * 1024u, off, i, lens[3];
    char *docx = malloc(doc_len + 1), *ofdx = malloc(4096);
    static const char *keep[] = {"Doc_0/PublicRes.xml",
                                 "Doc_0/Pages/Page_0/Content.xml",
                                 "Doc_0/Res/image.png"};
    uint8_t *data[3], *orig;
    size_t orig_len;
    json_t *r = NULL;
    struct err e;

    (void)state;
    /* the document's own Document.xml after a comment of spaces that
     * brings it to doc_len bytes */
    orig = zip_get(&base, "Doc_0/Document.xml", 0, &orig_len);
    assert_true(strncmp((char *)orig, "<?xml", 5) == 0);
    memset(docx, ' ', doc_len);
    memcpy(docx, "<!--", 4);
    memcpy(docx + doc_len - orig_len - 3, "-->", 3);
    memcpy(docx + doc_len - orig_len, strchr((char *)orig, '\n'),
           orig_len - (size_t)(strchr((char *)orig, '\n') - (char *)orig));
    off = (size_t)sprintf(ofdx, "<?xml version=\"1.0\"?>\n<ofd:OFD xmlns:ofd="
                          "\"http://www.ofdspec.org/2016\">");
    for (i = 0; i < 16; i++)
        off += (size_t)sprintf(ofdx + off, "<ofd:DocBody><ofd:DocRoot>"
                               "Doc_0/Document.xml</ofd:DocRoot>"
                               "</ofd:DocBody>");
    sprintf(ofdx + off, "</ofd:OFD>\n");
    parts[0] = (struct zpart){"OFD.xml", ofdx, strlen(ofdx), 0};
    parts[1] = (struct zpart){"Doc_0/Document.xml", docx, doc_len, 0};
    for (i = 0; i < 3; i++) {
        data[i] = zip_get(&base, keep[i], 0, &lens[i]);
        parts[2 + i] = (struct zpart){keep[i], data[i], lens[i], 0};
    }
    b = zip_build(parts, 5);
    assert_int_equal(ofd_verify(b.p, b.len, NULL, &r, &e), ERR_OK);
    assert_int_equal(json_integer_value(json_object_get(r, "documents")), 16);
    json_decref(r);
    r = NULL;
    memset(&o, 0, sizeof(o));
    o.max_inflated = 1024u * 1024u;
    assert_int_equal(ofd_verify(b.p, b.len, &o, &r, &e), ERR_TOO_LARGE);
    assert_null(r);
    assert_non_null(strstr(e.msg, "parsed over 1048576"));
    for (i = 0; i < 3; i++)
        free(data[i]);
    free(orig);
    free(docx);
    free(ofdx);
    free(b.p);
    free(base.p);
}

/* Counts that a small package can multiply: the same Signature.xml listed
 * many times is checked once; the references of all signatures are
 * bounded. */
static void test_reference_amplification(void **state)
{
    struct blob base = bomb_ofd(1, 16, NULL), b;
    const char *keep[] = {
        "OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml",
        "Doc_0/Pages/Page_0/Content.xml", "Doc_0/Res/image.png",
        "Doc_0/Res/z0.bin", "Doc_0/Signs/Sign_0/SignedValue.dat"};
    struct zpart parts[24];
    uint8_t *data[7], h[32];
    size_t lens[7], i, n, off, cap = 200u * 5000u;
    char *list = malloc(200u * 128u + 512), *sig = malloc(cap), *b64;
    char signame[8][48];
    json_t *r = NULL;
    struct err e;

    (void)state;
    for (i = 0; i < 7; i++)
        data[i] = zip_get(&base, keep[i], 0, &lens[i]);
    /* 1: one Signature.xml listed 200 times */
    off = (size_t)sprintf(list, "<?xml version=\"1.0\"?>\n<ofd:Signatures "
                          "xmlns:ofd=\"http://www.ofdspec.org/2016\">");
    for (i = 0; i < 200; i++)
        off += (size_t)sprintf(list + off, "<ofd:Signature ID=\"%zu\" "
                               "Type=\"Sign\" BaseLoc=\"/Doc_0/Signs/Sign_0/"
                               "Signature.xml\"/>", i);
    sprintf(list + off, "</ofd:Signatures>\n");
    assert_int_equal(sm2_sm3(data[5], lens[5], h, &e), ERR_OK);
    assert_int_equal(util_b64_encode(h, 32, &b64, &e), ERR_OK);
    off = (size_t)sprintf(sig, "<?xml version=\"1.0\"?>\n<ofd:Signature "
                          "xmlns:ofd=\"http://www.ofdspec.org/2016\">"
                          "<ofd:SignedInfo><ofd:References>");
    for (i = 0; i < 4096; i++)
        off += (size_t)sprintf(sig + off, "<ofd:Reference FileRef=\"/Doc_0/"
                               "Res/z0.bin\"><ofd:CheckValue>%s"
                               "</ofd:CheckValue></ofd:Reference>", b64);
    sprintf(sig + off, "</ofd:References></ofd:SignedInfo><ofd:SignedValue>"
            "SignedValue.dat</ofd:SignedValue></ofd:Signature>\n");
    free(b64);
    for (n = 0; n < 7; n++)
        parts[n] = (struct zpart){keep[n], data[n], lens[n], 0};
    parts[n++] = (struct zpart){"Doc_0/Signs/Signatures.xml", list,
                                strlen(list), 0};
    parts[n++] = (struct zpart){"Doc_0/Signs/Sign_0/Signature.xml", sig,
                                strlen(sig), 0};
    b = zip_build(parts, n);
    assert_int_equal(ofd_verify(b.p, b.len, NULL, &r, &e), ERR_OK);
    assert_int_equal(json_array_size(json_object_get(r, "signatures")), 200);
    assert_string_equal(chk(sig_at(r, 0), "references"), "passed");
    assert_int_equal(json_array_size(json_object_get(sig_at(r, 0),
                                                     "references")), 4096);
    assert_string_equal(chk(sig_at(r, 1), "structure"), "failed");
    assert_null(json_object_get(sig_at(r, 199), "references"));
    json_decref(r);
    r = NULL;
    free(b.p);
    /* 2: five different Signature.xml of 4096 references each: over the
     * package's total */
    off = (size_t)sprintf(list, "<?xml version=\"1.0\"?>\n<ofd:Signatures "
                          "xmlns:ofd=\"http://www.ofdspec.org/2016\">");
    for (i = 0; i < 5; i++) {
        snprintf(signame[i], sizeof(signame[i]),
                 "Doc_0/Signs/Sign_%zu/Signature.xml", i);
        off += (size_t)sprintf(list + off, "<ofd:Signature ID=\"%zu\" "
                               "Type=\"Sign\" BaseLoc=\"/%s\"/>", i,
                               signame[i]);
        parts[n - 1 + i] = (struct zpart){signame[i], sig, strlen(sig), 0};
    }
    sprintf(list + off, "</ofd:Signatures>\n");
    parts[n - 2].len = strlen(list);
    b = zip_build(parts, n - 1 + 5);
    assert_int_equal(ofd_verify(b.p, b.len, NULL, &r, &e), ERR_TOO_LARGE);
    assert_null(r);
    assert_non_null(strstr(e.msg, "references in all"));
    free(b.p);
    for (i = 0; i < 7; i++)
        free(data[i]);
    free(list);
    free(sig);
    free(base.p);
}

int main(void)
{
    const struct CMUnitTest all[] = {
        cmocka_unit_test(test_vector_v4signed),
        cmocka_unit_test(test_vector_signedfile),
        cmocka_unit_test(test_vector_allprotected),
        cmocka_unit_test(test_vector_digitalsign),
        cmocka_unit_test(test_vector_dms360),
        cmocka_unit_test(test_vector_keyword_edited),
        cmocka_unit_test(test_seal_page_and_reseal),
        cmocka_unit_test(test_seal_vectors),
        cmocka_unit_test(test_seal_keyword),
        cmocka_unit_test(test_seal_cross_page),
        cmocka_unit_test(test_protect_all),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_signed_data_binding),
        cmocka_unit_test(test_datetime),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_inflation_budget),
        cmocka_unit_test(test_inflation_running_total),
        cmocka_unit_test(test_parse_budget),
        cmocka_unit_test(test_reference_amplification),
    };
    const struct CMUnitTest out_only[] = {
        cmocka_unit_test(test_seal_page_and_reseal),
    };
    const char *o = getenv("SEALD_OFD_OUT_ONLY");

    if (o != NULL && strcmp(o, "1") == 0)
        return cmocka_run_group_tests(out_only, NULL, NULL);
    return cmocka_run_group_tests(all, NULL, NULL);
}
