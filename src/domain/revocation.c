/*
 * revocation.c - owns the trust anchors' revocation data (revocation.h):
 * the sidecar files, the CRL and issuer status list sources, reading them
 * from files or URLs (fetch_url), checking them, and the in-memory cache
 * refreshed by their nextUpdate; the OCSP requests to a CA's responder,
 * the checks of its answers and their cache per certificate.  What a
 * revocation means for a report is verify.c's.  No HTTP serving and no
 * SQL here.
 */
#include "revocation.h"

#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fetch.h"
#include "log.h"
#include "sm2.h"
#include "statuslist.h"
#include "util.h"

#define REV_NAME_MAX 256

/* One source: a CRL or a status list, its last good copy and when it was
 * last read.  mu guards everything below it. */
struct source {
    char            loc[REV_LOC_MAX];    /* absolute FILE or URL         */
    int             is_url;
    pthread_mutex_t mu;
    int64_t         tried_ms;            /* last read attempt, 0 never    */
    struct stat     st;                  /* FILE: what was read           */
    char            err[160];            /* last failure, "" none         */
    X509_CRL       *crl;                 /* CRL: last valid copy          */
    json_t         *list;                /* status list: last valid copy  */
    int64_t         this_ms, next_ms;    /* of the copy held              */
};

/* ocsp_nonce: send a nonce and accept an answer without it on its times
 * alone (optional), refuse such an answer (required), send none (off:
 * for responders that serve pre-produced answers and refuse nonces). */
enum { NONCE_OPTIONAL = 0, NONCE_REQUIRED, NONCE_OFF };

struct ocsp_cache;

struct anchor {
    char           name[REV_NAME_MAX];
    X509          *certs[REV_MAX_CERTS]; /* NAME's anchor file            */
    int            n_certs;
    struct source  crls[REV_MAX_CRLS];
    int            n_crls;
    struct source  list;                 /* list.loc[0] == 0: none        */
    uint8_t        signer_sha256[32];
    int64_t        retry_ms;
    char           ocsp[REV_LOC_MAX];    /* responder URL, "" none        */
    int            ocsp_aia;             /* ocsp = aia                    */
    int            ocsp_nonce;           /* NONCE_*                       */
    int64_t        ocsp_max_age_ms;
    struct ocsp_cache *oc;               /* NULL: no OCSP for this anchor */
};

/* What rev_cert_status needs of a certificate, kept so that a certificate
 * seen again costs an SM3 instead of a parse and a signature check
 * (OpenSSL 3 takes about 0.3 ms to parse an SM2 certificate, and about
 * 0.9 ms more to check its signature against an anchor, against about
 * 0.25 ms for a whole cached verification). */
struct memo {
    uint8_t       key[SM3_DIGEST_LEN];   /* SM3 of the DER               */
    int           used;                  /* 0: free slot                  */
    uint64_t      tick;
    int           anchor;                /* index in a, -1: none          */
    int           issuer_cert;           /* index in the anchor's certs   */
    char         *aia;                   /* AIA OCSP URL (malloc), or NULL */
    ASN1_INTEGER *serial;
    X509_NAME    *issuer;
    char          issuer_text[256];
};

struct rev_set {
    struct anchor  *a;
    int             n;
    pthread_mutex_t memo_mu;
    uint64_t        memo_tick;
    struct memo     memo[REV_MEMO_ENTRIES];
};

/* One certificate's OCSP answer, or the last failure to get one. */
struct ocsp_entry {
    int            used;                 /* 0: free slot                  */
    uint64_t       tick;
    int            cert;                 /* issuer: index in an->certs    */
    uint8_t        serial[64];           /* DER of the serial INTEGER     */
    int            serial_len;
    int            have;                 /* an answer below               */
    enum rev_state state;                /* REV_GOOD, _REVOKED or _HOLD   */
    int64_t        revoked_ms;
    int            reason;
    int64_t        this_ms, next_ms;     /* next_ms 0: none given          */
    int64_t        until_ms;             /* the answer is used before it  */
    int64_t        tried_ms;             /* last request, 0 never          */
    char           err[160];             /* last failure, "" none          */
};

/* An anchor's OCSP answers.  mu guards all of it and is held across a
 * request, so that one certificate checked by many threads at once costs
 * one request (the others wait for its answer). */
struct ocsp_cache {
    pthread_mutex_t   mu;
    uint64_t          tick;
    struct ocsp_entry e[REV_OCSP_ENTRIES];
};

/* A new empty cache (caller frees with ocsp_cache_free), or NULL. */
static struct ocsp_cache *
ocsp_cache_new(void)
{
    struct ocsp_cache *oc = calloc(1, sizeof(*oc));

    if (oc != NULL && pthread_mutex_init(&oc->mu, NULL) != 0) {
        free(oc);
        oc = NULL;
    }
    return oc;
}

static void
ocsp_cache_free(struct ocsp_cache *oc)
{
    if (oc == NULL)
        return;
    pthread_mutex_destroy(&oc->mu);
    free(oc);
}

/* ---- sidecar files ------------------------------------------------------ */

/* Give x the default SM2 ID, with which its signature (and those it
 * makes) are verified (GM/T 0015). */
static void
set_default_id(X509 *x)
{
    ASN1_OCTET_STRING *id = ASN1_OCTET_STRING_new();

    if (id != NULL &&
        ASN1_OCTET_STRING_set(id, (const unsigned char *)SM2_DEFAULT_ID,
                              (int)strlen(SM2_DEFAULT_ID)))
        X509_set0_distinguishing_id(x, id);
    else
        ASN1_OCTET_STRING_free(id);
    ERR_clear_error();
}

/* The certificates of NAME's anchor file (first of NAME.pem, .crt, .cer,
 * .der that exists), each with the default SM2 ID for verifications. */
