/*
 * test_seal_make.c - unit tests of seal_make.c against the real dev token:
 * a local CA, a maker and a holder certificate issued through custody, a v4
 * and a v5 seal made with seal_make (decoded, fields checked, verified with
 * ses_verify_seal against the local CA), a seal signature made with
 * seal_sign (verified with ses_verify_signature over the document), the
 * refusals of both, and the esID formatter.  Writes seal.esl, sig.dat,
 * doc.bin, maker.pem, holder.pem, seal-ca.pem for tests/e2e/test_seal_lib.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "seal_testutil.h"
#include "seal_make.h"
#include "ses.h"

/* ---- esID ---------------------------------------------------------------- */

static void test_esid(void **state)
{
    char out[SEAL_ESID_MAX + 1];
    struct err e = { 0 };

    (void)state;
    assert_int_equal(seal_esid_format(NULL, "440100", 1, out, sizeof out, &e),
                     ERR_OK);
    assert_string_equal(out, "44010000000001");
    assert_int_equal(strlen(out), 14);
    assert_int_equal(seal_esid_format("{region}{seq:08}", "440100", 99999999,
                                      out, sizeof out, &e), ERR_OK);
    assert_string_equal(out, "44010099999999");
    /* a sequence that does not fit is refused, not widened */
    assert_int_equal(seal_esid_format(NULL, "440100", 100000000, out,
                                      sizeof out, &e), ERR_INVALID);
    assert_string_equal(out, "");
    assert_int_equal(seal_esid_format("GD-{region}-{seq}", "4401", 42, out,
                                      sizeof out, &e), ERR_OK);
    assert_string_equal(out, "GD-4401-42");
    assert_int_equal(seal_esid_format("{seq:3}", NULL, 7, out, sizeof out, &e),
                     ERR_OK);
    assert_string_equal(out, "007");
    /* refusals */
    assert_int_equal(seal_esid_format("{region}", NULL, 1, out, sizeof out,
                                      &e), ERR_INVALID);
    assert_int_equal(seal_esid_format("{region}", "44 01", 1, out, sizeof out,
                                      &e), ERR_INVALID);
    assert_int_equal(seal_esid_format("{seq}", NULL, -1, out, sizeof out, &e),
                     ERR_INVALID);
    assert_int_equal(seal_esid_format("{seq:0}", NULL, 1, out, sizeof out, &e),
                     ERR_INVALID);
    assert_int_equal(seal_esid_format("{seq:19}", NULL, 1, out, sizeof out,
                                      &e), ERR_INVALID);
    assert_int_equal(seal_esid_format("{seq:x}", NULL, 1, out, sizeof out, &e),
                     ERR_INVALID);
    assert_int_equal(seal_esid_format("{year}", NULL, 1, out, sizeof out, &e),
                     ERR_INVALID);
    assert_int_equal(seal_esid_format("{seq", NULL, 1, out, sizeof out, &e),
                     ERR_INVALID);
    assert_int_equal(seal_esid_format("a b{seq}", NULL, 1, out, sizeof out,
                                      &e), ERR_INVALID);
    assert_int_equal(seal_esid_format("", NULL, 1, out, sizeof out, &e),
                     ERR_INVALID);
    assert_int_equal(seal_esid_format(NULL, "440100", 1, out, 10, &e),
                     ERR_INVALID);
    assert_int_equal(seal_esid_format("{seq:18}{seq:18}{seq:18}{seq:18}",
                                      NULL, 1, out, sizeof out, &e),
                     ERR_INVALID);
}

/* ---- fixture: CA, maker, holder ------------------------------------------ */

struct fx {
    char caid[CUSTODY_ID_HEX_MAX], mid[CUSTODY_ID_HEX_MAX],
         hid[CUSTODY_ID_HEX_MAX];
    struct ca_key ca, maker, holder;
    uint8_t *ca_der, *m_der, *h_der, *png;
    size_t ca_len, m_len, h_len, png_len;
    time_t now;
    X509_STORE *trust;
};

