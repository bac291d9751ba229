/*
 * bench_verify.c - throughput of the format layer on a v4 SES_Signature made
 * with a throw-away software key: decode/s, full verification/s
 * (ses_verify_signature: two SM2 verifications, certificate checks, report),
 * and raw OpenSSL SM2 verify/s (EVP_DigestVerify with the ID set) measured in
 * the same run, with the ratios.  Single thread, then 2 threads.
 *
 * usage: bench_verify [seconds-per-measurement]   (default 1)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ses.h"
#include "sm2.h"
#include "util.h"

struct material {
    EVP_PKEY *key;           /* bench-only key, never in the library */
    uint8_t *sig;
    size_t sig_len;
    uint8_t doc[1024];
    uint8_t tbs_sig[SM2_SIG_DER_MAX];
    size_t tbs_sig_len;
    uint8_t *tbs;            /* copy of the TBS_Sign DER */
    size_t tbs_len;
    X509_STORE *store;       /* the bench certificate as sole anchor */
};

static err_code bench_signer(void *ctx, const uint8_t e[SM3_DIGEST_LEN],
                             uint8_t *sig, size_t *sig_len, struct err *err)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new((EVP_PKEY *)ctx, NULL);
    err_code rc = ERR_OK;

    if (pc == NULL || EVP_PKEY_sign_init(pc) <= 0 ||
        EVP_PKEY_sign(pc, sig, sig_len, e, SM3_DIGEST_LEN) <= 0)
        rc = err_set(err, ERR_CRYPTO, "bench signer failed");
    EVP_PKEY_CTX_free(pc);
    return rc;
}

static uint8_t *make_cert(EVP_PKEY *key, size_t *len)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);
    unsigned char *der = NULL;
    uint8_t *out = NULL;
    int l;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                               (const unsigned char *)"bench", -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
    X509_set_pubkey(x, key);
    EVP_PKEY_CTX_set1_id(pctx, SM2_DEFAULT_ID, 16);
    EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
    if (EVP_DigestSignInit(mctx, NULL, EVP_sm3(), NULL, key) > 0 &&
        X509_sign_ctx(x, mctx) > 0 && (l = i2d_X509(x, &der)) > 0) {
        out = malloc((size_t)l);
        if (out != NULL) {
            memcpy(out, der, (size_t)l);
            *len = (size_t)l;
        }
    }
    OPENSSL_free(der);
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_CTX_free(pctx);
    X509_NAME_free(n);
    X509_free(x);
    return out;
}

static int setup(struct material *m)
{
    struct ses_seal_params sp;
    struct ses_sign_params gp;
    struct ses_bytes certs[1];
    uint8_t *cert, *seal = NULL, hash[SM3_DIGEST_LEN], pic[4096];
    size_t cert_len = 0, seal_len = 0;
    struct ses_signature *s = NULL;
    struct err e;
    time_t now = time(NULL);
    int ok = 0;

    memset(m, 0, sizeof(*m));
    m->key = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
    cert = m->key ? make_cert(m->key, &cert_len) : NULL;
    if (cert == NULL)
        return 0;
    memset(pic, 0x42, sizeof(pic));
    certs[0].p = cert;
    certs[0].len = cert_len;
    memset(&sp, 0, sizeof(sp));
    sp.format = SES_FMT_V4;
    sp.vid = "bench";
    sp.es_id = "11010000000001";
    sp.name = "bench seal";
    sp.type = 1;
    sp.cert_list_type = 1;
    sp.certs = certs;
    sp.n_certs = 1;
    sp.create_date = sp.valid_start = now - 60;
    sp.valid_end = now + 86400;
    sp.picture_type = "PNG";
    sp.picture.p = pic;
    sp.picture.len = sizeof(pic);
    sp.picture_width = sp.picture_height = 40;
    sp.maker_cert = certs[0];
    memset(m->doc, 'd', sizeof(m->doc));
    if (ses_seal_build(&sp, bench_signer, m->key, &seal, &seal_len, &e) !=
            ERR_OK ||
        sm2_sm3(m->doc, sizeof(m->doc), hash, &e) != ERR_OK)
        goto done;
    memset(&gp, 0, sizeof(gp));
    gp.format = SES_FMT_V4;
    gp.seal.p = seal;
    gp.seal.len = seal_len;
    gp.time_info = now;
    gp.data_hash.p = hash;
    gp.data_hash.len = sizeof(hash);
    gp.property_info = "/Doc_0/Signs/Sign_0/Signature.xml";
    gp.signer_cert = certs[0];
    if (ses_signature_build(&gp, bench_signer, m->key, &m->sig, &m->sig_len,
                            &e) != ERR_OK ||
        ses_signature_decode(m->sig, m->sig_len, &s, &e) != ERR_OK)
        goto done;
    /* trust store with the (self-signed CA) bench certificate */
    {
        const unsigned char *q = cert;
        X509 *x = d2i_X509(NULL, &q, (long)cert_len);
        ASN1_OCTET_STRING *id = ASN1_OCTET_STRING_new();
        m->store = X509_STORE_new();
        if (x == NULL || id == NULL || m->store == NULL)
            goto done;
        ASN1_OCTET_STRING_set(id, (const unsigned char *)SM2_DEFAULT_ID, 16);
        X509_set0_distinguishing_id(x, id);
        X509_STORE_add_cert(m->store, x);
        X509_free(x);
    }
    /* keep TBS bytes and value for the raw OpenSSL measurement */
    m->tbs = malloc(s->tbs.len);
    if (m->tbs == NULL)
        goto done;
    memcpy(m->tbs, s->tbs.p, s->tbs.len);
    m->tbs_len = s->tbs.len;
    memcpy(m->tbs_sig, s->sig_value.p, s->sig_value.len);
    m->tbs_sig_len = s->sig_value.len;
    ok = 1;
done:
    if (!ok)
        fprintf(stderr, "setup failed: %s\n", e.msg);
    ses_signature_free(s);
    free(seal);
    free(cert);
    return ok;
}