static void
anchor_certs(const char *dir, struct anchor *an)
{
    static const char *const ext[] = {".pem", ".crt", ".cer", ".der"};
    char path[REV_LOC_MAX + REV_NAME_MAX];
    uint8_t *buf = NULL;
    size_t len = 0, i;
    BIO *b;
    X509 *x;

    for (i = 0; i < sizeof(ext) / sizeof(ext[0]) && buf == NULL; i++)
        if ((size_t)snprintf(path, sizeof(path), "%s/%s%s", dir, an->name,
                             ext[i]) < sizeof(path))
            (void)util_read_file(path, REV_CONF_MAX * 4, &buf, &len, NULL);
    if (buf == NULL)
        return;
    if ((b = BIO_new_mem_buf(buf, (int)len)) != NULL) {
        while (an->n_certs < REV_MAX_CERTS &&
               (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
            an->certs[an->n_certs++] = x;
        BIO_free(b);
    }
    ERR_clear_error();
    if (an->n_certs == 0 && sm2_cert_parse(buf, len, &x, NULL) == ERR_OK)
        an->certs[an->n_certs++] = x;
    for (i = 0; i < (size_t)an->n_certs; i++)
        set_default_id(an->certs[i]);
    free(buf);
}

/* src names value (a FILE relative to dir, or an http(s) URL). */
static err_code
source_init(struct source *src, const char *dir, const char *value,
            struct err *e)
{
    int n;

    src->is_url = strncmp(value, "http://", 7) == 0 ||
                  strncmp(value, "https://", 8) == 0;
    n = src->is_url || value[0] == '/'
            ? snprintf(src->loc, sizeof(src->loc), "%s", value)
            : snprintf(src->loc, sizeof(src->loc), "%s/%s", dir, value);
    if (n < 0 || (size_t)n >= sizeof(src->loc))
        return err_set(e, ERR_CONFIG, "location too long");
    if (pthread_mutex_init(&src->mu, NULL) != 0)
        return err_set(e, ERR_NOMEM, "cannot create mutex");
    return ERR_OK;
}

static void
source_free(struct source *src)
{
    if (src->loc[0] == '\0')
        return;
    X509_CRL_free(src->crl);
    json_decref(src->list);
    pthread_mutex_destroy(&src->mu);
}

static char *
trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* One "key = value" line of a sidecar into an. */
static err_code
conf_line(const char *dir, struct anchor *an, char *line, struct err *e)
{
    char *eq = strchr(line, '='), *key, *val;
    long n;

    if (eq == NULL)
        return err_set(e, ERR_CONFIG, "expected key = value");
    *eq = '\0';
    key = trim(line);
    val = trim(eq + 1);
    if (strcmp(key, "crl") == 0) {
        if (an->n_crls >= REV_MAX_CRLS)
            return err_set(e, ERR_CONFIG, "more than %d crl lines",
                           REV_MAX_CRLS);
        return source_init(&an->crls[an->n_crls++], dir, val, e);
    }
    if (strcmp(key, "status_list") == 0) {
        if (an->list.loc[0] != '\0')
            return err_set(e, ERR_CONFIG, "status_list given twice");
        return source_init(&an->list, dir, val, e);
    }
    if (strcmp(key, "status_signer_sha256") == 0) {
        size_t got = 0;
        if (util_hex_decode(val, an->signer_sha256, 32, &got, NULL) !=
                ERR_OK || got != 32)
            return err_set(e, ERR_CONFIG, "status_signer_sha256: 64 hex "
                           "digits expected");
        return ERR_OK;
    }
    if (strcmp(key, "retry_seconds") == 0) {
        if (util_parse_long(val, 0, REV_RETRY_S_MAX, &n, e) != ERR_OK)
            return err_wrap(e, ERR_CONFIG, "retry_seconds");
        an->retry_ms = n * 1000;
        return ERR_OK;
    }
    if (strcmp(key, "ocsp") == 0) {
        if (an->ocsp[0] != '\0' || an->ocsp_aia)
            return err_set(e, ERR_CONFIG, "ocsp given twice");
        if (strcmp(val, "aia") == 0) {
            an->ocsp_aia = 1;
            return ERR_OK;
        }
        if (strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8))
            return err_set(e, ERR_CONFIG, "ocsp: an http(s) URL or aia "
                           "expected");
        if ((size_t)snprintf(an->ocsp, sizeof(an->ocsp), "%s", val) >=
            sizeof(an->ocsp))
            return err_set(e, ERR_CONFIG, "ocsp: URL too long");
        return ERR_OK;
    }
    if (strcmp(key, "ocsp_max_age") == 0) {
        if (util_parse_long(val, 1, REV_RETRY_S_MAX, &n, e) != ERR_OK)
            return err_wrap(e, ERR_CONFIG, "ocsp_max_age");
        an->ocsp_max_age_ms = n * 1000;
        return ERR_OK;
    }
    if (strcmp(key, "ocsp_nonce") == 0) {
        if (strcmp(val, "optional") == 0)
            an->ocsp_nonce = NONCE_OPTIONAL;
        else if (strcmp(val, "required") == 0)
            an->ocsp_nonce = NONCE_REQUIRED;
        else if (strcmp(val, "off") == 0)
            an->ocsp_nonce = NONCE_OFF;
        else
            return err_set(e, ERR_CONFIG, "ocsp_nonce: optional, required "
                           "or off expected");
        return ERR_OK;
    }
    return err_set(e, ERR_CONFIG, "unknown key %.64s", key);
}

static void
anchor_free(struct anchor *an)
{
    int i;

    for (i = 0; i < an->n_certs; i++)
        X509_free(an->certs[i]);
    for (i = 0; i < an->n_crls; i++)
        source_free(&an->crls[i]);
    source_free(&an->list);
    ocsp_cache_free(an->oc);
    an->oc = NULL;
}

/* Read dir/NAME.conf into an (zeroed by the caller). */
static err_code
anchor_load(const char *dir, const char *file, struct anchor *an,
            struct err *e)
{
    char path[REV_LOC_MAX + REV_NAME_MAX], *text, *line, *save = NULL;
    uint8_t *buf = NULL;
    size_t len = 0, nlen = strlen(file) - strlen(".conf");
    int lineno = 0;
    err_code rc;

    an->retry_ms = REV_RETRY_S_DEFAULT * 1000LL;
    an->ocsp_max_age_ms = REV_OCSP_MAX_AGE_S_DEFAULT * 1000LL;
    if (nlen >= sizeof(an->name))
        return err_set(e, ERR_CONFIG, "name too long");
    memcpy(an->name, file, nlen);
    an->name[nlen] = '\0';
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >=
        sizeof(path))
        return err_set(e, ERR_CONFIG, "path too long");
    if ((rc = util_read_file(path, REV_CONF_MAX, &buf, &len, e)) != ERR_OK)
        return rc;
    text = (char *)buf;
    text[len] = '\0';
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *l = trim(line);
        lineno++;
        if (*l == '\0' || *l == '#')
            continue;
        if ((rc = conf_line(dir, an, l, e)) != ERR_OK) {
            rc = err_wrap(e, ERR_CONFIG, "%s line %d", file, lineno);
            goto done;
        }
    }
    anchor_certs(dir, an);
    if ((an->n_crls > 0 || an->ocsp[0] != '\0' || an->ocsp_aia) &&
        an->n_certs == 0)
        rc = err_set(e, ERR_CONFIG, "%s: no anchor file %s.pem (or .crt, "
                     ".cer, .der) with a certificate", file, an->name);
    else if ((an->ocsp[0] != '\0' || an->ocsp_aia) &&
             (an->oc = ocsp_cache_new()) == NULL)
        rc = err_set(e, ERR_NOMEM, "out of memory");
done:
    free(buf);
    return rc;
}

