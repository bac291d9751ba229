/*
 * ses_verify.c - owns verification of decoded seals, signatures and GB/T
 * 35275 SignedData and the JSON verification report (ETSI EN 319 102-1
 * style indication and sub-indication).  Every check runs and is reported on its own; signatures
 * are always checked over the ORIGINAL bytes kept by the decoder.  The trust
 * store is a directory of anchor certificates (PEM or DER files).
 */
#include "ses.h"
#include "ses_int.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509_vfy.h>

#include "util.h"

#define ST_PASSED        "passed"
#define ST_FAILED        "failed"
#define ST_INDETERMINATE "indeterminate"
#define ST_NOT_CHECKED   "not_checked"

/* Record check name with status and a printf reason (reason may be NULL). */
static void check_set(json_t *checks, const char *name, const char *status,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void check_set(json_t *checks, const char *name, const char *status,
                      const char *fmt, ...)
{
    json_t *c = json_object();
    char buf[ERR_MSG_MAX];
    va_list ap;

    if (c == NULL)
        return;
    json_object_set_new(c, "status", json_string(status));
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        json_object_set_new(c, "reason", ses_json_text(buf, strlen(buf)));
    }
    json_object_set_new(checks, name, c);
}

static const char *check_status(const json_t *checks, const char *name)
{
    const char *s = json_string_value(
        json_object_get(json_object_get(checks, name), "status"));
    return s ? s : "";
}

static int is_status(const json_t *checks, const char *name, const char *st)
{
    return strcmp(check_status(checks, name), st) == 0;
}

/* A certificate validity check that failed on the notBefore side. */
static int not_yet_valid(const json_t *checks, const char *name)
{
    const char *w = json_string_value(json_object_get(
        json_object_get(checks, name), "window"));

    return is_status(checks, name, ST_FAILED) && w != NULL &&
           strcmp(w, "not_yet_valid") == 0;
}

/* checks.timestamp.failure is what. */
static int timestamp_failure_is(const json_t *checks, const char *what)
{
    const char *f = json_string_value(json_object_get(
        json_object_get(checks, "timestamp"), "failure"));

    return f != NULL && strcmp(f, what) == 0;
}

/* Indication and sub-indication from the checks, by priority. */
static void conclude(json_t *r, const json_t *checks)
{
    const char *ind = "TOTAL_PASSED", *sub = NULL;

    if (is_status(checks, "structure", ST_FAILED)) {
        ind = "TOTAL_FAILED"; sub = "FORMAT_FAILURE";
    } else if (is_status(checks, "signature", ST_FAILED) ||
               is_status(checks, "seal_signature", ST_FAILED)) {
        ind = "TOTAL_FAILED"; sub = "SIG_CRYPTO_FAILURE";
    } else if (is_status(checks, "data_hash", ST_FAILED)) {
        ind = "TOTAL_FAILED"; sub = "HASH_FAILURE";
    } else if (not_yet_valid(checks, "signer_certificate_validity") ||
               not_yet_valid(checks, "maker_certificate_validity")) {
        /* EN 319 102-1: signed before the certificate's notBefore (X.509
         * validation comes before the signature's constraints) */
        ind = "TOTAL_FAILED"; sub = "NOT_YET_VALID";
    } else if (is_status(checks, "signer_in_seal", ST_FAILED) ||
               is_status(checks, "seal_validity", ST_FAILED)) {
        ind = "TOTAL_FAILED"; sub = "SIG_CONSTRAINTS_FAILURE";
    } else if (is_status(checks, "signer_certificate_validity", ST_FAILED) ||
               is_status(checks, "maker_certificate_validity", ST_FAILED)) {
        ind = "INDETERMINATE"; sub = "OUT_OF_BOUNDS_NO_POE";
    } else if (is_status(checks, "certificate_chain", ST_FAILED)) {
        ind = "INDETERMINATE"; sub = "CHAIN_CONSTRAINTS_FAILURE";
    } else if (is_status(checks, "certificate_chain", ST_INDETERMINATE)) {
        ind = "INDETERMINATE"; sub = "NO_CERTIFICATE_CHAIN_FOUND";
    } else if (is_status(checks, "timestamp", ST_FAILED)) {
        /* a token that is not the signature's or not the TSA's */
        ind = "TOTAL_FAILED";
        sub = timestamp_failure_is(checks, "imprint") ? "HASH_FAILURE"
                                                      : "SIG_CRYPTO_FAILURE";
    } else if (is_status(checks, "signature", ST_INDETERMINATE) ||
               is_status(checks, "seal_signature", ST_INDETERMINATE)) {
        ind = "INDETERMINATE"; sub = "NO_SIGNING_CERTIFICATE_FOUND";
    }
    json_object_set_new(r, "indication", json_string(ind));
    json_object_set_new(r, "sub_indication", sub ? json_string(sub) :
                                                   json_null());
}

/* Contract: 0 passed, 1 failed, 2 indeterminate (also for a bad report). */
int ses_report_exit_code(const json_t *report)
{
    const char *ind = json_string_value(json_object_get(report, "indication"));

    if (ind != NULL && strcmp(ind, "TOTAL_PASSED") == 0)
        return 0;
    if (ind != NULL && strcmp(ind, "TOTAL_FAILED") == 0)
        return 1;
    return 2;
}

/* Contract: report for undecodable input. */
json_t *ses_report_format_failure(const char *what, const char *reason)
{
    json_t *r = json_object(), *checks = json_object();

    if (r == NULL || checks == NULL) {
        json_decref(r);
        json_decref(checks);
        return NULL;
    }
    check_set(checks, "structure", ST_FAILED, "%s: %s", what, reason);
    json_object_set_new(r, "kind", json_string(what));
    json_object_set_new(r, "validation_time", json_null());
    json_object_set_new(r, "validation_time_source", json_null());
    conclude(r, checks);
    json_object_set_new(r, "checks", checks);
    return r;
}