enum op { OP_DECODE, OP_VERIFY, OP_VERIFY_CHAIN, OP_RAW };

struct job {
    const struct material *m;
    enum op op;
    double seconds;
    long count;
};

static int one(const struct material *m, enum op op, EVP_PKEY *pub)
{
    struct ses_signature *s = NULL;
    struct ses_verify_opts o;
    struct err e;
    json_t *r;
    int ok = 0;

    switch (op) {
    case OP_DECODE:
        ok = ses_signature_decode(m->sig, m->sig_len, &s, &e) == ERR_OK;
        ses_signature_free(s);
        break;
    case OP_VERIFY:
    case OP_VERIFY_CHAIN:
        memset(&o, 0, sizeof(o));
        if (op == OP_VERIFY_CHAIN)
            o.trust_store = m->store;
        o.data = m->doc;
        o.data_len = sizeof(m->doc);
        if (ses_signature_decode(m->sig, m->sig_len, &s, &e) == ERR_OK) {
            r = ses_verify_signature(s, &o, &e);
            ok = r != NULL && strcmp(json_string_value(json_object_get(
                json_object_get(json_object_get(r, "checks"), "signature"),
                "status")), "passed") == 0;
            json_decref(r);
        }
        ses_signature_free(s);
        break;
    case OP_RAW: {
        EVP_MD_CTX *mctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(pub, NULL);
        EVP_PKEY_CTX_set1_id(pctx, SM2_DEFAULT_ID, 16);
        EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
        ok = EVP_DigestVerifyInit(mctx, NULL, EVP_sm3(), NULL, pub) > 0 &&
             EVP_DigestVerify(mctx, m->tbs_sig, m->tbs_sig_len, m->tbs,
                              m->tbs_len) == 1;
        EVP_MD_CTX_free(mctx);
        EVP_PKEY_CTX_free(pctx);
        break;
    }
    }
    return ok;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    int64_t start = util_mono_ms(), limit = (int64_t)(j->seconds * 1000);
    long n = 0;

    while (util_mono_ms() - start < limit) {
        int k;
        for (k = 0; k < 16; k++) {
            if (!one(j->m, j->op, j->m->key)) {
                fprintf(stderr, "operation %d failed\n", (int)j->op);
                exit(1);
            }
            n++;
        }
    }
    j->count = n;
    j->seconds = (double)(util_mono_ms() - start) / 1000.0;
    return NULL;
}

static double rate(const struct material *m, enum op op, double secs,
                   int threads)
{
    pthread_t t[8];
    struct job j[8];
    double total = 0;
    int i;

    for (i = 0; i < threads; i++) {
        j[i].m = m;
        j[i].op = op;
        j[i].seconds = secs;
        j[i].count = 0;
        pthread_create(&t[i], NULL, worker, &j[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += (double)j[i].count / j[i].seconds;
    }
    return total;
}

int main(int argc, char **argv)
{
    struct material m;
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    int threads;

    if (secs <= 0)
        secs = 1.0;
    if (!setup(&m))
        return 1;
    printf("v4 SES_Signature of %zu bytes (TBS %zu bytes)\n", m.sig_len,
           m.tbs_len);
    for (threads = 1; threads <= 2; threads++) {
        double dec = rate(&m, OP_DECODE, secs, threads);
        double ver = rate(&m, OP_VERIFY, secs, threads);
        double chain = rate(&m, OP_VERIFY_CHAIN, secs, threads);
        double raw = rate(&m, OP_RAW, secs, threads);
        printf("threads=%d decode/s=%.0f verify/s=%.0f verify+chain/s=%.0f "
               "openssl_sm2_verify/s=%.0f ratio_verify_vs_raw=%.3f "
               "ratio_verify+chain_vs_raw=%.3f\n", threads, dec, ver, chain,
               raw, ver / raw, chain / raw);
    }
    printf("(a verify checks two SM2 signatures, seal and TBS_Sign: the "
           "ideal ratio is 0.5; verify+chain adds two certificate path checks)\n");
    X509_STORE_free(m.store);
    free(m.tbs);
    EVP_PKEY_free(m.key);
    free(m.sig);
    return 0;
}