static int
is_sidecar(const char *name)
{
    size_t n = strlen(name);

    return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

/* Contract: see revocation.h. */
err_code
rev_set_load(const char *dir, struct rev_set **out, struct err *e)
{
    struct rev_set *s;
    DIR *d;
    struct dirent *de;

    *out = NULL;
    if ((s = calloc(1, sizeof(*s))) == NULL ||
        (s->a = calloc(REV_MAX_ANCHORS, sizeof(*s->a))) == NULL ||
        pthread_mutex_init(&s->memo_mu, NULL) != 0) {
        if (s != NULL)
            free(s->a);
        free(s);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    if ((d = opendir(dir)) != NULL) {
        while ((de = readdir(d)) != NULL && s->n < REV_MAX_ANCHORS) {
            struct err le;
            if (!is_sidecar(de->d_name))
                continue;
            err_clear(&le);
            memset(&s->a[s->n], 0, sizeof(s->a[s->n]));
            if (anchor_load(dir, de->d_name, &s->a[s->n], &le) != ERR_OK) {
                log_event(LOG_WARN, "revocation_sidecar_skipped",
                          "file=%s msg=%s", de->d_name, le.msg);
                anchor_free(&s->a[s->n]);
                memset(&s->a[s->n], 0, sizeof(s->a[s->n]));
                continue;
            }
            s->n++;
        }
        closedir(d);
    }
    *out = s;
    return ERR_OK;
}

/* Contract: see revocation.h. */
void
rev_set_free(struct rev_set *s)
{
    int i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n; i++)
        anchor_free(&s->a[i]);
    for (i = 0; i < REV_MEMO_ENTRIES; i++) {
        ASN1_INTEGER_free(s->memo[i].serial);
        X509_NAME_free(s->memo[i].issuer);
        free(s->memo[i].aia);
    }
    pthread_mutex_destroy(&s->memo_mu);
    free(s->a);
    free(s);
}

/* Contract: see revocation.h. */
int
rev_set_count(const struct rev_set *s)
{
    return s != NULL ? s->n : 0;
}

/* ---- reading a source --------------------------------------------------- */

/* The bytes of src now (*buf malloc'ed, NUL-terminated after *len). */
static err_code
source_read(struct source *src, size_t max, uint8_t **buf, size_t *len,
            struct err *e)
{
    struct fetch_resp r;
    struct fetch_opts o;
    err_code rc;

    *buf = NULL;
    if (!src->is_url) {
        if (stat(src->loc, &src->st) != 0)
            return err_set(e, ERR_UNAVAILABLE, "cannot read %s", src->loc);
        return util_read_file(src->loc, max, buf, len, e);
    }
    memset(&o, 0, sizeof(o));
    o.max_bytes = max;
    if ((rc = fetch_url(src->loc, NULL, NULL, 0, &o, &r, e)) != ERR_OK)
        goto done;
    if (r.status != 200) {
        rc = err_set(e, ERR_UNAVAILABLE, "HTTP status %ld", r.status);
        goto done;
    }
    if ((*buf = malloc(r.len + 1)) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (r.len > 0)
        memcpy(*buf, r.body, r.len);
    (*buf)[r.len] = '\0';
    *len = r.len;
done:
    fetch_resp_free(&r);
    return rc;
}

/* A file source changed since it was read (always 0 for a URL). */
static int
source_changed(const struct source *src)
{
    struct stat st;

    if (src->is_url)
        return 0;
    if (stat(src->loc, &st) != 0)
        return 1;
    return st.st_ino != src->st.st_ino || st.st_size != src->st.st_size ||
           st.st_mtim.tv_sec != src->st.st_mtim.tv_sec ||
           st.st_mtim.tv_nsec != src->st.st_mtim.tv_nsec;
}

/* Whether src is to be read now: never read, a file that changed, or the
 * copy held is stale (or absent) and the last try is retry_ms old.  mu
 * held. */
static int
source_due(const struct source *src, int have, int64_t now_ms,
           int64_t retry_ms)
{
    if (src->tried_ms == 0 || source_changed(src))
        return 1;
    if (have && now_ms < src->next_ms)
        return 0;
    return now_ms - src->tried_ms >= retry_ms;
}

static int64_t
asn1_time_ms(const ASN1_TIME *t)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
        return -1;
    return (int64_t)timegm(&tm) * 1000;
}

/* ---- CRLs --------------------------------------------------------------- */

/* The DER span of the tbsCertList in der (a CertificateList). */
static int
crl_tbs(const uint8_t *der, size_t len, const uint8_t **tbs, size_t *tbs_len)
{
    const unsigned char *p = der, *q;
    long l;
    int tag, cls;

    if (ASN1_get_object(&p, &l, &tag, &cls, (long)len) & 0x80 ||
        tag != V_ASN1_SEQUENCE)
        return 0;
    q = p;
    if (ASN1_get_object(&p, &l, &tag, &cls, (long)(len - (size_t)(p - der)))
            & 0x80 || tag != V_ASN1_SEQUENCE)
        return 0;
    *tbs = q;
    *tbs_len = (size_t)(p - q) + (size_t)l;
    return *tbs_len <= len - (size_t)(q - der);
}

/* Does crl's signature verify with issuer's key?  SM2-with-SM3 with the
 * default SM2 ID (GM/T 0015), else whatever OpenSSL verifies (another
 * algorithm, or an SM2 CRL signed without an ID by `openssl ca`). */
static int
crl_signed_by(X509_CRL *crl, X509 *issuer)
{
    const ASN1_BIT_STRING *sig = NULL;
    const X509_ALGOR *alg = NULL;
    unsigned char *der = NULL;
    const uint8_t *tbs;
    size_t tbs_len;
    char oid[64];
    int len, ok = 0;

    X509_CRL_get0_signature(crl, &sig, &alg);
    if (sig != NULL && alg != NULL &&
        OBJ_obj2txt(oid, sizeof(oid), alg->algorithm, 1) > 0 &&
        strcmp(oid, SM2_OID_SM2_SM3) == 0 &&
        (len = i2d_X509_CRL(crl, &der)) > 0 &&
        crl_tbs(der, (size_t)len, &tbs, &tbs_len) &&
        sm2_verify_cert(issuer, SM2_DEFAULT_ID, tbs, tbs_len, sig->data,
                        (size_t)sig->length, &ok, NULL) != ERR_OK)
        ok = 0;
    OPENSSL_free(der);
    if (!ok)
        ok = X509_CRL_verify(crl, X509_get0_pubkey(issuer)) == 1;
    ERR_clear_error();
    return ok;
}

/* The certificate of an that issued crl (its name, its key, CRL signing
 * allowed), or NULL. */
static X509 *
crl_issuer(const struct anchor *an, X509_CRL *crl)
{
    int i;

    for (i = 0; i < an->n_certs; i++) {
        X509 *c = an->certs[i];
        if (X509_NAME_cmp(X509_get_subject_name(c),
                          X509_CRL_get_issuer(crl)) != 0)
            continue;
        if ((X509_get_extension_flags(c) & EXFLAG_KUSAGE) &&
            !(X509_get_key_usage(c) & KU_CRL_SIGN))
            continue;
        if (crl_signed_by(crl, c))
            return c;
    }
    return NULL;
}

/* Parse and check a CRL of an read from src; on success it replaces the
 * copy held.  One that fails (or is older than the copy held) replaces
 * nothing: a bad file or answer cannot take back a revocation while the
 * last valid CRL is fresh.  mu held. */
static err_code
crl_accept(const struct anchor *an, struct source *src, const uint8_t *buf,
           size_t len, int64_t now_ms, struct err *e)
{
    X509_CRL *crl = NULL;
    const unsigned char *p = buf;
    int64_t this_ms, next_ms;
    BIO *b;

    if ((b = BIO_new_mem_buf(buf, (int)len)) != NULL) {
        crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
        BIO_free(b);
    }
    if (crl == NULL)
        crl = d2i_X509_CRL(NULL, &p, (long)len);
    ERR_clear_error();
    if (crl == NULL)
        return err_set(e, ERR_MALFORMED, "not a CRL");
    if (crl_issuer(an, crl) == NULL) {
        X509_CRL_free(crl);
        return err_set(e, ERR_INVALID, "CRL not signed by a certificate of "
                       "anchor %s (signature, issuer name or key usage)",
                       an->name);
    }
    this_ms = asn1_time_ms(X509_CRL_get0_lastUpdate(crl));
    next_ms = asn1_time_ms(X509_CRL_get0_nextUpdate(crl));
    if (this_ms < 0 || next_ms < 0 || next_ms <= this_ms) {
        X509_CRL_free(crl);
        return err_set(e, ERR_INVALID, "CRL without valid thisUpdate and "
                       "nextUpdate");
    }
    if (this_ms > now_ms + REV_SKEW_MS) {
        X509_CRL_free(crl);
        return err_set(e, ERR_INVALID, "CRL thisUpdate is in the future");
    }
    if (src->crl != NULL && this_ms < src->this_ms) {
        X509_CRL_free(crl);
        return err_set(e, ERR_INVALID, "CRL older than the one held");
    }
    X509_CRL_free(src->crl);
    src->crl = crl;
    src->this_ms = this_ms;
    src->next_ms = next_ms;
    return ERR_OK;
}

/* Read src again if due; keep the last failure in src->err.  mu held. */
static void
crl_refresh(const struct anchor *an, struct source *src, int64_t now_ms)
{
    struct err e;
    uint8_t *buf = NULL;
    size_t len = 0;

    if (!source_due(src, src->crl != NULL, now_ms, an->retry_ms))
        return;
    src->tried_ms = now_ms;
    err_clear(&e);
    if (source_read(src, REV_CRL_MAX, &buf, &len, &e) == ERR_OK &&
        crl_accept(an, src, buf, len, now_ms, &e) == ERR_OK)
        src->err[0] = '\0';
    else
        snprintf(src->err, sizeof(src->err), "%.159s", e.msg);
    free(buf);
}

/* src's last failure without the location that fetch_url's messages
 * start with. */
static const char *
source_err(const struct source *src)
{
    size_t n = strlen(src->loc);

    if (strncmp(src->err, src->loc, n) == 0 && src->err[n] == ':')
        return src->err + n + (src->err[n + 1] == ' ' ? 2 : 1);
    return src->err;
}

/* Whether an names any source of certificate status. */
static int
has_cert_source(const struct anchor *an)
{
    return an->n_crls > 0 || an->oc != NULL;
}

/* The anchor of s that issued cert (an anchor certificate with cert's
 * issuer name whose key verifies cert), or -1; *ci the index of that
 * certificate in the anchor's file. */
static int
cert_anchor(struct rev_set *s, X509 *cert, int *ci)
{
    int i, j;

    for (i = 0; i < s->n; i++) {
        struct anchor *an = &s->a[i];
        if (!has_cert_source(an))
            continue;
        for (j = 0; j < an->n_certs; j++)
            if (X509_NAME_cmp(X509_get_subject_name(an->certs[j]),
                              X509_get_issuer_name(cert)) == 0 &&
                X509_verify(cert, X509_get0_pubkey(an->certs[j])) == 1) {
                ERR_clear_error();
                *ci = j;
                return i;
            }
        ERR_clear_error();
    }
    return -1;
}

/* The answer of the fresh CRL in src for cert.  mu held. */
static void
crl_answer(const struct source *src, const ASN1_INTEGER *serial,
           struct rev_answer *a)
{
    X509_REVOKED *rv = NULL;
    ASN1_ENUMERATED *r;

    a->state = REV_GOOD;
    a->kind = "crl";
    snprintf(a->source, sizeof(a->source), "%s", src->loc);
    a->this_update_ms = src->this_ms;
    a->next_update_ms = src->next_ms;
    if (X509_CRL_get0_by_serial(src->crl, &rv, serial) != 1 ||
        rv == NULL)
        return;
    a->reason = -1;
    if ((r = X509_REVOKED_get_ext_d2i(rv, NID_crl_reason, NULL, NULL)) !=
        NULL) {
        a->reason = (int)ASN1_ENUMERATED_get(r);
        ASN1_ENUMERATED_free(r);
    }
    ERR_clear_error();
    if (a->reason == 8)                  /* removeFromCRL: not revoked */
        return;
    a->state = a->reason == 6 ? REV_HOLD : REV_REVOKED;
    a->revoked_ms = asn1_time_ms(X509_REVOKED_get0_revocationDate(rv));
}

/* Append "; " (unless first) and the formatted text to a->why, cut at
 * its capacity. */
static void
why_add(struct rev_answer *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
why_add(struct rev_answer *a, const char *fmt, ...)
{
    size_t used = strlen(a->why);
    va_list ap;

    if (used + 3 >= sizeof(a->why))
        return;
    if (used > 0) {
        memcpy(a->why + used, "; ", 3);
        used += 2;
    }
    va_start(ap, fmt);
    (void)vsnprintf(a->why + used, sizeof(a->why) - used, fmt, ap);
    va_end(ap);
}

/* The issuer name of cert, RFC 2253, into out (capacity cap). */
static void
issuer_text_of(X509 *cert, char *out, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    int n = 0;

    out[0] = '\0';
    if (b != NULL && X509_NAME_print_ex(b, X509_get_issuer_name(cert), 0,
                                        XN_FLAG_RFC2253) >= 0)
        n = BIO_read(b, out, (int)cap - 1);
    out[n > 0 ? n : 0] = '\0';
    BIO_free(b);
}

/* The first http(s) OCSP URL of cert's authorityInfoAccess (malloc'ed,
 * the caller frees), or NULL. */
static char *
cert_aia_ocsp(X509 *cert)
{
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
    char *url = NULL;
    int i;

    for (i = 0; urls != NULL && i < sk_OPENSSL_STRING_num(urls) &&
                url == NULL; i++) {
        const char *u = sk_OPENSSL_STRING_value(urls, i);
        if ((strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0)
            && strlen(u) < REV_LOC_MAX)
            url = strdup(u);
    }
    X509_email_free(urls);
    ERR_clear_error();
    return url;
}

/* The facts of the DER certificate der that rev_cert_status needs, from
 * the memo or, the first time, from the certificate (then kept, the least
 * recently used entry evicted): *anchor and *ci (cert_anchor), *serial,
 * *issuer and *aia (copies, the caller frees; *aia NULL when the
 * certificate names no OCSP URL), issuer_text (capacity 256). */
static err_code
cert_facts(struct rev_set *s, const uint8_t *der, size_t len, int *anchor,
           int *ci, ASN1_INTEGER **serial, X509_NAME **issuer, char **aia,
           char *issuer_text, struct err *e)
{
    uint8_t key[SM3_DIGEST_LEN];
    struct memo *m = NULL, *victim = NULL;
    X509 *cert = NULL;
    size_t i;
    err_code rc;

    *serial = NULL;
    *issuer = NULL;
    *aia = NULL;
    *ci = 0;
    if ((rc = sm2_sm3(der, len, key, e)) != ERR_OK)
        return rc;
    pthread_mutex_lock(&s->memo_mu);
    for (i = 0; i < REV_MEMO_ENTRIES; i++) {
        struct memo *x = &s->memo[i];
        if (x->used && memcmp(x->key, key, sizeof(key)) == 0) {
            m = x;
            break;
        }
        /* a free slot, else the least recently used */
        if (victim == NULL ||
            (victim->used && (!x->used || x->tick < victim->tick)))
            victim = x;
    }
    if (m != NULL) {
        m->tick = ++s->memo_tick;
        *anchor = m->anchor;
        *ci = m->issuer_cert;
        *aia = m->aia != NULL ? strdup(m->aia) : NULL;
        *serial = ASN1_INTEGER_dup(m->serial);
        *issuer = X509_NAME_dup(m->issuer);
        memcpy(issuer_text, m->issuer_text, sizeof(m->issuer_text));
    }
    pthread_mutex_unlock(&s->memo_mu);
    if (m != NULL)
        goto check;
    if ((rc = sm2_cert_parse(der, len, &cert, e)) != ERR_OK)
        return rc;
    set_default_id(cert);
    issuer_text_of(cert, issuer_text, 256);
    *anchor = cert_anchor(s, cert, ci);
    *aia = cert_aia_ocsp(cert);
    *serial = ASN1_INTEGER_dup(X509_get0_serialNumber(cert));
    *issuer = X509_NAME_dup(X509_get_issuer_name(cert));
    pthread_mutex_lock(&s->memo_mu);
    /* another thread may have used the victim meanwhile: evict anyway */
    if (*serial != NULL && *issuer != NULL) {
        ASN1_INTEGER_free(victim->serial);
        X509_NAME_free(victim->issuer);
        free(victim->aia);
        memcpy(victim->key, key, sizeof(key));
        victim->used = 1;
        victim->tick = ++s->memo_tick;
        victim->anchor = *anchor;
        victim->issuer_cert = *ci;
        victim->aia = *aia != NULL ? strdup(*aia) : NULL;
        victim->serial = ASN1_INTEGER_dup(*serial);
        victim->issuer = X509_NAME_dup(*issuer);
        memcpy(victim->issuer_text, issuer_text, sizeof(victim->issuer_text));
        if (victim->serial == NULL || victim->issuer == NULL ||
            (*aia != NULL && victim->aia == NULL))
            victim->used = 0;
    }
    pthread_mutex_unlock(&s->memo_mu);
    X509_free(cert);
check:
    ERR_clear_error();
    if (*serial == NULL || *issuer == NULL) {
        ASN1_INTEGER_free(*serial);
        X509_NAME_free(*issuer);
        free(*aia);
        *serial = NULL;
        *issuer = NULL;
        *aia = NULL;
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    return ERR_OK;
}

/* ---- OCSP --------------------------------------------------------------- */

/* msg without the "LOC: " that fetch_url's messages start with. */
static const char *
without_loc(const char *msg, const char *loc)
{
    size_t n = strlen(loc);

    if (strncmp(msg, loc, n) == 0 && msg[n] == ':')
        return msg + n + (msg[n + 1] == ' ' ? 2 : 1);
    return msg;
}

/* Does c's signature verify with issuer's key (SM2: with the default ID,
 * as cert_anchor checks the certificates themselves)? */
static int
cert_signed_by(X509 *c, X509 *issuer)
{
    int ok;

    set_default_id(c);
    ok = X509_verify(c, X509_get0_pubkey(issuer)) == 1;
    ERR_clear_error();
    return ok;
}

/* Does bs's signature verify with signer's key?  SM2-with-SM3 with the
 * default SM2 ID (GM/T 0015), else what OpenSSL verifies (another
 * algorithm, or SM2 signed without an ID, as `openssl ocsp` does). */
static int
ocsp_signed_by(OCSP_BASICRESP *bs, X509 *signer)
{
    const ASN1_OCTET_STRING *sig = OCSP_resp_get0_signature(bs);
    const X509_ALGOR *alg = OCSP_resp_get0_tbs_sigalg(bs);
    STACK_OF(X509) *one;
    unsigned char *tbs = NULL;
    char oid[64];
    int len, ok = 0;

    if (sig != NULL && alg != NULL &&
        OBJ_obj2txt(oid, sizeof(oid), alg->algorithm, 1) > 0 &&
        strcmp(oid, SM2_OID_SM2_SM3) == 0 &&
        (len = i2d_OCSP_RESPDATA(OCSP_resp_get0_respdata(bs), &tbs)) > 0 &&
        sm2_verify_cert(signer, SM2_DEFAULT_ID, tbs, (size_t)len, sig->data,
                        (size_t)sig->length, &ok, NULL) != ERR_OK)
        ok = 0;
    OPENSSL_free(tbs);
    /* OCSP_basic_verify with the signer alone, no chain: only the
     * signature (the signer was chosen and checked by the caller) */
    if (!ok && (one = sk_X509_new_null()) != NULL) {
        if (sk_X509_push(one, signer))
            ok = OCSP_basic_verify(bs, one, NULL, OCSP_NOINTERN |
                                   OCSP_NOVERIFY | OCSP_NOCHECKS) == 1;
        sk_X509_free(one);
    }
    ERR_clear_error();
    return ok;
}

/* Is bs signed by issuer itself, or by a responder certificate (in bs)
 * that issuer issued for OCSP signing (id-kp-OCSPSigning) and valid at
 * now_ms (RFC 6960 4.2.2.2)?  No other responder is trusted. */
static err_code
ocsp_check_signer(OCSP_BASICRESP *bs, X509 *issuer, int64_t now_ms,
                  struct err *e)
{
    STACK_OF(X509) *extra = sk_X509_new_null();
    X509 *signer = NULL;
    int64_t nb, na;
    int found = 0;

    if (extra != NULL && sk_X509_push(extra, issuer))
        found = OCSP_resp_get0_signer(bs, &signer, extra);
    sk_X509_free(extra);
    ERR_clear_error();
    if (!found || signer == NULL)
        return err_set(e, ERR_INVALID, "OCSP response signed by an unknown "
                       "responder (neither the CA nor a certificate in the "
                       "response)");
    if (X509_cmp(signer, issuer) != 0) {
        if (X509_NAME_cmp(X509_get_issuer_name(signer),
                          X509_get_subject_name(issuer)) != 0 ||
            !cert_signed_by(signer, issuer))
            return err_set(e, ERR_INVALID, "OCSP responder certificate not "
                           "issued by the certificate's CA");
        if (!(X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) ||
            !(X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN))
            return err_set(e, ERR_INVALID, "OCSP responder certificate "
                           "without id-kp-OCSPSigning");
        nb = asn1_time_ms(X509_get0_notBefore(signer));
        na = asn1_time_ms(X509_get0_notAfter(signer));
        if (nb < 0 || na < 0 || now_ms < nb || now_ms > na)
            return err_set(e, ERR_INVALID, "OCSP responder certificate not "
                           "valid now");
    }
    if (!ocsp_signed_by(bs, signer))
        return err_set(e, ERR_INVALID, "OCSP response signature does not "
                       "verify with its responder's key");
    return ERR_OK;
}

/* The DER OCSP request for id (with a fresh nonce unless an says off)
 * into *der (OPENSSL_free), and *req (OCSP_REQUEST_free) to check the
 * nonce of the answer against. */
static err_code
ocsp_request(const struct anchor *an, OCSP_CERTID *id, OCSP_REQUEST **req,
             unsigned char **der, int *len, struct err *e)
{
    OCSP_CERTID *cid = NULL;

    *der = NULL;
    if ((*req = OCSP_REQUEST_new()) == NULL ||
        (cid = OCSP_CERTID_dup(id)) == NULL ||
        OCSP_request_add0_id(*req, cid) == NULL) {
        OCSP_CERTID_free(cid);
        goto fail;
    }
    if (an->ocsp_nonce != NONCE_OFF && !OCSP_request_add1_nonce(*req, NULL,
                                                               -1))
        goto fail;
    if ((*len = i2d_OCSP_REQUEST(*req, der)) <= 0)
        goto fail;
    return ERR_OK;
fail:
    ERR_clear_error();
    OCSP_REQUEST_free(*req);
    *req = NULL;
    return err_set(e, ERR_NOMEM, "cannot make the OCSP request");
}

/* Check the answer's times for the single response found (thisupd,
 * nextupd may be NULL) at now_ms; nonce is OCSP_check_nonce's verdict. */
static err_code
ocsp_times(const struct anchor *an, const ASN1_GENERALIZEDTIME *thisupd,
           const ASN1_GENERALIZEDTIME *nextupd, int nonce, int64_t now_ms,
           int64_t *this_ms, int64_t *next_ms, struct err *e)
{
    *this_ms = asn1_time_ms(thisupd);
    *next_ms = nextupd != NULL ? asn1_time_ms(nextupd) : 0;
    if (*this_ms < 0 || *next_ms < 0 ||
        (nextupd != NULL && *next_ms < *this_ms))
        return err_set(e, ERR_INVALID, "OCSP answer without valid "
                       "thisUpdate and nextUpdate");
    if (*this_ms > now_ms + REV_SKEW_MS)
        return err_set(e, ERR_INVALID, "OCSP answer's thisUpdate is in the "
                       "future");
    if (nextupd != NULL && *next_ms + REV_SKEW_MS <= now_ms)
        return err_set(e, ERR_INVALID, "OCSP answer past its nextUpdate");
    /* without nextUpdate nothing bounds a replayed answer but its age,
     * unless the responder echoed our nonce */
    if (nextupd == NULL && nonce != 1 &&
        *this_ms + an->ocsp_max_age_ms + REV_SKEW_MS < now_ms)
        return err_set(e, ERR_INVALID, "OCSP answer without nextUpdate or "
                       "nonce, older than ocsp_max_age");
    return ERR_OK;
}

/* Ask url about serial of issuer (an's certificate) at now_ms; on ERR_OK
 * the answer is in *x's answer fields (have, state, ..., until_ms), on
 * failure *x is untouched and e says why. */
static err_code
ocsp_query(const struct anchor *an, X509 *issuer, const ASN1_INTEGER *serial,
           const char *url, int64_t now_ms, struct ocsp_entry *x,
           struct err *e)
{
    OCSP_CERTID *id = NULL;
    OCSP_REQUEST *req = NULL;
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *bs = NULL;
    ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    struct fetch_opts o;
    struct fetch_resp r;
    int len = 0, status = 0, reason = -1, nonce, st;
    int64_t this_ms, next_ms, until;
    err_code rc;

    memset(&r, 0, sizeof(r));
    if ((id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(issuer),
                               X509_get0_pubkey_bitstr(issuer),
                               serial)) == NULL) {
        ERR_clear_error();
        return err_set(e, ERR_NOMEM, "cannot make the OCSP CertID");
    }
    if ((rc = ocsp_request(an, id, &req, &der, &len, e)) != ERR_OK)
        goto done;
    memset(&o, 0, sizeof(o));
    o.timeout_ms = REV_OCSP_TIMEOUT_MS;
    o.max_bytes = REV_OCSP_MAX;
    if ((rc = fetch_url(url, "application/ocsp-request", der, (size_t)len,
                        &o, &r, e)) != ERR_OK) {
        if (rc != ERR_TOO_LARGE)
            rc = ERR_UNAVAILABLE;
        goto done;
    }
    rc = ERR_INVALID;
    if (r.status != 200) {
        rc = err_set(e, ERR_UNAVAILABLE, "OCSP responder HTTP status %ld",
                     r.status);
        goto done;
    }
    p = r.body;
    if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)r.len)) == NULL) {
        err_set(e, rc, "not an OCSP response");
        goto done;
    }
    if ((st = OCSP_response_status(resp)) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        rc = err_set(e, ERR_UNAVAILABLE, "OCSP responder answered %s",
                     OCSP_response_status_str(st));
        goto done;
    }
    if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
        err_set(e, rc, "not a basic OCSP response");
        goto done;
    }
    nonce = an->ocsp_nonce == NONCE_OFF ? 2 : OCSP_check_nonce(req, bs);
    if (nonce == 0) {
        err_set(e, rc, "OCSP answer's nonce is not the request's");
        goto done;
    }
    if (nonce != 1 && an->ocsp_nonce == NONCE_REQUIRED) {
        err_set(e, rc, "OCSP answer without the request's nonce "
                "(ocsp_nonce = required)");
        goto done;
    }
    if (ocsp_check_signer(bs, issuer, now_ms, e) != ERR_OK)
        goto done;
    if (OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd,
                              &nextupd) != 1) {
        err_set(e, rc, "OCSP response has no answer for the certificate");
        goto done;
    }
    if (ocsp_times(an, thisupd, nextupd, nonce, now_ms, &this_ms, &next_ms,
                   e) != ERR_OK)
        goto done;
    if (status == V_OCSP_CERTSTATUS_UNKNOWN) {
        rc = err_set(e, ERR_UNAVAILABLE, "OCSP responder does not know the "
                     "certificate (unknown)");
        goto done;
    }
    if (x->have && this_ms < x->this_ms) {
        err_set(e, rc, "OCSP answer older than the one held");
        goto done;
    }
    x->have = 1;
    x->reason = -1;
    x->revoked_ms = 0;
    x->state = REV_GOOD;
    if (status == V_OCSP_CERTSTATUS_REVOKED && reason != 8) {
        /* removeFromCRL (8) is not revoked, as on a CRL */
        x->reason = reason;                /* -1: no reason given */
        x->state = reason == 6 ? REV_HOLD : REV_REVOKED;
        x->revoked_ms = asn1_time_ms(rev);
    }
    x->this_ms = this_ms;
    x->next_ms = next_ms;
    until = now_ms + an->ocsp_max_age_ms;
    if (next_ms > 0 && next_ms + REV_SKEW_MS < until)
        until = next_ms + REV_SKEW_MS;
    x->until_ms = until;
    rc = ERR_OK;
