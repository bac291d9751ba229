/*
 * fwdcert.c - checking a client certificate a 国密 gateway forwarded
 * (fwdcert.h): the header's limits and URL escapes, the one PEM block, and
 * the chain to gateway.client_ca by the format library's check (which sets
 * the SM2 ID an SM2 certificate's signature needs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "fwdcert.h"
#include "ses.h"
#include "sm2.h"
#include "util.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END   "-----END CERTIFICATE-----"

struct fwdcert_trust {
    X509_STORE *store;
};

/* Contract: fwdcert.h. */
err_code
fwdcert_trust_open(const struct config *cfg, struct fwdcert_trust **out,
                   struct err *e)
{
    struct fwdcert_trust *t = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int n = 0;
    err_code rc;

    *out = NULL;
    if (cfg->gateway_subject[0] == '\0')
        return ERR_OK;
    if ((rc = util_read_file(cfg->gateway_client_ca, FWDCERT_CA_MAX, &buf,
                             &len, e)) != ERR_OK)
        return err_wrap(e, ERR_CONFIG, "gateway.client_ca");
    if ((t = calloc(1, sizeof(*t))) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = ses_trust_load_pem(buf, len, SM2_DEFAULT_ID, &t->store, &n, e))
        != ERR_OK)
        goto done;
    if (n == 0) {
        rc = err_set(e, ERR_CONFIG, "gateway.client_ca: no certificate in "
                     "%s", cfg->gateway_client_ca);
        goto done;
    }
    /* a forwarded certificate is its holder's TLS client certificate: the
     * purpose GnuTLS checks of a direct one (extendedKeyUsage, if any,
     * allows clientAuth) */
    X509_STORE_set_purpose(t->store, X509_PURPOSE_SSL_CLIENT);
    *out = t;
    t = NULL;
done:
    free(buf);
    fwdcert_trust_free(t);
    return rc;
}

/* Contract: fwdcert.h (NULL is nothing). */
void
fwdcert_trust_free(struct fwdcert_trust *t)
{
    if (t == NULL)
        return;
    X509_STORE_free(t->store);
    free(t);
}

/* Count the PEM certificate blocks of pem and check that nothing but
 * white space lies outside them.  0: well formed, with *blocks set. */
static int
pem_blocks(const char *pem, int *blocks)
{
    const char *p = pem, *b, *end;

    *blocks = 0;
    while ((b = strstr(p, PEM_BEGIN)) != NULL) {
        for (; p < b; p++)
            if (strchr(" \t\r\n", *p) == NULL)
                return -1;
        if ((end = strstr(b, PEM_END)) == NULL)
            return -1;
        (*blocks)++;
        p = end + strlen(PEM_END);
    }
    for (; *p != '\0'; p++)
        if (strchr(" \t\r\n", *p) == NULL)
            return -1;
    return 0;
}