static void fx_init(struct fx *f)
{
    X509 *root;

    memset(f, 0, sizeof *f);
    f->now = time(NULL);
    t_make_root(f->caid, &f->ca, &f->ca_der, &f->ca_len);
    t_make_holder(&f->ca, f->ca_der, f->ca_len, "seald maker", f->now - 60,
                  f->now + 86400 * 3000, f->mid, &f->maker, &f->m_der,
                  &f->m_len);
    t_make_holder(&f->ca, f->ca_der, f->ca_len, "seald holder", f->now - 60,
                  f->now + 86400 * 365, f->hid, &f->holder, &f->h_der,
                  &f->h_len);
    f->png = t_png(128, 128, &f->png_len);
    root = t_x509(f->ca_der, f->ca_len);
    f->trust = X509_STORE_new();
    assert_true(X509_STORE_add_cert(f->trust, root));
    X509_free(root);
}

static void fx_free(struct fx *f)
{
    free(f->ca_der);
    free(f->m_der);
    free(f->h_der);
    free(f->png);
    X509_STORE_free(f->trust);
}

static void fx_params(struct fx *f, struct seal_make_params *p,
                      struct ses_bytes *hc, char *esid)
{
    struct err e = { 0 };

    hc->p = f->h_der;
    hc->len = f->h_len;
    assert_int_equal(seal_esid_format(NULL, "440100", 1, esid,
                                      SEAL_ESID_MAX + 1, &e), ERR_OK);
    memset(p, 0, sizeof *p);
    p->es_id = esid;
    p->name = "seald \xe6\xb5\x8b\xe8\xaf\x95\xe7\xab\xa0";   /* 测试章 */
    p->type = 1;
    p->holder_certs = hc;
    p->n_holder_certs = 1;
    p->picture_type = "PNG";
    p->picture.p = f->png;
    p->picture.len = f->png_len;
    p->width_mm = 40;
    p->height_mm = 40;
}

static const char *str_of(json_t *r, const char *k)
{
    const char *s = json_string_value(json_object_get(r, k));
    return s ? s : "";
}

static const char *check_of(json_t *r, const char *c)
{
    return str_of(json_object_get(json_object_get(r, "checks"), c), "status");
}

static void make_and_check(struct fx *f, int format, uint8_t **seal,
                           size_t *seal_len)
{
    struct seal_make_params p;
    struct ses_bytes hc;
    char esid[SEAL_ESID_MAX + 1];
    struct ses_seal *s = NULL;
    struct ses_verify_opts o;
    json_t *r;
    struct err e = { 0 };
    time_t nb, na;

    fx_params(f, &p, &hc, esid);
    p.format = format;
    if (seal_make(&f->maker, f->m_der, f->m_len, &p, seal, seal_len, &e) !=
        ERR_OK)
        fail_msg("seal_make: %s", e.msg);
    assert_int_equal(ses_seal_decode(*seal, *seal_len, &s, &e), ERR_OK);
    assert_int_equal(s->format, format ? format : SES_FMT_V4);
    assert_int_equal(s->header_version, format ? format : 4);
    assert_string_equal(s->vid, SEAL_VID_DEFAULT);
    assert_string_equal(s->es_id, "44010000000001");
    assert_string_equal(s->name, p.name);
    assert_int_equal(s->type, 1);
    assert_int_equal(s->cert_list_type, 1);
    assert_int_equal(s->n_certs, 1);
    assert_int_equal(s->certs[0].der.len, f->h_len);
    assert_memory_equal(s->certs[0].der.p, f->h_der, f->h_len);
    assert_string_equal(s->picture_type, "PNG");
    assert_int_equal(s->picture.len, f->png_len);
    assert_int_equal(s->picture_width, 40);
    assert_int_equal(s->picture_height, 40);
    assert_int_equal(s->maker_cert.len, f->m_len);
    assert_string_equal(s->sig_alg, SM2_OID_SM2_SM3);
    /* validity = the holder certificate's */
    assert_int_equal(ca_cert_times(f->h_der, f->h_len, &nb, &na, &e), ERR_OK);
    assert_int_equal(s->valid_start, nb);
    assert_int_equal(s->valid_end, na);
    assert_true(s->create_date >= f->now - 5 && s->create_date <= time(NULL));
    memset(&o, 0, sizeof o);
    o.trust_store = f->trust;
    r = ses_verify_seal(s, &o, &e);
    assert_non_null(r);
    assert_string_equal(check_of(r, "seal_signature"), "passed");
    assert_string_equal(check_of(r, "certificate_chain"), "passed");
    if (strcmp(str_of(r, "indication"), "TOTAL_PASSED") != 0)
        fail_msg("seal report: %s", json_dumps(r, 0));
    json_decref(r);
    ses_seal_free(s);
}