done:
    ERR_clear_error();
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    OCSP_REQUEST_free(req);
    OCSP_CERTID_free(id);
    OPENSSL_free(der);
    fetch_resp_free(&r);
    return rc;
}

/* The entry of oc for certificate ci, serial key (DER, klen): the one
 * held, else a free or the least recently used slot, emptied.  mu held. */
static struct ocsp_entry *
ocsp_entry_get(struct ocsp_cache *oc, int ci, const uint8_t *key, int klen)
{
    struct ocsp_entry *victim = NULL;
    size_t i;

    for (i = 0; i < REV_OCSP_ENTRIES; i++) {
        struct ocsp_entry *x = &oc->e[i];
        if (x->used && x->cert == ci && x->serial_len == klen &&
            memcmp(x->serial, key, (size_t)klen) == 0)
            return x;
        if (victim == NULL ||
            (victim->used && (!x->used || x->tick < victim->tick)))
            victim = x;
    }
    memset(victim, 0, sizeof(*victim));
    victim->used = 1;
    victim->cert = ci;
    victim->serial_len = klen;
    memcpy(victim->serial, key, (size_t)klen);
    return victim;
}

/* The OCSP answer at now_ms for serial of an->certs[ci], from the cache
 * or by asking url (when the answer held is no longer used and the last
 * try is retry_seconds old).  1 with the answer in *a (GOOD, REVOKED,
 * HOLD); 0 with the reason added to a->why. */
