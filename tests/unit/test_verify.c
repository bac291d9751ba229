/*
 * test_verify.c - the verification service (src/domain/verify.c): the
 * seal-and-chain cache (a second verify with the same seal hits; the
 * document hash is still checked on a hit; the cached path reports what the
 * plain library path reports; a change of the trust directory invalidates),
 * and the status enrichment for seals issued here: a signature made while
 * the seal was active verifies with the later revocation reported, one made
 * after revocation fails.  Test-only software SM2 keys sign here (tests may
 * hold keys; seald never does).  Real SQLite database in a temp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "ses.h"
#include "sm2.h"
#include "store.h"
#include "util.h"
#include "verify.h"
#include "store_seal.h"

#define T_ESID "23010000000042"

struct fx {
    EVP_PKEY *key;
    X509     *cert;
    uint8_t  *cert_der;
    size_t    cert_len;
    uint8_t  *seal;
    size_t    seal_len;
    uint8_t   doc[48];
    char      dir[64], trust[96], anchor[128], db_path[128];
    time_t    now;
};

static err_code
soft_signer(void *ctx, const uint8_t e[SM3_DIGEST_LEN], uint8_t *sig,
            size_t *sig_len, struct err *err)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new((EVP_PKEY *)ctx, NULL);
    err_code rc = ERR_OK;

    if (pc == NULL || EVP_PKEY_sign_init(pc) <= 0 ||
        EVP_PKEY_sign(pc, sig, sig_len, e, SM3_DIGEST_LEN) <= 0)
        rc = err_set(err, ERR_CRYPTO, "test signer failed");
    EVP_PKEY_CTX_free(pc);
    return rc;
}

/* Self-signed SM2 CA certificate: anchor, maker and signer at once. */
static X509 *
make_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);
    X509V3_CTX v3;
    X509_EXTENSION *ext;

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                               (const unsigned char *)"verify test", -1, -1,
                               0);
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
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,"
                              "digitalSignature,nonRepudiation,keyCertSign");
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

static void
write_anchor(struct fx *f)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long len;
    struct err e;

    PEM_write_bio_X509(b, f->cert);
    len = BIO_get_mem_data(b, &pem);
    assert_int_equal(util_write_file(f->anchor, pem, (size_t)len, 0644, &e),
                     ERR_OK);
    BIO_free(b);
}

/* A signature over f->doc with seal (DER) at time t (*der malloc'ed). */
static void
sign_with(struct fx *f, const uint8_t *seal, size_t seal_len, time_t t,
          uint8_t **der, size_t *len)
{
    struct ses_sign_params gp;
    uint8_t hash[SM3_DIGEST_LEN];
    struct err e;

    assert_int_equal(sm2_sm3(f->doc, sizeof(f->doc), hash, &e), ERR_OK);
    memset(&gp, 0, sizeof(gp));
    gp.format = SES_FMT_V4;
    gp.seal.p = seal;
    gp.seal.len = seal_len;
    gp.time_info = t;
    gp.data_hash.p = hash;
    gp.data_hash.len = sizeof(hash);
    gp.property_info = "/Doc_0/Signs/Sign_0/Signature.xml";
    gp.signer_cert.p = f->cert_der;
    gp.signer_cert.len = f->cert_len;
    if (ses_signature_build(&gp, soft_signer, f->key, der, len, &e) != ERR_OK)
        fail_msg("signature build: %s", e.msg);
}

static void
sign_at(struct fx *f, time_t t, uint8_t **der, size_t *len)
{
    sign_with(f, f->seal, f->seal_len, t, der, len);
}