static void test_seal_make_v4_v5(void **state)
{
    struct fx f;
    uint8_t *seal = NULL;
    size_t len = 0;

    (void)state;
    fx_init(&f);
    make_and_check(&f, SES_FMT_V5, &seal, &len);
    free(seal);
    make_and_check(&f, 0, &seal, &len);     /* v4 is the default */
    free(seal);
    fx_free(&f);
}

static void test_seal_make_refusals(void **state)
{
    struct fx f;
    struct seal_make_params p;
    struct ses_bytes hc;
    char esid[SEAL_ESID_MAX + 1];
    uint8_t *seal = NULL, *gif;
    size_t len = 0, gl;
    struct err e = { 0 };

    (void)state;
    fx_init(&f);
    fx_params(&f, &p, &hc, esid);
    /* maker certificate of another key */
    assert_int_equal(seal_make(&f.maker, f.h_der, f.h_len, &p, &seal, &len,
                               &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "maker"));
    assert_null(seal);
    /* picture rules */
    p.width_mm = 90;
    p.height_mm = 90;
    assert_int_equal(seal_make(&f.maker, f.m_der, f.m_len, &p, &seal, &len,
                               &e), ERR_INVALID);
    p.width_mm = p.height_mm = 40;
    p.picture_type = "JPG";
    assert_int_equal(seal_make(&f.maker, f.m_der, f.m_len, &p, &seal, &len,
                               &e), ERR_UNSUPPORTED);
    p.picture_type = "GIF";     /* data is a PNG */
    assert_int_equal(seal_make(&f.maker, f.m_der, f.m_len, &p, &seal, &len,
                               &e), ERR_INVALID);
    gif = t_gif(128, 128, &gl);
    p.picture.p = gif;
    p.picture.len = gl;
    assert_int_equal(seal_make(&f.maker, f.m_der, f.m_len, &p, &seal, &len,
                               &e), ERR_OK);
    free(seal);
    seal = NULL;
    p.picture_type = "PNG";
    p.picture.p = f.png;
    p.picture.len = f.png_len;
    /* validity outside the holder certificate */
    p.valid_start = f.now;
    p.valid_end = f.now + 86400 * 400;
    assert_int_equal(seal_make(&f.maker, f.m_der, f.m_len, &p, &seal, &len,
                               &e), ERR_INVALID);
    p.valid_end = f.now + 86400;
    assert_int_equal(seal_make(&f.maker, f.m_der, f.m_len, &p, &seal, &len,
                               &e), ERR_OK);
    free(seal);
    seal = NULL;
    p.valid_start = p.valid_end = 0;
    /* created when the maker certificate is not valid, or after the end */
    p.create_date = f.now + 86400 * 3100;
    assert_int_equal(seal_make(&f.maker, f.m_der, f.m_len, &p, &seal, &len,
                               &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "maker certificate is not valid"));
    p.create_date = f.now + 86400 * 400;
    assert_int_equal(seal_make(&f.maker, f.m_der, f.m_len, &p, &seal, &len,
                               &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "before its creation"));
    p.create_date = 0;
    /* fields */
    p.type = 0;
    assert_int_equal(seal_make(&f.maker, f.m_der, f.m_len, &p, &seal, &len,
                               &e), ERR_INVALID);
    p.type = 1;
    p.format = 1;
    assert_int_equal(seal_make(&f.maker, f.m_der, f.m_len, &p, &seal, &len,
                               &e), ERR_UNSUPPORTED);
    p.format = 0;
    p.es_id = "";
    assert_int_equal(seal_make(&f.maker, f.m_der, f.m_len, &p, &seal, &len,
                               &e), ERR_INVALID);
    p.es_id = esid;
    p.n_holder_certs = 0;
    assert_int_equal(seal_make(&f.maker, f.m_der, f.m_len, &p, &seal, &len,
                               &e), ERR_INVALID);
    free(gif);
    fx_free(&f);
}