static int
ocsp_status(struct anchor *an, int ci, const ASN1_INTEGER *serial,
            const char *url, int64_t now_ms, struct rev_answer *a)
{
    struct ocsp_cache *oc = an->oc;
    struct ocsp_entry *x;
    uint8_t key[64];
    unsigned char *kp = key;
    int klen = i2d_ASN1_INTEGER(serial, NULL), usable, answered = 0;

    if (klen <= 0 || klen > (int)sizeof(key)) {
        ERR_clear_error();
        why_add(a, "OCSP: serial number too long");
        return 0;
    }
    (void)i2d_ASN1_INTEGER(serial, &kp);
    pthread_mutex_lock(&oc->mu);
    x = ocsp_entry_get(oc, ci, key, klen);
    x->tick = ++oc->tick;
    usable = x->have && now_ms < x->until_ms;
    if (!usable && (x->tried_ms == 0 ||
                    now_ms - x->tried_ms >= an->retry_ms)) {
        struct err e;
        err_clear(&e);
        x->tried_ms = now_ms;
        if (ocsp_query(an, an->certs[ci], serial, url, now_ms, x, &e) ==
            ERR_OK)
            x->err[0] = '\0';
        else
            snprintf(x->err, sizeof(x->err), "%.159s",
                     without_loc(e.msg, url));
        usable = x->have && now_ms < x->until_ms;
    }
    if (usable) {
        a->state = x->state;
        a->revoked_ms = x->revoked_ms;
        a->reason = x->reason;
        a->kind = "ocsp";
        snprintf(a->source, sizeof(a->source), "%s", url);
        a->this_update_ms = x->this_ms;
        a->next_update_ms = x->next_ms;
        answered = 1;
    } else {
        why_add(a, "OCSP %s: %s", url, x->err[0] ? x->err
                : "the answer held has passed its nextUpdate or "
                  "ocsp_max_age");
    }
    pthread_mutex_unlock(&oc->mu);
    return answered;
}