/* ---- trust store --------------------------------------------------------- */

static void set_distid(X509 *x, const char *id)
{
    ASN1_OCTET_STRING *d;

    /* only an SM2 signature has an ID: OpenSSL 3.0 fails the check of
     * any other (ECDSA, RSA) when the certificate carries one */
    if (X509_get_signature_nid(x) != NID_SM2_with_SM3 ||
        (d = ASN1_OCTET_STRING_new()) == NULL)
        return;
    if (!ASN1_OCTET_STRING_set(d, (const unsigned char *)id, (int)strlen(id))) {
        ASN1_OCTET_STRING_free(d);
        return;
    }
    X509_set0_distinguishing_id(x, d);   /* takes ownership */
}

/* Contract: see ses_int.h. */
void ses_set_distid(X509 *x, const char *id)
{
    set_distid(x, id);
}

/* Load every certificate of the PEM or DER file buf into store. */
static int store_add_file(X509_STORE *store, const uint8_t *buf, size_t len,
                          const char *id)
{
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    X509 *x;
    int n = 0;

    if (b == NULL)
        return 0;
    while (n < SES_MAX_CERTS && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        set_distid(x, id);
        if (X509_STORE_add_cert(store, x))
            n++;
        X509_free(x);
    }
    BIO_free(b);
    ERR_clear_error();
    if (n == 0 && sm2_cert_parse(buf, len, &x, NULL) == ERR_OK) {
        set_distid(x, id);
        if (X509_STORE_add_cert(store, x))
            n++;
        X509_free(x);
    }
    ERR_clear_error();
    return n;
}

/* Contract: see ses.h. */
err_code ses_trust_load(const char *dir, const char *id, X509_STORE **out,
                        int *count, struct err *e)
{
    err_code rc = ERR_OK;
    X509_STORE *store = NULL;
    DIR *d = NULL;
    struct dirent *de;
    int files = 0;

    *out = NULL;
    *count = 0;
    if (id == NULL)
        id = SM2_DEFAULT_ID;
    store = X509_STORE_new();
    if (store == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    d = opendir(dir);
    if (d == NULL) {
        rc = err_set(e, ERR_IO, "cannot read trust directory %s", dir);
        goto done;
    }
    while ((de = readdir(d)) != NULL && files < SES_MAX_TRUST_FILES) {
        char path[4096];
        uint8_t *buf = NULL;
        size_t len = 0;
        if (de->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
            sizeof(path))
            continue;
        if (util_read_file(path, SES_MAX_TRUST_FILE, &buf, &len, NULL) !=
            ERR_OK)
            continue;
        files++;
        *count += store_add_file(store, buf, len, id);
        free(buf);
    }
    *out = store;
    store = NULL;
done:
    if (d != NULL)
        closedir(d);
    X509_STORE_free(store);
    return rc;
}

/* Validity window of the chain ctx verified: the latest notBefore and the
 * earliest notAfter of its certificates.  0 if a date is unreadable. */
static int chain_window(X509_STORE_CTX *ctx, time_t *nb, time_t *na)
{
    STACK_OF(X509) *ch = X509_STORE_CTX_get0_chain(ctx);
    int i, n = ch ? sk_X509_num(ch) : 0;
    time_t b, a;

    if (n <= 0)
        return 0;
    for (i = 0; i < n; i++) {
        X509 *x = sk_X509_value(ch, i);
        if (ses_time_get(&b, X509_get0_notBefore(x), "notBefore", NULL) !=
                ERR_OK ||
            ses_time_get(&a, X509_get0_notAfter(x), "notAfter", NULL) !=
                ERR_OK)
            return 0;
        if (i == 0 || b > *nb)
            *nb = b;
        if (i == 0 || a < *na)
            *na = a;
    }
    return 1;
}

/* Chain result for one certificate: status + reason into out (json).
 * nb == NULL: checked at time at.  Otherwise checked without any time
 * check, and *nb / *na get the chain's validity window (passed only).
 * untrusted (may be NULL): intermediates the signed object carries. */
static json_t *chain_one(X509_STORE *store, int anchors, X509 *leaf,
                         STACK_OF(X509) *untrusted, time_t at, const char *id,
                         const char **status, time_t *nb, time_t *na)
{
    json_t *j = json_object();
    X509_STORE_CTX *ctx = NULL;
    int err;

    *status = ST_INDETERMINATE;
    if (j == NULL)
        return NULL;
    if (leaf == NULL) {
        json_object_set_new(j, "reason", json_string("no certificate"));
        goto done;
    }
    if (store == NULL || anchors == 0) {
        json_object_set_new(j, "reason",
                            json_string("no trust anchors configured"));
        goto done;
    }
    set_distid(leaf, id);
    ctx = X509_STORE_CTX_new();
    if (ctx == NULL || !X509_STORE_CTX_init(ctx, store, leaf, untrusted)) {
        json_object_set_new(j, "reason", json_string("cannot set up check"));
        goto done;
    }
    if (nb == NULL)
        X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
    else
        X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
                                    X509_V_FLAG_NO_CHECK_TIME);
    if (X509_verify_cert(ctx) == 1) {
        *status = ST_PASSED;
        if (nb != NULL && !chain_window(ctx, nb, na)) {
            *status = ST_FAILED;
            json_object_set_new(j, "reason",
                                json_string("certificate dates unreadable"));
        }
        goto done;
    }
    err = X509_STORE_CTX_get_error(ctx);
    switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        *status = ST_INDETERMINATE;
        break;
    default:
        *status = ST_FAILED;
        break;
    }
    json_object_set_new(j, "reason",
                        json_string(X509_verify_cert_error_string(err)));
    json_object_set_new(j, "depth",
                        json_integer(X509_STORE_CTX_get_error_depth(ctx)));
done:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    json_object_set_new(j, "status", json_string(*status));
    return j;
}

/* Contract: see ses.h. */
err_code ses_trust_load_pem(const uint8_t *buf, size_t len, const char *id,
                            X509_STORE **out, int *count, struct err *e)
{
    *count = 0;
    if ((*out = X509_STORE_new()) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    *count = store_add_file(*out, buf, len, id ? id : SM2_DEFAULT_ID);
    return ERR_OK;
}

/* Contract: see ses.h. */
int ses_chain_verify(X509_STORE *store, X509 *leaf, time_t at,
                     const char *id, char *why, size_t cap)
{
    const char *status = ST_INDETERMINATE;
    json_t *j = chain_one(store, store != NULL, leaf, NULL, at,
                          id ? id : SM2_DEFAULT_ID, &status, NULL, NULL);
    const char *reason = json_string_value(json_object_get(j, "reason"));
    int ok = j != NULL && strcmp(status, ST_PASSED) == 0;

    snprintf(why, cap, "%s", ok ? "" : reason ? reason : "out of memory");
    json_decref(j);
    return ok;
}

static int status_rank(const char *s)
{
    if (strcmp(s, ST_FAILED) == 0)
        return 3;
    if (strcmp(s, ST_INDETERMINATE) == 0)
        return 2;
    if (strcmp(s, ST_PASSED) == 0)
        return 1;
    return 0;
}

/* certificate_chain check over the (role, cert, time) list, with the
 * intermediates untrusted (may be NULL). */
static void chain_check(json_t *checks, const struct ses_verify_opts *o,
                        const char *const *roles, X509 *const *certs,
                        const time_t *at, size_t n, STACK_OF(X509) *untrusted)
{
    X509_STORE *store = NULL;
    int anchors = 0;
    size_t i;
    const char *worst = ST_PASSED, *st;
    const char *id = SM2_DEFAULT_ID;     /* certificates use the default ID */
    json_t *c = json_object(), *sub;
    char reason[ERR_MSG_MAX] = "";

    if (c == NULL)
        return;
    if (o->trust_store != NULL) {
        anchors = sk_X509_OBJECT_num(X509_STORE_get0_objects(o->trust_store));
        if (anchors < 0)
            anchors = 0;
    } else if (o->trust_dir != NULL &&
               ses_trust_load(o->trust_dir, id, &store, &anchors, NULL) !=
                   ERR_OK) {
        store = NULL;
        anchors = 0;
    }
    for (i = 0; i < n; i++) {
        sub = chain_one(o->trust_store ? o->trust_store : store, anchors,
                        certs[i], untrusted, at[i], id, &st, NULL, NULL);
        if (status_rank(st) > status_rank(worst)) {
            worst = st;
            snprintf(reason, sizeof(reason), "%s certificate: %s", roles[i],
                     json_string_value(json_object_get(sub, "reason")) ?
                     json_string_value(json_object_get(sub, "reason")) : "");
        }
        json_object_set_new(c, roles[i], sub);
    }
    json_object_set_new(c, "status", json_string(worst));
    if (reason[0])
        json_object_set_new(c, "reason", json_string(reason));
    json_object_set_new(c, "anchors", json_integer(anchors));
    json_object_set_new(checks, "certificate_chain", c);
    X509_STORE_free(store);
}

/* ---- individual checks --------------------------------------------------- */

static void sig_check(json_t *checks, const char *name, X509 *cert,
                      const char *alg, const struct ses_bytes *msg,
                      const struct ses_bytes *sig, const char *id)
{
    struct err e;
    int ok = 0;

    if (cert == NULL) {
        check_set(checks, name, ST_INDETERMINATE, "no usable certificate");
        return;
    }
    if (strcmp(alg, SM2_OID_SM2_SM3) != 0) {
        check_set(checks, name, ST_FAILED, "unsupported algorithm %s", alg);
        return;
    }
    err_clear(&e);
    if (sm2_verify_cert(cert, id, msg->p, msg->len, sig->p, sig->len, &ok,
                        &e) != ERR_OK) {
        check_set(checks, name, ST_FAILED, "%s", e.msg);
        return;
    }
    if (ok)
        check_set(checks, name, ST_PASSED, NULL);
    else
        check_set(checks, name, ST_FAILED,
                  "SM2 signature does not verify over the signed bytes");
}

/* The certificate's validity at time at.  A failure names the
 * certificate's own period (notBefore, notAfter) and says which side it
 * falls on ("window": "not_yet_valid" or "expired", read by conclude). */
static void validity_check(json_t *checks, const char *name, X509 *cert,
                           time_t at)
{
    char buf[21], nb[32] = "?", na[32] = "?";
    const char *window = NULL;
    time_t tb, ta;
    int r1, r2;

    util_time_rfc3339(at, buf);
    if (cert == NULL) {
        check_set(checks, name, ST_NOT_CHECKED, "no usable certificate");
        return;
    }
    if (ses_time_get(&tb, X509_get0_notBefore(cert), "notBefore", NULL) ==
        ERR_OK)
        util_time_rfc3339(tb, nb);
    if (ses_time_get(&ta, X509_get0_notAfter(cert), "notAfter", NULL) ==
        ERR_OK)
        util_time_rfc3339(ta, na);
    r1 = X509_cmp_time(X509_get0_notBefore(cert), &at);
    r2 = X509_cmp_time(X509_get0_notAfter(cert), &at);
    if (r1 == 0 || r2 == 0) {
        check_set(checks, name, ST_FAILED, "certificate dates unreadable");
    } else if (r1 > 0) {
        window = "not_yet_valid";
        check_set(checks, name, ST_FAILED, "certificate not yet valid: "
                  "valid from %s (notBefore) to %s (notAfter); validation "
                  "time %s is before notBefore", nb, na, buf);
    } else if (r2 < 0) {
        window = "expired";
        check_set(checks, name, ST_FAILED, "certificate expired: valid from "
                  "%s (notBefore) to %s (notAfter); validation time %s is "
                  "after notAfter", nb, na, buf);
    } else {
        check_set(checks, name, ST_PASSED, "valid at %s (from %s to %s)",
                  buf, nb, na);
    }
    if (window != NULL)
        json_object_set_new(json_object_get(checks, name), "window",
                            json_string(window));
    ERR_clear_error();
}

/* Timestamp check of a token over sig_value (ses_ts_token_verify against
 * the TSA anchors of o): passed, failed (not a token, imprint or TSA
 * signature wrong: "failure" says which) or indeterminate (TSA not
 * trusted), with genTime, the TSA and the imprint's hash in the check.
 * sig_value NULL (a seal's own timeStamp): the token is only read.  1 when
 * it passed: *gen is then genTime, a proof of existence. */
static int timestamp_check(json_t *checks, const struct ses_bytes *ts,
                           int present, const struct ses_bytes *sig_value,
                           const struct ses_verify_opts *o, time_t *gen)
{
    struct ses_ts_info info;
    enum ses_ts_result r;
    struct ses_bytes none = {NULL, 0};
    json_t *c;

    if (!present) {
        check_set(checks, "timestamp", ST_NOT_CHECKED, "no timestamp");
        return 0;
    }
    r = ses_ts_token_verify(ts->p, ts->len, sig_value ? sig_value : &none,
                            sig_value ? o->tsa_store : NULL, &info);
    if (sig_value == NULL) {
        if (info.parsed)
            check_set(checks, "timestamp", ST_NOT_CHECKED, "the seal's own "
                      "timeStamp is read but not verified");
        else
            check_set(checks, "timestamp", ST_INDETERMINATE,
                      "present but not a valid token");
    } else {
        check_set(checks, "timestamp", r == SES_TS_PASSED ? ST_PASSED :
                  r == SES_TS_FAILED ? ST_FAILED : ST_INDETERMINATE, "%s",
                  info.reason);
    }
    c = json_object_get(checks, "timestamp");
    if (c != NULL && info.parsed) {
        json_object_set_new(c, "gen_time", ses_json_time(info.gen_time));
        json_object_set_new(c, "hash", json_string(info.hash));
        json_object_set_new(c, "tsa", ses_json_text(info.tsa,
                                                    strlen(info.tsa)));
    }
    if (c != NULL && r == SES_TS_FAILED && sig_value != NULL)
        json_object_set_new(c, "failure", json_string(
            info.imprint_failed ? "imprint" : info.parsed ? "signature"
                                                          : "format"));
    if (sig_value == NULL || r != SES_TS_PASSED)
        return 0;
    *gen = info.gen_time;
    return 1;
}

static void seal_window_check(json_t *checks, const struct ses_seal *s,
                              time_t at)
{
    char buf[21], vs[21], ve[21];

    util_time_rfc3339(at, buf);
    util_time_rfc3339(s->valid_start, vs);
    util_time_rfc3339(s->valid_end, ve);
    if (at < s->valid_start)
        check_set(checks, "seal_validity", ST_FAILED,
                  "seal not yet valid: valid from %s to %s; validation time "
                  "%s is before its start", vs, ve, buf);
    else if (at > s->valid_end)
        check_set(checks, "seal_validity", ST_FAILED,
                  "seal expired: valid from %s to %s; validation time %s is "
                  "after its end", vs, ve, buf);
    else
        check_set(checks, "seal_validity", ST_PASSED,
                  "valid at %s (from %s to %s)", buf, vs, ve);
}

/* maker_json (borrowed, copied; may be NULL) wins over maker. */
static json_t *seal_summary(const struct ses_seal *s, X509 *maker,
                            const json_t *maker_json)
{
    json_t *j = json_object();

    if (j == NULL)
        return NULL;
    json_object_set_new(j, "format", json_string(
        s->format == SES_FMT_V1 ? "v1" : s->format == SES_FMT_V5 ? "v5" : "v4"));
    json_object_set_new(j, "es_id", ses_json_text(s->es_id, strlen(s->es_id)));
    json_object_set_new(j, "name", ses_json_text(s->name, strlen(s->name)));
    json_object_set_new(j, "type", json_integer(s->type));
    json_object_set_new(j, "valid_start", ses_json_time(s->valid_start));
    json_object_set_new(j, "valid_end", ses_json_time(s->valid_end));
    json_object_set_new(j, "timestamp_present", json_boolean(s->has_timestamp));
    json_object_set_new(j, "maker", maker_json ? json_deep_copy(maker_json) :
                        maker ? ses_cert_json_x509(maker) :
                        ses_cert_to_json(s->maker_cert.p, s->maker_cert.len));
    return j;
}

/* Is the signer certificate listed in the seal (cert or SM3 digest)? */
static void signer_in_seal_check(json_t *checks, const struct ses_seal *s,
                                 const struct ses_bytes *cert)
{
    uint8_t h[SM3_DIGEST_LEN];
    size_t i;
    int have_hash = sm2_sm3(cert->p, cert->len, h, NULL) == ERR_OK;

    if (s->n_certs == 0) {
        check_set(checks, "signer_in_seal", ST_FAILED,
                  "seal lists no certificates");
        return;
    }
    for (i = 0; i < s->n_certs; i++) {
        const struct ses_certref *c = &s->certs[i];
        if (c->digest_type[0] == '\0') {
            if (c->der.len == cert->len &&
                memcmp(c->der.p, cert->p, cert->len) == 0) {
                check_set(checks, "signer_in_seal", ST_PASSED,
                          "certificate %zu of the seal's certList", i);
                return;
            }
        } else if (have_hash && c->der.len == SM3_DIGEST_LEN &&
                   memcmp(c->der.p, h, SM3_DIGEST_LEN) == 0) {
            check_set(checks, "signer_in_seal", ST_PASSED,
                      "matches certDigestList entry %zu", i);
            return;
        }
    }
    check_set(checks, "signer_in_seal", ST_FAILED,
              "signer certificate not in the seal's certList");
}

static X509 *parse_cert(const struct ses_bytes *b)
{
    X509 *x = NULL;

    if (b->p == NULL || sm2_cert_parse(b->p, b->len, &x, NULL) != ERR_OK)
        return NULL;
    return x;
}

/* Common seal checks at validation time at; returns the maker cert
 * (caller frees). */
static X509 *seal_checks(json_t *checks, const struct ses_seal *s,
                         const char *id, time_t at)
{
    X509 *maker = parse_cert(&s->maker_cert);

    sig_check(checks, "seal_signature", maker, s->sig_alg, &s->signed_part,
              &s->sig_value, id);
    validity_check(checks, "maker_certificate_validity", maker, at);
    return maker;
}

/* ---- precomputed seal and chain results ---------------------------------- */

#define PRE_ROLES 2                /* 0 signer, 1 maker */

struct ses_seal_result {
    X509 *signer, *maker;          /* parsed, or NULL when unusable */
    json_t *seal_signature;        /* the seal_signature check object  */
    json_t *chain[PRE_ROLES];      /* per-role chain result, no time   */
    const char *chain_status[PRE_ROLES];
    time_t not_before[PRE_ROLES], not_after[PRE_ROLES];
    int anchors;
    json_t *signer_json, *maker_json;
};

/* Contract: see ses.h. */
void ses_seal_result_free(struct ses_seal_result *r)
{
    int i;

    if (r == NULL)
        return;
    X509_free(r->signer);
    X509_free(r->maker);
    json_decref(r->seal_signature);
    for (i = 0; i < PRE_ROLES; i++)
        json_decref(r->chain[i]);
    json_decref(r->signer_json);
    json_decref(r->maker_json);
    free(r);
}

/* Contract: see ses.h. */
err_code ses_seal_result_new(const struct ses_signature *s,
                             const struct ses_verify_opts *o,
                             struct ses_seal_result **out, struct err *e)
{
    struct ses_seal_result *r = calloc(1, sizeof(*r));
    json_t *tmp = json_object();
    const char *id = o->signer_id ? o->signer_id : SM2_DEFAULT_ID;
    X509_STORE *store = NULL;
    X509 *certs[PRE_ROLES];
    err_code rc = ERR_OK;
    int i;

    *out = NULL;
    if (r == NULL || tmp == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    r->signer = parse_cert(&s->signer_cert);
    r->maker = parse_cert(&s->seal.maker_cert);
    sig_check(tmp, "seal_signature", r->maker, s->seal.sig_alg,
              &s->seal.signed_part, &s->seal.sig_value, id);
    r->seal_signature = json_incref(json_object_get(tmp, "seal_signature"));
    if (o->trust_store != NULL) {
        r->anchors =
            sk_X509_OBJECT_num(X509_STORE_get0_objects(o->trust_store));
    } else if (o->trust_dir != NULL &&
               ses_trust_load(o->trust_dir, SM2_DEFAULT_ID, &store,
                              &r->anchors, NULL) != ERR_OK) {
        store = NULL;
        r->anchors = 0;
    }
    if (r->anchors < 0)
        r->anchors = 0;
    certs[0] = r->signer;
    certs[1] = r->maker;
    for (i = 0; i < PRE_ROLES; i++)
        r->chain[i] = chain_one(o->trust_store ? o->trust_store : store,
                                r->anchors, certs[i], NULL, 0,
                                SM2_DEFAULT_ID,
                                &r->chain_status[i], &r->not_before[i],
                                &r->not_after[i]);
    r->signer_json = r->signer ? ses_cert_json_x509(r->signer) :
        ses_cert_to_json(s->signer_cert.p, s->signer_cert.len);
    r->maker_json = r->maker ? ses_cert_json_x509(r->maker) :
        ses_cert_to_json(s->seal.maker_cert.p, s->seal.maker_cert.len);
    if (r->seal_signature == NULL || r->chain[0] == NULL ||
        r->chain[1] == NULL || r->signer_json == NULL ||
        r->maker_json == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    *out = r;
    r = NULL;
done:
    ERR_clear_error();
    X509_STORE_free(store);
    json_decref(tmp);
    ses_seal_result_free(r);
    return rc;
}

/* certificate_chain check from pre, with each chain's validity window
 * applied at time at. */
static void chain_check_pre(json_t *checks, const struct ses_seal_result *pre,
                            time_t at)
{
    static const char *const roles[PRE_ROLES] = {"signer", "maker"};
    const char *worst = ST_PASSED, *st, *why;
    json_t *c = json_object(), *sub;
    char reason[ERR_MSG_MAX] = "";
    int i;

    if (c == NULL)
        return;
    for (i = 0; i < PRE_ROLES; i++) {
        sub = json_deep_copy(pre->chain[i]);
        st = pre->chain_status[i];
        if (sub == NULL)
            continue;
        if (strcmp(st, ST_PASSED) == 0 &&
            (at < pre->not_before[i] || at > pre->not_after[i])) {
            st = ST_FAILED;
            json_object_set_new(sub, "status", json_string(st));
            char nb[21], na[21], msg[160];
            util_time_rfc3339(pre->not_before[i], nb);
            util_time_rfc3339(pre->not_after[i], na);
            snprintf(msg, sizeof(msg), "%s (the chain is valid from %s to "
                     "%s)", X509_verify_cert_error_string(
                         at < pre->not_before[i] ?
                         X509_V_ERR_CERT_NOT_YET_VALID :
                         X509_V_ERR_CERT_HAS_EXPIRED), nb, na);
            json_object_set_new(sub, "reason", json_string(msg));
        }
        if (status_rank(st) > status_rank(worst)) {
            worst = st;
            why = json_string_value(json_object_get(sub, "reason"));
            snprintf(reason, sizeof(reason), "%s certificate: %s", roles[i],
                     why ? why : "");
        }
        json_object_set_new(c, roles[i], sub);
    }
    json_object_set_new(c, "status", json_string(worst));
    if (reason[0])
        json_object_set_new(c, "reason", json_string(reason));
    json_object_set_new(c, "anchors", json_integer(pre->anchors));
    json_object_set_new(checks, "certificate_chain", c);
}

static json_t *verify_signature_impl(const struct ses_signature *s,
                                     const struct ses_seal_result *pre,
                                     const struct ses_verify_opts *o,
                                     struct err *e);

/* Contract: see ses.h. */
json_t *ses_verify_signature(const struct ses_signature *s,
                             const struct ses_verify_opts *o, struct err *e)
{
    return verify_signature_impl(s, NULL, o, e);
}

/* Contract: see ses.h. */
json_t *ses_verify_signature_pre(const struct ses_signature *s,
                                 const struct ses_seal_result *pre,
                                 const struct ses_verify_opts *o,
                                 struct err *e)
{
    return verify_signature_impl(s, pre, o, e);
}

/* The signature report; pre (may be NULL) supplies the seal and chain
 * results, which are then neither recomputed nor modified. */
static json_t *verify_signature_impl(const struct ses_signature *s,
                                     const struct ses_seal_result *pre,
                                     const struct ses_verify_opts *o,
                                     struct err *e)
{
    json_t *r = json_object(), *checks = json_object();
    X509 *signer = NULL, *maker = NULL;
    const char *id = o->signer_id ? o->signer_id : SM2_DEFAULT_ID;
    time_t at = 0, ts_time = 0;
    const char *src;
    int ts_ok;

    if (r == NULL || checks == NULL) {
        json_decref(r);
        json_decref(checks);
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    signer = pre ? pre->signer : parse_cert(&s->signer_cert);
    if (signer == NULL)
        check_set(checks, "structure", ST_FAILED,
                  "signer certificate is not a valid certificate");
    else if (!sm2_is_sm2_key(X509_get0_pubkey(signer)))
        check_set(checks, "structure", ST_FAILED,
                  "signer certificate key is not SM2");
    else
        check_set(checks, "structure", ST_PASSED, "SES_Signature %s",
                  s->format == SES_FMT_V1 ? "v1 (GM/T 0031-2014)" :
                  s->format == SES_FMT_V5 ? "v5 (GM/T 0031-2025)" :
                  "v4 (GB/T 38540)");
    ts_ok = timestamp_check(checks, &s->timestamp, s->has_timestamp,
                            &s->sig_value, o, &ts_time);
    if (ts_ok) {
        at = ts_time;
        src = "timestamp";
    } else if (s->time_info_ok) {
        at = s->time_info;
        src = "tbs_time_info";
    } else {
        at = time(NULL);
        src = "current_time";
    }
    sig_check(checks, "signature", signer, s->sig_alg, &s->tbs, &s->sig_value,
              id);
    if (pre != NULL) {
        maker = pre->maker;
        json_object_set_new(checks, "seal_signature",
                            json_deep_copy(pre->seal_signature));
        validity_check(checks, "maker_certificate_validity", maker, at);
    } else {
        maker = seal_checks(checks, &s->seal, id, at);
    }
    if (o->data != NULL || o->hash != NULL) {
        uint8_t h[SM3_DIGEST_LEN];
        const uint8_t *want = o->hash;
        size_t want_len = o->hash_len;
        if (o->data != NULL && sm2_sm3(o->data, o->data_len, h, e) == ERR_OK) {
            want = h;
            want_len = SM3_DIGEST_LEN;
        }
        if (want == NULL)
            check_set(checks, "data_hash", ST_INDETERMINATE,
                      "cannot hash the document");
        else if (want_len == s->data_hash.len &&
                 util_ct_equal(want, s->data_hash.p, want_len))
            check_set(checks, "data_hash", ST_PASSED,
                      "SM3 of the document matches dataHash");
        else
            check_set(checks, "data_hash", ST_FAILED,
                      "SM3 of the document does not match dataHash");
    } else {
        check_set(checks, "data_hash", ST_NOT_CHECKED,
                  "no document or hash given");
    }
    signer_in_seal_check(checks, &s->seal, &s->signer_cert);
    seal_window_check(checks, &s->seal, at);
    validity_check(checks, "signer_certificate_validity", signer, at);
    if (pre != NULL) {
        chain_check_pre(checks, pre, at);
    } else {
        const char *roles[2] = {"signer", "maker"};
        X509 *certs[2] = {signer, maker};
        time_t when[2] = {at, at};
        chain_check(checks, o, roles, certs, when, 2, NULL);
    }
    json_object_set_new(r, "kind", json_string("signature"));
    json_object_set_new(r, "validation_time", ses_json_time(at));
    json_object_set_new(r, "validation_time_source", json_string(src));
    conclude(r, checks);
    json_object_set_new(r, "checks", checks);
    if (pre != NULL) {
        json_object_set_new(r, "seal",
                            seal_summary(&s->seal, NULL, pre->maker_json));
        json_object_set_new(r, "signer", json_deep_copy(pre->signer_json));
    } else {
        json_object_set_new(r, "seal", seal_summary(&s->seal, maker, NULL));
        json_object_set_new(r, "signer", signer ? ses_cert_json_x509(signer) :
                            ses_cert_to_json(s->signer_cert.p,
                                             s->signer_cert.len));
        X509_free(signer);
        X509_free(maker);
    }
    return r;
}

/* Contract: see ses.h. */
json_t *ses_verify_seal(const struct ses_seal *s,
                        const struct ses_verify_opts *o, struct err *e)
{
    json_t *r = json_object(), *checks = json_object();
    X509 *maker = NULL;
    const char *id = o->signer_id ? o->signer_id : SM2_DEFAULT_ID;
    time_t at, ts_time = 0;
    const char *src;

    if (r == NULL || checks == NULL) {
        json_decref(r);
        json_decref(checks);
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (timestamp_check(checks, &s->timestamp, s->has_timestamp, NULL, o,
                        &ts_time)) {
        at = ts_time;
        src = "timestamp";
    } else {
        at = s->create_date;
        src = "seal_create_date";
    }
    maker = seal_checks(checks, s, id, at);
    if (maker == NULL)
        check_set(checks, "structure", ST_FAILED,
                  "maker certificate is not a valid certificate");
    else
        check_set(checks, "structure", ST_PASSED, "SESeal %s",
                  s->format == SES_FMT_V1 ? "v1 (GM/T 0031-2014)" :
                  s->format == SES_FMT_V5 ? "v5 (GM/T 0031-2025)" :
                  "v4 (GB/T 38540)");
    seal_window_check(checks, s, at);
    {
        const char *roles[1] = {"maker"};
        X509 *certs[1] = {maker};
        time_t when[1] = {at};
        chain_check(checks, o, roles, certs, when, 1, NULL);
    }
    json_object_set_new(r, "kind", json_string("seal"));
    json_object_set_new(r, "validation_time", ses_json_time(at));
    json_object_set_new(r, "validation_time_source", json_string(src));
    conclude(r, checks);
    json_object_set_new(r, "checks", checks);
    json_object_set_new(r, "seal", seal_summary(s, maker, NULL));
    X509_free(maker);
    return r;
}

/* ---- GB/T 35275 SignedData ----------------------------------------------- */

/* data_hash of a detached SignedData with signed attributes, or of the
 * messageDigest of an attached one: md against the SM3 want (NULL:
 * unknown).  1 when it passed. */
static int sd_digest_check(json_t *checks, const struct ses_signed_data *s,
                           const uint8_t *want, const char *of)
{
    if (!s->has_message_digest) {
        check_set(checks, "data_hash", ST_FAILED,
                  "signed attributes without messageDigest");
        return 0;
    }
    if (want == NULL) {
        check_set(checks, "data_hash", ST_NOT_CHECKED,
                  "detached SignedData: no document or hash given");
        return 0;
    }
    if (s->message_digest.len == SM3_DIGEST_LEN &&
        util_ct_equal(s->message_digest.p, want, SM3_DIGEST_LEN))
        return 1;
    check_set(checks, "data_hash", ST_FAILED,
              "messageDigest is not SM3 of %s", of);
    return 0;
}

/* The document binding (data_hash) of s, except for a detached SignedData
 * without signed attributes, whose binding is its signature (sd_verify). */
static void sd_binding_check(json_t *checks, const struct ses_signed_data *s,
                             const struct ses_verify_opts *o)
{
    uint8_t doc_h[SM3_DIGEST_LEN], content_h[SM3_DIGEST_LEN];
    const uint8_t *want = NULL;

    if (o->data != NULL &&
        sm2_sm3(o->data, o->data_len, doc_h, NULL) == ERR_OK)
        want = doc_h;
    else if (o->data == NULL && o->hash != NULL &&
             o->hash_len == SM3_DIGEST_LEN)
        want = o->hash;
    if (strcmp(s->digest_alg, SM2_OID_SM3) != 0) {
        check_set(checks, "data_hash", ST_INDETERMINATE,
                  "digest algorithm %s not supported (SM3 only)",
                  s->digest_alg);
        return;
    }
    if (s->has_content_type_attr &&
        strcmp(s->content_type_attr, s->content_type) != 0) {
        check_set(checks, "data_hash", ST_FAILED, "contentType attribute %s "
                  "is not the content's type %s", s->content_type_attr,
                  s->content_type);
        return;
    }
    if (!s->has_content) {
        if (sd_digest_check(checks, s, want, "the document"))
            check_set(checks, "data_hash", ST_PASSED,
                      "messageDigest is SM3 of the document");
        return;
    }
    /* attached: the signed attributes cover the content, the content must
     * be the document or its SM3 */
    if (s->has_signed_attrs &&
        (sm2_sm3(s->content.p, s->content.len, content_h, NULL) != ERR_OK ||
         !sd_digest_check(checks, s, content_h, "the encapsulated content")))
        return;
    if (want == NULL)
        check_set(checks, "data_hash", ST_NOT_CHECKED,
                  "no document or hash given");
    else if (s->content.len == SM3_DIGEST_LEN &&
             util_ct_equal(s->content.p, want, SM3_DIGEST_LEN))
        check_set(checks, "data_hash", ST_PASSED,
                  "the signed content is SM3 of the document");
    else if ((o->data != NULL && s->content.len == o->data_len &&
              memcmp(s->content.p, o->data, o->data_len) == 0) ||
             (o->data == NULL &&
              sm2_sm3(s->content.p, s->content.len, content_h, NULL) ==
                  ERR_OK &&
              util_ct_equal(content_h, want, SM3_DIGEST_LEN)))
        check_set(checks, "data_hash", ST_PASSED,
                  "the signed content is the document");
    else
        check_set(checks, "data_hash", ST_FAILED,
                  "the signed content is neither the document nor its SM3");
}

/* signature check: SM2 of signer over what it signed.  For a detached
 * SignedData without signed attributes that is the document itself, so
 * the signature is also its binding (data_hash). */
static void sd_signature_check(json_t *checks, const struct ses_signed_data *s,
                               X509 *signer, const struct ses_verify_opts *o)
{
    /* sm2-1 (301.1) names the same SM2 signature with SM3 as 501 */
    const char *alg = strcmp(s->sig_alg, SES_OID_SM2_SIGN) == 0 ?
                      SM2_OID_SM2_SM3 : s->sig_alg;
    const char *id = o->signer_id ? o->signer_id : SM2_DEFAULT_ID;
    struct ses_bytes msg = {NULL, 0};
    int detached_plain = !s->has_signed_attrs && !s->has_content;

    if (s->has_signed_attrs) {
        msg = s->signed_attrs;
    } else if (s->has_content) {
        msg = s->content;
    } else if (o->data != NULL) {
        msg.p = o->data;
        msg.len = o->data_len;
    }
    if (signer == NULL) {
        check_set(checks, "signature", ST_INDETERMINATE,
                  "signer certificate not in the SignedData");
    } else if (strcmp(s->digest_alg, SM2_OID_SM3) != 0) {
        check_set(checks, "signature", ST_FAILED,
                  "unsupported digest algorithm %s", s->digest_alg);
    } else if (msg.p == NULL) {
        check_set(checks, "signature", ST_INDETERMINATE, "detached "
                  "SignedData without signed attributes: the signature is "
                  "over the document, which was not given");
    } else {
        sig_check(checks, "signature", signer, alg, &msg, &s->sig_value, id);
    }
    if (!detached_plain)
        return;
    if (is_status(checks, "signature", ST_PASSED))
        check_set(checks, "data_hash", ST_PASSED,
                  "the signature is over the document itself");
    else if (is_status(checks, "signature", ST_FAILED) && o->data != NULL)
        check_set(checks, "data_hash", ST_FAILED,
                  "the signature does not verify over the document");
    else
        check_set(checks, "data_hash", ST_NOT_CHECKED,
                  "the signature over the document could not be checked");
}

/* Contract: see ses.h. */
json_t *ses_verify_signed_data(const struct ses_signed_data *s,
                               const struct ses_verify_opts *o, struct err *e)
{
    json_t *r = json_object(), *checks = json_object();
    SD_CONTENTINFO *ci = s->asn1_;
    STACK_OF(X509) *carried = ci->signed_data->certs;
    X509 *signer = parse_cert(&s->signer_cert);
    const char *id = o->signer_id ? o->signer_id : SM2_DEFAULT_ID;
    const char *src;
    time_t at;
    int i;

    if (r == NULL || checks == NULL) {
        json_decref(r);
        json_decref(checks);
        X509_free(signer);
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (signer != NULL && !sm2_is_sm2_key(X509_get0_pubkey(signer)))
        check_set(checks, "structure", ST_FAILED,
                  "signer certificate key is not SM2");
    else
        check_set(checks, "structure", ST_PASSED, "GB/T 35275 SignedData, "
                  "%s, %s signed attributes",
                  s->has_content ? "attached" : "detached",
                  s->has_signed_attrs ? "with" : "without");
    if (s->has_signing_time) {
        at = s->signing_time;
        src = "signing_time_attribute";
    } else if (o->claimed_time != 0) {
        at = o->claimed_time;
        src = "claimed_signing_time";
    } else {
        at = time(NULL);
        src = "current_time";
    }
    if (s->has_signed_attrs || s->has_content)
        sd_binding_check(checks, s, o);
    sd_signature_check(checks, s, signer, o);
    validity_check(checks, "signer_certificate_validity", signer, at);
    /* the carried certificates are the chain's intermediates: each needs
     * the SM2 ID to check the signature on the one below it */
    for (i = 0; carried != NULL && i < sk_X509_num(carried); i++)
        set_distid(sk_X509_value(carried, i), id);
    {
        const char *roles[1] = {"signer"};
        X509 *certs[1] = {signer};
        time_t when[1] = {at};
        chain_check(checks, o, roles, certs, when, 1, carried);
    }
    json_object_set_new(r, "kind", json_string("signed_data"));
    json_object_set_new(r, "validation_time", ses_json_time(at));
    json_object_set_new(r, "validation_time_source", json_string(src));
    conclude(r, checks);
    json_object_set_new(r, "checks", checks);
    json_object_set_new(r, "detached", json_boolean(!s->has_content));
    json_object_set_new(r, "signed_attributes",
                        json_boolean(s->has_signed_attrs));
    json_object_set_new(r, "content_type", json_string(s->content_type));
    json_object_set_new(r, "signer", signer ? ses_cert_json_x509(signer) :
                        json_null());
    X509_free(signer);
    return r;
}