static void test_seal_sign(void **state)
{
    struct fx f;
    uint8_t *seal = NULL, *sig = NULL, doc[256], hash[SM3_DIGEST_LEN];
    size_t seal_len = 0, sig_len = 0;
    struct seal_sign_params sp;
    struct ses_signature *g = NULL;
    struct ses_verify_opts o;
    json_t *r;
    struct err e = { 0 };
    EVP_PKEY *pub;

    (void)state;
    fx_init(&f);
    make_and_check(&f, 0, &seal, &seal_len);
    for (size_t i = 0; i < sizeof doc; i++)
        doc[i] = (uint8_t)(i * 7);
    assert_int_equal(sm2_sm3(doc, sizeof doc, hash, &e), ERR_OK);
    memset(&sp, 0, sizeof sp);
    sp.seal.p = seal;
    sp.seal.len = seal_len;
    sp.signer_cert.p = f.h_der;
    sp.signer_cert.len = f.h_len;
    sp.data_hash.p = hash;
    sp.data_hash.len = sizeof hash;
    sp.property_info = "/Doc_0/Signs/Sign_0/Signature.xml";
    if (seal_sign(&f.holder, &sp, &sig, &sig_len, &e) != ERR_OK)
        fail_msg("seal_sign: %s", e.msg);
    assert_int_equal(ses_signature_decode(sig, sig_len, &g, &e), ERR_OK);
    assert_int_equal(g->format, SES_FMT_V4);
    assert_string_equal(g->property_info, sp.property_info);
    assert_memory_equal(g->data_hash.p, hash, sizeof hash);
    assert_int_equal(g->signer_cert.len, f.h_len);
    assert_true(g->time_info_ok);
    assert_true(g->time_info >= f.now - 5);
    memset(&o, 0, sizeof o);
    o.trust_store = f.trust;
    o.data = doc;
    o.data_len = sizeof doc;
    r = ses_verify_signature(g, &o, &e);
    assert_non_null(r);
    if (strcmp(str_of(r, "indication"), "TOTAL_PASSED") != 0)
        fail_msg("signature report: %s", json_dumps(r, 0));
    assert_string_equal(check_of(r, "signature"), "passed");
    assert_string_equal(check_of(r, "data_hash"), "passed");
    assert_string_equal(check_of(r, "signer_in_seal"), "passed");
    json_decref(r);
    ses_signature_free(g);
    t_out_bytes("sig.dat", sig, sig_len);
    t_out_bytes("doc.bin", doc, sizeof doc);
    t_out_bytes("seal.esl", seal, seal_len);
    t_out_pem("maker.pem", "CERTIFICATE", f.m_der, f.m_len);
    t_out_pem("seal-holder.pem", "CERTIFICATE", f.h_der, f.h_len);
    t_out_pem("seal-ca.pem", "CERTIFICATE", f.ca_der, f.ca_len);
    pub = t_pub(&f.holder);
    t_out_pub("holder-pub.pem", pub);
    EVP_PKEY_free(pub);
    free(sig);
    sig = NULL;

    /* refusals: signer not a holder (the maker), wrong key for the cert,
     * time outside the seal's validity, bad hash length */
    sp.signer_cert.p = f.m_der;
    sp.signer_cert.len = f.m_len;
    assert_int_equal(seal_sign(&f.maker, &sp, &sig, &sig_len, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "holder"));
    sp.signer_cert.p = f.h_der;
    sp.signer_cert.len = f.h_len;
    assert_int_equal(seal_sign(&f.maker, &sp, &sig, &sig_len, &e),
                     ERR_INVALID);
    sp.time_info = f.now + 86400 * 400;
    assert_int_equal(seal_sign(&f.holder, &sp, &sig, &sig_len, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "validity"));
    sp.time_info = 0;
    sp.data_hash.len = 31;
    assert_int_equal(seal_sign(&f.holder, &sp, &sig, &sig_len, &e),
                     ERR_INVALID);
    sp.data_hash.len = 32;
    sp.seal.len = seal_len - 1;
    assert_int_equal(seal_sign(&f.holder, &sp, &sig, &sig_len, &e),
                     ERR_MALFORMED);
    assert_null(sig);
    /* v5 signature of a v4 seal on request */
    sp.seal.len = seal_len;
    sp.format = SES_FMT_V5;
    assert_int_equal(seal_sign(&f.holder, &sp, &sig, &sig_len, &e), ERR_OK);
    assert_int_equal(ses_signature_decode(sig, sig_len, &g, &e), ERR_OK);
    assert_int_equal(g->version, 5);
    ses_signature_free(g);
    free(sig);
    free(seal);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_esid),
        cmocka_unit_test(test_seal_make_v4_v5),
        cmocka_unit_test(test_seal_make_refusals),
        cmocka_unit_test(test_seal_sign),
    };
    return cmocka_run_group_tests(tests, t_token_setup, t_token_teardown);
}