/* The answer of an's CRLs for serial of issuer at now_ms (refreshing them
 * as needed): 1 with *a filled, or 0 with the reasons added to a->why. */
static int
crl_status(struct anchor *an, const X509_NAME *issuer,
           const ASN1_INTEGER *serial, int64_t now_ms, struct rev_answer *a)
{
    char next[21];
    int i, answered = 0;

    for (i = 0; i < an->n_crls && !answered; i++) {
        struct source *src = &an->crls[i];
        pthread_mutex_lock(&src->mu);
        crl_refresh(an, src, now_ms);
        if (src->crl != NULL &&
            X509_NAME_cmp(X509_CRL_get_issuer(src->crl), issuer) == 0) {
            if (now_ms < src->next_ms) {
                crl_answer(src, serial, a);
                answered = 1;
            } else {
                util_time_rfc3339((time_t)(src->next_ms / 1000), next);
                why_add(a, "%s: CRL past its nextUpdate %s%s%s", src->loc,
                        next, src->err[0] ? ", and reading it again: " : "",
                        source_err(src));
            }
        } else if (src->err[0] != '\0') {
            why_add(a, "%s: %s", src->loc, source_err(src));
        }
        pthread_mutex_unlock(&src->mu);
    }
    if (!answered && an->n_crls > 0 && a->why[0] == '\0')
        snprintf(a->why, sizeof(a->why), "no CRL of %.150s among the "
                 "sources of anchor %.100s", a->issuer, an->name);
    return answered;
}