/* A v4 seal named esid, made and signed by f's key (*der malloc'ed). */
static void
make_seal(struct fx *f, const char *esid, uint8_t **der, size_t *len)
{
    struct ses_seal_params sp;
    struct ses_bytes certs[1];
    uint8_t pic[64];
    struct err e;

    memset(pic, 0x89, sizeof(pic));
    memcpy(pic, "\x89PNG\r\n\x1a\n", 8);
    certs[0].p = f->cert_der;
    certs[0].len = f->cert_len;
    memset(&sp, 0, sizeof(sp));
    sp.format = SES_FMT_V4;
    sp.vid = "seald";
    sp.es_id = esid;
    sp.name = "verify test seal";
    sp.type = 1;
    sp.cert_list_type = 1;
    sp.certs = certs;
    sp.n_certs = 1;
    sp.create_date = f->now - 7200;
    sp.valid_start = f->now - 7200;
    sp.valid_end = f->now + 3600L * 24 * 30;
    sp.picture_type = "PNG";
    sp.picture.p = pic;
    sp.picture.len = sizeof(pic);
    sp.picture_width = 40;
    sp.picture_height = 40;
    sp.maker_cert.p = f->cert_der;
    sp.maker_cert.len = f->cert_len;
    if (ses_seal_build(&sp, soft_signer, f->key, der, len, &e) != ERR_OK)
        fail_msg("seal build: %s", e.msg);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    unsigned char *der = NULL;
    int n;

    assert_non_null(f);
    f->now = time(NULL);
    snprintf(f->dir, sizeof(f->dir), "/tmp/seald-verify-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->trust, sizeof(f->trust), "%s/trust", f->dir);
    assert_int_equal(mkdir(f->trust, 0700), 0);
    snprintf(f->anchor, sizeof(f->anchor), "%s/anchor.pem", f->trust);
    snprintf(f->db_path, sizeof(f->db_path), "%s/t.db", f->dir);
    f->key = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
    assert_non_null(f->key);
    f->cert = make_cert(f->key);
    n = i2d_X509(f->cert, &der);
    assert_true(n > 0);
    f->cert_der = malloc((size_t)n);
    memcpy(f->cert_der, der, (size_t)n);
    f->cert_len = (size_t)n;
    OPENSSL_free(der);
    write_anchor(f);
    make_seal(f, T_ESID, &f->seal, &f->seal_len);
    memset(f->doc, 'D', sizeof(f->doc));
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    char p[192];

    unlink(f->anchor);
    snprintf(p, sizeof(p), "%s/second.pem", f->trust);
    unlink(p);
    rmdir(f->trust);
    snprintf(p, sizeof(p), "%s-wal", f->db_path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", f->db_path);
    unlink(p);
    unlink(f->db_path);
    rmdir(f->dir);
    EVP_PKEY_free(f->key);
    X509_free(f->cert);
    free(f->cert_der);
    free(f->seal);
    free(f);
    return 0;
}

static const char *
str_at(const json_t *r, const char *a, const char *b)
{
    const json_t *j = json_object_get(r, a);
    const char *s;

    if (b != NULL)
        j = json_object_get(json_object_get(j, b), "status");
    s = json_string_value(j);
    return s ? s : "(null)";
}

/* Everything passed but, without a status source, the seal's status was
 * not checked: INDETERMINATE/TRY_LATER, never TOTAL_PASSED (issue 17). */
static int
passed_unchecked(const json_t *r)
{
    return strcmp(str_at(r, "indication", NULL), "INDETERMINATE") == 0 &&
           strcmp(str_at(r, "sub_indication", NULL), "TRY_LATER") == 0 &&
           strcmp(str_at(r, "checks", "seal_status"), "not_checked") == 0;
}

static json_t *
run(struct verify_service *v, struct store_conn *db, const uint8_t *der,
    size_t len, const uint8_t *doc, size_t doc_len)
{
    struct verify_input in;
    struct verify_status vs = {.db = db};
    json_t *r = NULL;
    struct err e;

    memset(&in, 0, sizeof(in));
    in.der = der;
    in.der_len = len;
    in.doc = doc;
    in.doc_len = doc_len;
    err_clear(&e);
    if (verify_signature(v, db != NULL ? &vs : NULL, &in, &r, &e) != ERR_OK)
        fail_msg("verify: %s", e.msg);
    return r;
}

static void
test_cache_hits_and_trust_change_invalidates(void **state)
{
    struct fx *f = *state;
    struct verify_service *v = NULL;
    struct verify_stats st;
    struct ses_signature *s = NULL;
    struct ses_verify_opts o;
    uint8_t *sig = NULL;
    size_t len = 0;
    json_t *r, *plain;
    struct err e;
    char second[192];

    sign_at(f, f->now, &sig, &len);
    assert_int_equal(verify_service_new(f->trust, 0, 0, &v, &e), ERR_OK);

    r = run(v, NULL, sig, len, f->doc, sizeof(f->doc));
    assert_string_equal(str_at(r, "cache", NULL), "miss");
    assert_true(passed_unchecked(r));
    assert_string_equal(str_at(r, "checks", "certificate_chain"), "passed");
    /* the cached path reports what the plain library path reports */
    assert_int_equal(ses_signature_decode(sig, len, &s, &e), ERR_OK);
    memset(&o, 0, sizeof(o));
    o.data = f->doc;
    o.data_len = sizeof(f->doc);
    o.trust_dir = f->trust;
    plain = ses_verify_signature(s, &o, &e);
    assert_non_null(plain);
    /* (the status checks are the service's: the library has none) */
    json_object_del(json_object_get(r, "checks"), "seal_status");
    json_object_del(json_object_get(r, "checks"), "certificate_status");
    assert_true(json_equal(json_object_get(plain, "checks"),
                           json_object_get(r, "checks")));
    assert_true(json_equal(json_object_get(plain, "seal"),
                           json_object_get(r, "seal")));
    assert_true(json_equal(json_object_get(plain, "signer"),
                           json_object_get(r, "signer")));
    json_decref(plain);
    json_decref(r);

    /* second verify of a signature with the same seal: a hit */
    r = run(v, NULL, sig, len, f->doc, sizeof(f->doc));
    assert_string_equal(str_at(r, "cache", NULL), "hit");
    assert_true(passed_unchecked(r));
    json_decref(r);
    /* dataHash is never cached: another document fails on a hit */
    r = run(v, NULL, sig, len, (const uint8_t *)"other", 5);
    assert_string_equal(str_at(r, "cache", NULL), "hit");
    assert_string_equal(str_at(r, "sub_indication", NULL), "HASH_FAILURE");
    json_decref(r);
    verify_stats_get(v, &st);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.anchors, 1);
    assert_int_equal(st.generation, 1);

    /* the anchor goes away: next call reloads, misses, chain untrusted */
    assert_int_equal(unlink(f->anchor), 0);
    r = run(v, NULL, sig, len, f->doc, sizeof(f->doc));
    assert_string_equal(str_at(r, "cache", NULL), "miss");
    assert_string_equal(str_at(r, "checks", "certificate_chain"),
                        "indeterminate");
    json_decref(r);
    verify_stats_get(v, &st);
    assert_int_equal(st.generation, 2);
    assert_int_equal(st.anchors, 0);

    /* it comes back (under another name): trusted again, after a miss */
    snprintf(second, sizeof(second), "%s/second.pem", f->trust);
    write_anchor(f);
    assert_int_equal(rename(f->anchor, second), 0);
    r = run(v, NULL, sig, len, f->doc, sizeof(f->doc));
    assert_string_equal(str_at(r, "cache", NULL), "miss");
    assert_string_equal(str_at(r, "checks", "certificate_chain"), "passed");
    json_decref(r);
    r = run(v, NULL, sig, len, f->doc, sizeof(f->doc));
    assert_string_equal(str_at(r, "cache", NULL), "hit");
    json_decref(r);
    assert_int_equal(rename(second, f->anchor), 0);

    /* a corrupted signer signature is caught on a hit (never cached) */
    {
        uint8_t *bad = malloc(len);
        json_t *rb;
        memcpy(bad, sig, len);
        bad[len - 3] ^= 0x01;       /* inside the signature value */
        rb = run(v, NULL, bad, len, f->doc, sizeof(f->doc));
        assert_string_equal(str_at(rb, "checks", "signature"), "failed");
        json_decref(rb);
        free(bad);
    }

    ses_signature_free(s);
    verify_service_free(v);
    free(sig);
}

/* Capacity 2, three seals A B C: LRU eviction keeps the recent two. */
static void
test_cache_is_bounded_lru(void **state)
{
    static const char *const ids[3] = {"23010000000101", "23010000000102",
                                       "23010000000103"};
    static const struct { int seal; const char *want; } steps[] = {
        {0, "miss"}, {1, "miss"}, {0, "hit"},   /* A B A: B is now LRU */
        {2, "miss"},                            /* C evicts B          */
        {0, "hit"}, {2, "hit"}, {1, "miss"},    /* B evicts A          */
        {0, "miss"},
    };
    struct fx *f = *state;
    struct verify_service *v = NULL;
    struct verify_stats st;
    uint8_t *seal[3], *sig[3];
    size_t seal_len[3], sig_len[3], i;
    json_t *r;
    struct err e;

    for (i = 0; i < 3; i++) {
        make_seal(f, ids[i], &seal[i], &seal_len[i]);
        sign_with(f, seal[i], seal_len[i], f->now, &sig[i], &sig_len[i]);
    }
    assert_int_equal(verify_service_new(f->trust, 0, 2, &v, &e), ERR_OK);
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        int k = steps[i].seal;
        r = run(v, NULL, sig[k], sig_len[k], f->doc, sizeof(f->doc));
        if (strcmp(str_at(r, "cache", NULL), steps[i].want) != 0)
            fail_msg("step %zu (seal %d): %s, want %s", i, k,
                     str_at(r, "cache", NULL), steps[i].want);
        assert_true(passed_unchecked(r));
        json_decref(r);
    }
    verify_stats_get(v, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.evictions, 3);
    assert_int_equal(st.hits, 3);
    assert_int_equal(st.misses, 5);
    verify_service_free(v);
    for (i = 0; i < 3; i++) {
        free(seal[i]);
        free(sig[i]);
    }
}