/* Contract: fwdcert.h. */
err_code
fwdcert_unescape(const char *value, char **pem, size_t *len, struct err *e)
{
    size_t n = strlen(value), i, o = 0;
    char *out;
    int blocks = 0;

    *pem = NULL;
    *len = 0;
    if (n > FWDCERT_MAX_BYTES)
        return err_set(e, ERR_HEADERS_TOO_LARGE, "the forwarded client "
                       "certificate is larger than %d bytes",
                       FWDCERT_MAX_BYTES);
    if ((out = malloc(n + 1)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        int hi, lo;
        if (value[i] != '%') {
            out[o++] = value[i];
            continue;
        }
        if (i + 2 >= n || (hi = util_hexval(value[i + 1])) < 0 ||
            (lo = util_hexval(value[i + 2])) < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return err_set(e, ERR_UNAUTHENTICATED, "forwarded client "
                           "certificate: a bad %%-escape at byte %zu", i);
        }
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    if (pem_blocks(out, &blocks) != 0 || blocks != 1) {
        free(out);
        return err_set(e, ERR_UNAUTHENTICATED, "forwarded client "
                       "certificate: %s", blocks > 1
                           ? "more than one certificate (send the client's "
                             "own, not its chain)"
                           : "not one PEM certificate");
    }
    *pem = out;
    *len = o;
    return ERR_OK;
}

/* Attribute types OpenSSL and GnuTLS name differently: OpenSSL's short
 * name, then GnuTLS's (gnutls_x509_crt_get_dn3, the form accounts hold). */
static const struct { const char *ossl, *gnutls; } dn_names[] = {
    {"emailAddress=", "EMAIL="}, {"GN=", "givenName="}, {"SN=", "surName="},
};

/* Copy the DN text in to out[cap], giving the attribute types at the start
 * of each RDN or of a multi-valued part GnuTLS's names.  0, or -1 if it
 * does not fit. */
static int
dn_as_gnutls(const char *in, char *out, size_t cap)
{
    size_t o = 0, i, k;
    int start = 1, esc = 0;

    for (i = 0; in[i] != '\0'; ) {
        const char *put = NULL;
        size_t skip = 1, n;
        if (start)
            for (k = 0; k < sizeof(dn_names) / sizeof(dn_names[0]); k++)
                if (strncmp(in + i, dn_names[k].ossl,
                            strlen(dn_names[k].ossl)) == 0) {
                    put = dn_names[k].gnutls;
                    skip = strlen(dn_names[k].ossl);
                }
        start = !esc && (in[i] == ',' || in[i] == '+');
        esc = !esc && in[i] == '\\';
        if (put == NULL) {
            put = in + i;
            n = 1;
        } else {
            n = strlen(put);
            start = esc = 0;
        }
        if (o + n >= cap)
            return -1;
        memcpy(out + o, put, n);
        o += n;
        i += skip;
    }
    out[o] = '\0';
    return 0;
}

/* name as accounts hold DNs: RFC 4514, most specific first, UTF-8 as it
 * is, the attribute types named as GnuTLS names them (the form it gives a
 * direct client's certificate, http.c). */
static err_code
name_text(const X509_NAME *name, char *out, size_t cap, struct err *e)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;
    err_code rc = ERR_OK;

    if (b == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    /* a NUL ends the text BIO_write puts there, so one in the DN shows */
    if (X509_NAME_print_ex(b, name, 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0 ||
        BIO_write(b, "", 1) != 1 ||
        (n = BIO_get_mem_data(b, &data)) <= 0 ||
        memchr(data, '\0', (size_t)n) != data + n - 1 ||
        dn_as_gnutls(data, out, cap) != 0)
        rc = err_set(e, ERR_UNAUTHENTICATED, "forwarded client "
                     "certificate: a DN that cannot be read (or longer than "
                     "%zu bytes)", cap - 1);
    BIO_free(b);
    return rc;
}

/* The one certificate of pem[len] (checked by fwdcert_unescape); *out the
 * caller's (X509_free). */
static err_code
parse_one(const char *pem, size_t len, X509 **out, struct err *e)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);

    *out = NULL;
    if (b == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    *out = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ERR_clear_error();
    if (*out == NULL)
        return err_set(e, ERR_UNAUTHENTICATED, "forwarded client "
                       "certificate: the PEM block is not a certificate");
    return ERR_OK;
}

/* Contract: fwdcert.h. */
err_code
fwdcert_check(const struct fwdcert_trust *t, const char *value,
              int64_t now_s, struct fwdcert_facts *out, struct err *e)
{
    char *pem = NULL, why[160];
    size_t len = 0;
    X509 *x = NULL;
    struct tm tm;
    err_code rc;

    memset(out, 0, sizeof(*out));
    if (t == NULL)
        return err_set(e, ERR_UNAUTHENTICATED, "no gateway is configured");
    if ((rc = fwdcert_unescape(value, &pem, &len, e)) != ERR_OK ||
        (rc = parse_one(pem, len, &x, e)) != ERR_OK)
        goto done;
    if (!ses_chain_verify(t->store, x, (time_t)now_s, SM2_DEFAULT_ID, why,
                          sizeof(why))) {
        rc = err_set(e, ERR_UNAUTHENTICATED, "forwarded client certificate "
                     "not trusted: %s (gateway.client_ca)", why);
        goto done;
    }
    if ((rc = name_text(X509_get_subject_name(x), out->subject,
                        sizeof(out->subject), e)) != ERR_OK ||
        (rc = name_text(X509_get_issuer_name(x), out->issuer,
                        sizeof(out->issuer), e)) != ERR_OK)
        goto done;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1) {
        rc = err_set(e, ERR_UNAUTHENTICATED, "forwarded client "
                     "certificate: its notAfter cannot be read");
        goto done;
    }
    out->expires_ms = (int64_t)timegm(&tm) * 1000;
done:
    X509_free(x);
    free(pem);
    ERR_clear_error();
    return rc;
}