/* Contract: see revocation.h.  The order (OCSP, then the CRLs; a
 * revocation on either wins) is documented there and in the manual 9.6. */
err_code
rev_cert_status(struct rev_set *s, const uint8_t *der, size_t len,
                int64_t now_ms, struct rev_answer *a, struct err *e)
{
    struct anchor *an;
    struct rev_answer c;
    ASN1_INTEGER *serial = NULL;
    X509_NAME *issuer = NULL;
    char *aia = NULL;
    const char *url;
    int idx = -1, ci = 0, by_ocsp = 0, by_crl;
    err_code rc;

    memset(a, 0, sizeof(*a));
    a->reason = -1;
    if (s == NULL) {
        X509 *cert = NULL;
        if ((rc = sm2_cert_parse(der, len, &cert, e)) != ERR_OK)
            return rc;
        issuer_text_of(cert, a->issuer, sizeof(a->issuer));
        X509_free(cert);
        return ERR_OK;
    }
    if ((rc = cert_facts(s, der, len, &idx, &ci, &serial, &issuer, &aia,
                         a->issuer, e)) != ERR_OK)
        return rc;
    if (idx < 0)
        goto done;
    an = &s->a[idx];
    snprintf(a->anchor, sizeof(a->anchor), "%s", an->name);
    if (an->oc != NULL) {
        url = an->ocsp[0] != '\0' ? an->ocsp : aia;
        if (url == NULL)
            why_add(a, "OCSP: the certificate names no OCSP responder "
                    "(authorityInfoAccess) and ocsp = aia");
        else
            by_ocsp = ocsp_status(an, ci, serial, url, now_ms, a);
        /* revoked or on hold at the responder: that is the answer */
        if (by_ocsp && a->state != REV_GOOD)
            goto done;
    }
    c = *a;
    by_crl = crl_status(an, issuer, serial, now_ms, &c);
    if (by_crl && (!by_ocsp || c.state != REV_GOOD)) {
        /* the CRL answers alone, or a fresh CRL lists what OCSP calls
         * good: the stricter answer wins */
        *a = c;
        a->why[0] = '\0';
    } else if (!by_ocsp) {
        *a = c;
        a->state = REV_UNAVAILABLE;
    }
done:
    ASN1_INTEGER_free(serial);
    X509_NAME_free(issuer);
    free(aia);
    return ERR_OK;
}