#define T_THREADS 4
#define T_ROUNDS  25

struct hammer {
    struct verify_service *v;
    struct fx             *f;
    uint8_t              **sig;
    size_t                *sig_len;
    int                    seed, failures;
};

static void *
hammer_run(void *arg)
{
    struct hammer *h = arg;
    int i;

    for (i = 0; i < T_ROUNDS; i++) {
        int k = (h->seed + i) % 3;
        struct verify_input in;
        json_t *r = NULL;
        struct err e;
        const char *ind;

        memset(&in, 0, sizeof(in));
        in.der = h->sig[k];
        in.der_len = h->sig_len[k];
        in.doc = h->f->doc;
        in.doc_len = sizeof(h->f->doc);
        if (verify_signature(h->v, NULL, &in, &r, &e) != ERR_OK) {
            h->failures++;
            continue;
        }
        ind = json_string_value(json_object_get(r, "sub_indication"));
        if (ind == NULL || strcmp(ind, "TRY_LATER") != 0)
            h->failures++;
        json_decref(r);
    }
    return NULL;
}

/* Threads share one service with room for 2 of 3 seals: entries are
 * evicted while other threads still use them (reference counts). */
static void
test_cache_threads(void **state)
{
    struct fx *f = *state;
    struct verify_service *v = NULL;
    struct hammer h[T_THREADS];
    pthread_t th[T_THREADS];
    uint8_t *seal[3], *sig[3];
    size_t seal_len[3], sig_len[3], i;
    char esid[32];
    struct err e;

    for (i = 0; i < 3; i++) {
        snprintf(esid, sizeof(esid), "2301000000020%zu", i);
        make_seal(f, esid, &seal[i], &seal_len[i]);
        sign_with(f, seal[i], seal_len[i], f->now, &sig[i], &sig_len[i]);
    }
    assert_int_equal(verify_service_new(f->trust, 0, 2, &v, &e), ERR_OK);
    for (i = 0; i < T_THREADS; i++) {
        h[i].v = v;
        h[i].f = f;
        h[i].sig = sig;
        h[i].sig_len = sig_len;
        h[i].seed = (int)i;
        h[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
    }
    for (i = 0; i < T_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(h[i].failures, 0);
    }
    verify_service_free(v);
    for (i = 0; i < 3; i++) {
        free(seal[i]);
        free(sig[i]);
    }
}

static void
exec_sql(struct fx *f, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;

    assert_int_equal(sqlite3_open(f->db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("sql: %s", msg ? msg : "?");
    sqlite3_close(db);
}

static void
test_status_at_signing_time(void **state)
{
    struct fx *f = *state;
    struct store *s = NULL;
    struct store_conn *c = NULL;
    struct store_seal rec;
    struct store_seal_move mv = {SEAL_NONE, SEAL_NONE, NULL, NULL,
                                 SEAL_NONE};
    struct verify_service *v = NULL;
    uint8_t *before = NULL, *after = NULL;
    size_t blen = 0, alen = 0;
    int64_t made = (int64_t)(f->now - 3600) * 1000;
    int64_t active = made + 60000;
    int64_t revoked = (int64_t)f->now * 1000 + 5000;
    enum seal_state then = SEAL_NONE;
    json_t *r, *st;
    struct err e;

    assert_int_equal(store_open(f->db_path, NULL, 5000, 1, &s, &e), ERR_OK);
    assert_int_equal(store_migrate(s, NULL, &e), ERR_OK);
    assert_int_equal(store_conn_get(s, &c, &e), ERR_OK);
    exec_sql(f, "INSERT INTO organisations (id, name, kind, created_ms) "
                "VALUES (1, 'Harbin', 'agency', 1);"
                "INSERT INTO accounts (id, name, kind, display_name, org_id, "
                "created_ms) VALUES (1, 'custodian', 'person', 'C', 1, 1);");
    memset(&rec, 0, sizeof(rec));
    snprintf(rec.esid, sizeof(rec.esid), T_ESID);
    snprintf(rec.lineage_esid, sizeof(rec.lineage_esid), T_ESID);
    rec.application_id = 1;
    rec.org_id = 1;
    snprintf(rec.kind, sizeof(rec.kind), "official");
    snprintf(rec.name, sizeof(rec.name), "verify test seal");
    rec.custodian_id = 1;
    rec.state = SEAL_ACTIVE;
    rec.state_since_ms = active;
    rec.version = 4;
    rec.made_by = 1;
    rec.made_ms = made;
    rec.valid_start_ms = made;
    rec.valid_end_ms = made + 86400000LL * 30;
    if (store_seal_insert(c, &rec, f->seal, f->seal_len, f->cert_der,
                          f->cert_len, &rec.id, &e) != ERR_OK)
        fail_msg("seal insert: %s", e.msg);
    assert_int_equal(store_history_insert(c, "seal", rec.id, "made",
                                          "active", 1, active, NULL, &e),
                     ERR_OK);
    assert_int_equal(verify_service_new(f->trust, 0, 0, &v, &e), ERR_OK);
    sign_at(f, f->now, &before, &blen);
    sign_at(f, f->now + 3600, &after, &alen);

    /* not revoked yet: the later signature is fine */
    r = run(v, c, after, alen, f->doc, sizeof(f->doc));
    st = json_object_get(r, "seald_status");
    assert_non_null(st);
    assert_string_equal(str_at(st, "state_at_signing", NULL), "active");
    assert_string_equal(str_at(st, "state_now", NULL), "active");
    assert_string_equal(str_at(r, "indication", NULL), "TOTAL_PASSED");
    assert_string_equal(str_at(r, "cache", NULL), "miss");
    json_decref(r);

    /* revoked 5 s after now (status is read from the database each time,
     * never cached) */
    mv.from = SEAL_ACTIVE;
    mv.to = SEAL_REVOKED;
    mv.reason_code = "revocation";
    assert_int_equal(store_seal_transition(c, rec.id, &mv, revoked, &e),
                     ERR_OK);
    assert_int_equal(store_history_insert(c, "seal", rec.id, "active",
                                          "revoked", 1, revoked, "lost key",
                                          &e), ERR_OK);
    assert_int_equal(store_seal_get(c, T_ESID, &rec, &e), ERR_OK);

    /* the state walk itself */
    assert_int_equal(verify_state_at(c, &rec, made - 1, &then, &e), ERR_OK);
    assert_int_equal(then, SEAL_NONE);
    assert_int_equal(verify_state_at(c, &rec, made, &then, &e), ERR_OK);
    assert_int_equal(then, SEAL_MADE);
    assert_int_equal(verify_state_at(c, &rec, active, &then, &e), ERR_OK);
    assert_int_equal(then, SEAL_ACTIVE);
    assert_int_equal(verify_state_at(c, &rec, revoked - 1, &then, &e),
                     ERR_OK);
    assert_int_equal(then, SEAL_ACTIVE);
    assert_int_equal(verify_state_at(c, &rec, revoked, &then, &e), ERR_OK);
    assert_int_equal(then, SEAL_REVOKED);

    /* signed while active (by its claimed timeInfo), revoked since, and
     * no usage record of it here (it was not made through the signing
     * flow): the claim is no proof that it existed before the revocation
     * (with the record: TOTAL_PASSED, tests/e2e/test_status.py) */
    r = run(v, c, before, blen, f->doc, sizeof(f->doc));
    st = json_object_get(r, "seald_status");
    assert_non_null(st);
    assert_string_equal(str_at(st, "esid", NULL), T_ESID);
    assert_string_equal(str_at(st, "state_at_signing", NULL), "active");
    assert_string_equal(str_at(st, "state_now", NULL), "revoked");
    assert_string_equal(str_at(st, "reason_code", NULL), "revocation");
    assert_non_null(strstr(str_at(st, "summary", NULL),
                           "signed while active, revoked since"));
    assert_string_equal(str_at(st, "time_basis", NULL), "tbs_time_info");
    assert_true(json_is_null(json_object_get(st, "proof_of_existence")));
    assert_string_equal(str_at(r, "checks", "seal_status"), "indeterminate");
    assert_string_equal(str_at(r, "indication", NULL), "INDETERMINATE");
    assert_string_equal(str_at(r, "sub_indication", NULL), "REVOKED_NO_POE");
    assert_string_equal(str_at(r, "cache", NULL), "hit");
    json_decref(r);

    /* signed an hour after the revocation: fails, REVOKED, though the
     * seal-and-chain result comes from the cache */
    r = run(v, c, after, alen, f->doc, sizeof(f->doc));
    st = json_object_get(r, "seald_status");
    assert_string_equal(str_at(st, "state_at_signing", NULL), "revoked");
    assert_string_equal(str_at(r, "checks", "seal_status"), "failed");
    assert_string_equal(str_at(r, "indication", NULL), "TOTAL_FAILED");
    assert_string_equal(str_at(r, "sub_indication", NULL), "REVOKED");
    assert_string_equal(str_at(r, "cache", NULL), "hit");
    json_decref(r);

    /* without a database (or for a seal not issued here): no status */
    r = run(v, NULL, before, blen, f->doc, sizeof(f->doc));
    assert_null(json_object_get(r, "seald_status"));
    assert_true(passed_unchecked(r));
    json_decref(r);

    /* the seal file alone: state now */
    {
        struct verify_status vs = {.db = c};
        struct verify_input in;
        memset(&in, 0, sizeof(in));
        in.der = f->seal;
        in.der_len = f->seal_len;
        assert_int_equal(verify_seal(v, &vs, &in, &r, &e), ERR_OK);
        /* a revoked seal alone is not TOTAL_PASSED */
        assert_string_equal(str_at(r, "indication", NULL), "TOTAL_FAILED");
        assert_string_equal(str_at(r, "sub_indication", NULL), "REVOKED");
        assert_string_equal(str_at(r, "checks", "seal_status"), "failed");
        st = json_object_get(r, "seald_status");
        assert_string_equal(str_at(st, "state_now", NULL), "revoked");
        json_decref(r);
        /* malformed input is an error, not a report */
        in.der = (const uint8_t *)"\x30\x03\x02\x01\x05";
        in.der_len = 5;
        assert_int_not_equal(verify_seal(v, &vs, &in, &r, &e), ERR_OK);
        assert_null(r);
        assert_int_not_equal(verify_signature(v, &vs, &in, &r, &e), ERR_OK);
        assert_null(r);
    }

    verify_service_free(v);
    store_close(s);
    free(before);
    free(after);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_cache_hits_and_trust_change_invalidates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_is_bounded_lru, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_at_signing_time, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