/* Contract: see revocation.h. */
const char *
rev_reason_name(int reason)
{
    static const char *const names[] = {
        "unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
        "superseded", "cessationOfOperation", "certificateHold", "unused",
        "removeFromCRL", "privilegeWithdrawn", "aACompromise"};

    return reason >= 0 && (size_t)reason < sizeof(names) / sizeof(names[0])
               ? names[reason] : "unspecified";
}

/* ---- issuers' status lists ---------------------------------------------- */

/* Parse and verify a status list answer read from an's source; on
 * success it replaces the copy held.  mu held. */
static err_code
list_accept(struct anchor *an, X509_STORE *anchors, const uint8_t *buf,
            size_t len, int64_t now_ms, struct err *e)
{
    json_t *j = NULL, *d, *list = NULL;
    json_error_t je;
    const char *text, *sig64, *cert64, *next;
    uint8_t *sig = NULL, *cert = NULL, h[32];
    size_t sig_len = 0, cert_len = 0;
    unsigned int hl = 0;
    struct tm tm;
    err_code rc = ERR_OK;

    if ((j = json_loadb((const char *)buf, len, 0, &je)) == NULL)
        return err_set(e, ERR_MALFORMED, "status list: %s", je.text);
    d = json_object_get(j, "data") ? json_object_get(j, "data") : j;
    text = json_string_value(json_object_get(d, "list"));
    sig64 = json_string_value(json_object_get(d, "signature"));
    if (text == NULL || sig64 == NULL ||
        util_b64_decode(sig64, strlen(sig64), &sig, &sig_len, NULL) !=
            ERR_OK) {
        rc = err_set(e, ERR_MALFORMED, "not a seal status list answer");
        goto done;
    }
    if ((rc = statuslist_verify((const uint8_t *)text, strlen(text), sig,
                                sig_len, anchors, (time_t)(now_ms / 1000),
                                &list, e)) != ERR_OK)
        goto done;
    cert64 = json_string_value(json_object_get(list, "signer_cert"));
    if (cert64 == NULL ||
        util_b64_decode(cert64, strlen(cert64), &cert, &cert_len, NULL) !=
            ERR_OK ||
        !EVP_Digest(cert, cert_len, h, &hl, EVP_sha256(), NULL) ||
        memcmp(h, an->signer_sha256, sizeof(h)) != 0) {
        rc = err_set(e, ERR_INVALID, "status list not signed by the "
                     "status signer pinned for anchor %s", an->name);
        goto done;
    }
    memset(&tm, 0, sizeof(tm));
    next = json_string_value(json_object_get(list, "next_update"));
    if (next == NULL || strptime(next, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL) {
        rc = err_set(e, ERR_INVALID, "status list without next_update");
        goto done;
    }
    json_decref(an->list.list);
    an->list.list = list;
    list = NULL;
    an->list.next_ms = (int64_t)timegm(&tm) * 1000;
done:
    json_decref(list);
    json_decref(j);
    free(sig);
    free(cert);
    return rc;
}

/* Contract: see revocation.h. */
enum rev_state
rev_issuer_list(struct rev_set *s, X509_STORE *anchors, const uint8_t *maker,
                size_t maker_len, int64_t now_ms, json_t **list,
                char *anchor, char *why)
{
    uint8_t h[32];
    unsigned int hl = 0;
    struct anchor *an = NULL;
    struct source *src;
    enum rev_state st = REV_UNAVAILABLE;
    int i;

    *list = NULL;
    if (s == NULL || maker == NULL ||
        !EVP_Digest(maker, maker_len, h, &hl, EVP_sha256(), NULL))
        return REV_NO_SOURCE;
    for (i = 0; i < s->n && an == NULL; i++)
        if (s->a[i].list.loc[0] != '\0' &&
            memcmp(s->a[i].signer_sha256, h, sizeof(h)) == 0)
            an = &s->a[i];
    if (an == NULL)
        return REV_NO_SOURCE;
    snprintf(anchor, REV_NAME_MAX, "%s", an->name);
    src = &an->list;
    pthread_mutex_lock(&src->mu);
    if (source_due(src, src->list != NULL, now_ms, an->retry_ms)) {
        struct err e;
        uint8_t *buf = NULL;
        size_t len = 0;
        err_clear(&e);
        src->tried_ms = now_ms;
        if (source_read(src, REV_LIST_MAX, &buf, &len, &e) == ERR_OK &&
            list_accept(an, anchors, buf, len, now_ms, &e) == ERR_OK)
            src->err[0] = '\0';
        else
            snprintf(src->err, sizeof(src->err), "%.159s", e.msg);
        free(buf);
    }
    if (src->list != NULL && now_ms < src->next_ms) {
        *list = json_incref(src->list);
        st = REV_GOOD;
    } else {
        snprintf(why, 320, "status list of %.60s (%.80s) unavailable: %.140s",
                 an->name, src->loc, src->err[0] ? src->err
                 : "the copy held has passed its next_update");
    }
    pthread_mutex_unlock(&src->mu);
    return st;
}
