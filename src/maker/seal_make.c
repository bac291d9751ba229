/*
 * seal_make.c - seal making and seal signatures through key custody
 * (issue 6); see include/maker/seal_make.h.
 *
 * Owns: the esID template formatter, the checks made before a seal or a
 * signature is signed (keys against certificates, validity, picture), and
 * the calls into ses_seal_build / ses_signature_build with the custody
 * signer (ca_custody_signer).  The private keys stay in the token.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "img.h"
#include "seal_make.h"
#include "util.h"

/* ---- esID --------------------------------------------------------------- */

/* Characters allowed literally in an esID template. */
static int esid_literal_ok(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* Append n bytes of s to out (bounded by cap and SEAL_ESID_MAX). */
static err_code esid_put(char *out, size_t cap, size_t *pos, const char *s,
                         size_t n, struct err *e)
{
    if (*pos + n > SEAL_ESID_MAX || *pos + n + 1 > cap)
        return err_set(e, ERR_INVALID, "esID longer than %d characters",
                       SEAL_ESID_MAX);
    memcpy(out + *pos, s, n);
    *pos += n;
    out[*pos] = '\0';
    return ERR_OK;
}

/* seal_esid_format without the clearing of out on failure. */
static err_code esid_format(const char *fmt, const char *region, int64_t seq,
                            char *out, size_t cap, struct err *e)
{
    err_code rc = ERR_OK;
    size_t pos = 0, i, flen;
    char num[32];

    if (out == NULL || cap == 0)
        return err_set(e, ERR_INVALID, "no room for the esID");
    out[0] = '\0';
    if (fmt == NULL)
        fmt = SEAL_ESID_DEFAULT_FMT;
    flen = strnlen(fmt, SEAL_ESID_FMT_MAX + 1);
    if (flen == 0 || flen > SEAL_ESID_FMT_MAX)
        return err_set(e, ERR_INVALID, "esID template must be 1..%d chars",
                       SEAL_ESID_FMT_MAX);
    if (seq < 0)
        return err_set(e, ERR_INVALID, "esID sequence is negative");
    for (i = 0; i < flen && rc == ERR_OK;) {
        const char *close;
        size_t tl;
        if (fmt[i] != '{') {
            if (!esid_literal_ok(fmt[i]))
                return err_set(e, ERR_INVALID,
                               "esID template: bad character at %zu", i);
            rc = esid_put(out, cap, &pos, fmt + i, 1, e);
            i++;
            continue;
        }
        close = memchr(fmt + i, '}', flen - i);
        if (close == NULL)
            return err_set(e, ERR_INVALID, "esID template: unclosed {");
        tl = (size_t)(close - (fmt + i)) - 1;
        if (tl == 6 && memcmp(fmt + i + 1, "region", 6) == 0) {
            size_t rl = region ? strnlen(region, SEAL_REGION_MAX + 1) : 0, k;
            if (rl == 0 || rl > SEAL_REGION_MAX)
                return err_set(e, ERR_INVALID,
                               "region code must be 1..%d characters",
                               SEAL_REGION_MAX);
            for (k = 0; k < rl; k++)
                if (!isalnum((unsigned char)region[k]))
                    return err_set(e, ERR_INVALID,
                                   "region code must be letters and digits");
            rc = esid_put(out, cap, &pos, region, rl, e);
        } else if (tl == 3 && memcmp(fmt + i + 1, "seq", 3) == 0) {
            int n = snprintf(num, sizeof(num), "%lld", (long long)seq);
            rc = esid_put(out, cap, &pos, num, (size_t)n, e);
        } else if (tl > 4 && tl <= 6 && memcmp(fmt + i + 1, "seq:", 4) == 0) {
            char w[3] = { 0 };
            long width = 0;
            int n;
            memcpy(w, fmt + i + 5, tl - 4);
            if (util_parse_long(w, 1, SEAL_SEQ_WIDTH_MAX, &width, NULL) !=
                ERR_OK || !isdigit((unsigned char)w[0]))
                return err_set(e, ERR_INVALID,
                               "esID template: {seq:NN} needs NN in 1..%d",
                               SEAL_SEQ_WIDTH_MAX);
            n = snprintf(num, sizeof(num), "%0*lld", (int)width,
                         (long long)seq);
            if (n > width)
                return err_set(e, ERR_INVALID,
                               "sequence %lld does not fit %ld digits",
                               (long long)seq, width);
            rc = esid_put(out, cap, &pos, num, (size_t)n, e);
        } else {
            return err_set(e, ERR_INVALID, "esID template: unknown field");
        }
        i += tl + 2;
    }
    if (rc == ERR_OK && pos == 0)
        rc = err_set(e, ERR_INVALID, "esID is empty");
    return rc;
}

/* Contract: see seal_make.h.  out is "" on failure. */
err_code seal_esid_format(const char *fmt, const char *region, int64_t seq,
                          char *out, size_t cap, struct err *e)
{
    err_code rc = esid_format(fmt, region, seq, out, cap, e);

    if (rc != ERR_OK && out != NULL && cap > 0)
        out[0] = '\0';
    return rc;
}

/* ---- shared checks ------------------------------------------------------ */

/* The token key of k must be SM2 and equal the key of DER cert. */
static err_code key_matches_cert(const struct ca_key *k, const uint8_t *cert,
                                 size_t cert_len, const char *who,
                                 struct err *e)
{
    err_code rc;
    EVP_PKEY *pub = NULL;
    X509 *x = NULL;

    if (k == NULL || k->custody == NULL || k->token == NULL ||
        k->key_id == NULL)
        return err_set(e, ERR_INVALID, "no %s key given", who);
    if (custody_token_is_sm2(k->custody, k->token) != 1)
        return err_set(e, ERR_INVALID, "%s key must be on an SM2 token", who);
    if (cert_len > SES_MAX_CERT_DER)
        return err_set(e, ERR_TOO_LARGE, "%s certificate too large", who);
    rc = sm2_cert_parse(cert, cert_len, &x, e);
    if (rc != ERR_OK)
        goto done;
    rc = custody_public_key(k->custody, k->token, k->key_id, &pub, e);
    if (rc != ERR_OK)
        goto done;
    if (EVP_PKEY_eq(X509_get0_pubkey(x), pub) != 1)
        rc = err_set(e, ERR_INVALID,
                     "%s certificate does not hold the %s key", who, who);
done:
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(pub);
    return rc;
}

/* 1..max printable ASCII characters?  1 yes, 0 no. */
static int ia5_printable(const char *s, size_t max)
{
    size_t i, n = s ? strnlen(s, max + 1) : 0;

    if (n == 0 || n > max)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* Picture: PNG or GIF, passing img_check, of the declared type. */
static err_code picture_check(const struct seal_make_params *p, struct err *e)
{
    err_code rc;
    struct img_info info;
    enum img_type want = img_type_from_name(p->picture_type);

    if (want == IMG_NONE)
        return err_set(e, ERR_UNSUPPORTED,
                       "seal picture type must be PNG or GIF");
    rc = img_check(p->picture.p, p->picture.len, p->width_mm, p->height_mm,
                   &info, e);
    if (rc != ERR_OK)
        return rc;
    if (info.type != want)
        return err_set(e, ERR_INVALID, "picture is %s, declared %s",
                       info.type_name, p->picture_type);
    return ERR_OK;
}

/* Validity: from the first holder certificate, or checked against all. */
static err_code validity(const struct seal_make_params *p, time_t *vs,
                         time_t *ve, struct err *e)
{
    err_code rc;
    size_t i;
    time_t nb, na;

    *vs = p->valid_start;
    *ve = p->valid_end;
    for (i = 0; i < p->n_holder_certs; i++) {
        rc = ca_cert_times(p->holder_certs[i].p, p->holder_certs[i].len, &nb,
                           &na, e);
        if (rc != ERR_OK)
            return rc;
        if (i == 0 && p->valid_start == 0 && p->valid_end == 0) {
            *vs = nb;
            *ve = na;
        }
        if (*vs < nb || *ve > na)
            return err_set(e, ERR_INVALID,
                           "seal validity is outside holder certificate %zu's",
                           i + 1);
    }
    if (*ve <= *vs)
        return err_set(e, ERR_INVALID, "seal validity is empty");
    return ERR_OK;
}

/* DER certificate cert must be valid at t. */
static err_code valid_at(const uint8_t *cert, size_t len, time_t t,
                         const char *who, struct err *e)
{
    time_t nb, na;
    err_code rc = ca_cert_times(cert, len, &nb, &na, e);

    if (rc != ERR_OK)
        return rc;
    if (t < nb || t > na)
        return err_set(e, ERR_INVALID, "%s certificate is not valid at %lld",
                       who, (long long)t);
    return ERR_OK;
}

/* ---- seal_make ---------------------------------------------------------- */

/* Contract: see seal_make.h. */
err_code seal_make(const struct ca_key *maker, const uint8_t *maker_cert,
                   size_t maker_cert_len, const struct seal_make_params *p,
                   uint8_t **der, size_t *len, struct err *e)
{
    err_code rc;
    struct ses_seal_params sp;
    struct ses_seal *back = NULL;
    int ok = 0;
    size_t nl;

    *der = NULL;
    *len = 0;
    if (p == NULL)
        return err_set(e, ERR_INVALID, "no seal parameters");
    if (p->format != 0 && p->format != SES_FMT_V4 && p->format != SES_FMT_V5)
        return err_set(e, ERR_UNSUPPORTED, "seal format must be 4 or 5");
    if (!ia5_printable(p->es_id, SEAL_ESID_MAX))
        return err_set(e, ERR_INVALID, "esID must be 1..%d printable ASCII",
                       SEAL_ESID_MAX);
    nl = p->name ? strnlen(p->name, SEAL_NAME_MAX + 1) : 0;
    if (nl == 0 || nl > SEAL_NAME_MAX)
        return err_set(e, ERR_INVALID, "seal name must be 1..%d bytes",
                       SEAL_NAME_MAX);
    if (p->vid != NULL && !ia5_printable(p->vid, SES_MAX_STRING))
        return err_set(e, ERR_INVALID, "vid must be printable ASCII");
    if (p->type < SEAL_TYPE_MIN || p->type > SEAL_TYPE_MAX)
        return err_set(e, ERR_INVALID, "seal type must be %d..%d",
                       SEAL_TYPE_MIN, SEAL_TYPE_MAX);
    if (p->n_holder_certs < 1 || p->n_holder_certs > SEAL_MAX_HOLDER_CERTS ||
        p->holder_certs == NULL)
        return err_set(e, ERR_INVALID, "a seal needs 1..%d holder certificates",
                       SEAL_MAX_HOLDER_CERTS);
    if (p->n_ext > SES_MAX_EXTS || (p->n_ext > 0 && p->ext == NULL))
        return err_set(e, ERR_INVALID, "too many extensions");
    memset(&sp, 0, sizeof(sp));
    rc = picture_check(p, e);
    if (rc != ERR_OK)
        goto done;
    rc = validity(p, &sp.valid_start, &sp.valid_end, e);
    if (rc != ERR_OK)
        goto done;
    rc = key_matches_cert(maker, maker_cert, maker_cert_len, "maker", e);
    if (rc != ERR_OK)
        goto done;
    sp.create_date = p->create_date ? p->create_date : time(NULL);
    rc = valid_at(maker_cert, maker_cert_len, sp.create_date, "maker", e);
    if (rc != ERR_OK)
        goto done;
    if (sp.create_date > sp.valid_end) {
        rc = err_set(e, ERR_INVALID, "seal validity ends before its creation");
        goto done;
    }
    sp.format = p->format ? p->format : SES_FMT_V4;
    sp.vid = p->vid ? p->vid : SEAL_VID_DEFAULT;
    sp.es_id = p->es_id;
    sp.name = p->name;
    sp.type = p->type;
    sp.cert_list_type = 1;
    sp.certs = p->holder_certs;
    sp.n_certs = p->n_holder_certs;
    sp.picture_type = img_type_from_name(p->picture_type) == IMG_PNG ? "PNG"
                                                                     : "GIF";
    sp.picture = p->picture;
    sp.picture_width = p->width_mm;
    sp.picture_height = p->height_mm;
    sp.ext = p->ext;
    sp.n_ext = p->n_ext;
    sp.maker_cert.p = maker_cert;
    sp.maker_cert.len = maker_cert_len;
    sp.signer_id = NULL;
    rc = ses_seal_build(&sp, ca_custody_signer, (void *)maker, der, len, e);
    if (rc != ERR_OK)
        goto done;
    /* what is returned decodes and its maker signature verifies */
    rc = ses_seal_decode(*der, *len, &back, e);
    if (rc == ERR_OK) {
        X509 *mc = NULL;
        rc = sm2_cert_parse(maker_cert, maker_cert_len, &mc, e);
        if (rc == ERR_OK)
            rc = sm2_verify_cert(mc, NULL, back->signed_part.p,
                                 back->signed_part.len, back->sig_value.p,
                                 back->sig_value.len, &ok, e);
        X509_free(mc);
        if (rc == ERR_OK && !ok)
            rc = err_set(e, ERR_CRYPTO, "seal made does not verify");
    }
done:
    ses_seal_free(back);
    if (rc != ERR_OK) {
        free(*der);
        *der = NULL;
        *len = 0;
    }
    return rc;
}

/* ---- seal_sign ---------------------------------------------------------- */

/* Is DER cert one of the seal's holders (by bytes or by SM3 digest)? */
static err_code signer_in_seal(const struct ses_seal *s,
                               const struct ses_bytes *cert, struct err *e)
{
    uint8_t h[SM3_DIGEST_LEN];
    size_t i;
    err_code rc = sm2_sm3(cert->p, cert->len, h, e);

    if (rc != ERR_OK)
        return rc;
    for (i = 0; i < s->n_certs; i++) {
        const struct ses_bytes *c = &s->certs[i].der;
        if (s->cert_list_type == 2) {
            if (c->len == sizeof(h) && memcmp(c->p, h, sizeof(h)) == 0)
                return ERR_OK;
        } else if (c->len == cert->len && memcmp(c->p, cert->p, c->len) == 0) {
            return ERR_OK;
        }
    }
    return err_set(e, ERR_INVALID, "signer is not a holder of the seal");
}

/* Contract: see seal_make.h. */
struct seal_signer {
    struct ses_sign_tmpl *tmpl;
    int                   format;           /* the seal's: 4 or 5       */
    time_t                seal_start, seal_end;
    time_t                cert_start, cert_end;
    uint8_t              *seal_der, *cert_der;   /* copies             */
    size_t                seal_len, cert_len;
};

void seal_signer_free(struct seal_signer *g)
{
    if (g == NULL)
        return;
    ses_sign_tmpl_free(g->tmpl);
    free(g->seal_der);
    free(g->cert_der);
    free(g);
}

/* Contract: see seal_make.h. */
err_code seal_signer_new(const struct ca_key *holder,
                         const struct ses_bytes *seal,
                         const struct ses_bytes *signer_cert,
                         struct seal_signer **out, struct err *e)
{
    struct seal_signer *g = NULL;
    struct ses_seal *s = NULL;
    X509 *x = NULL;
    err_code rc;

    *out = NULL;
    if (signer_cert->len > SES_MAX_CERT_DER)
        return err_set(e, ERR_TOO_LARGE, "holder certificate too large");
    rc = ses_seal_decode(seal->p, seal->len, &s, e);
    if (rc != ERR_OK)
        goto done;
    if (s->format != SES_FMT_V4 && s->format != SES_FMT_V5) {
        rc = err_set(e, ERR_UNSUPPORTED, "seal format v%d cannot sign",
                     s->format);
        goto done;
    }
    if ((rc = signer_in_seal(s, signer_cert, e)) != ERR_OK)
        goto done;
    if ((rc = key_matches_cert(holder, signer_cert->p, signer_cert->len,
                               "holder", e)) != ERR_OK)
        goto done;
    if ((g = calloc(1, sizeof(*g))) == NULL ||
        (g->seal_der = malloc(seal->len)) == NULL ||
        (g->cert_der = malloc(signer_cert->len)) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(g->seal_der, seal->p, seal->len);
    g->seal_len = seal->len;
    memcpy(g->cert_der, signer_cert->p, signer_cert->len);
    g->cert_len = signer_cert->len;
    g->format = s->format;
    g->seal_start = s->valid_start;
    g->seal_end = s->valid_end;
    if ((rc = sm2_cert_parse(signer_cert->p, signer_cert->len, &x, e))
            != ERR_OK ||
        (rc = ca_x509_times(x, &g->cert_start, &g->cert_end, e)) != ERR_OK)
        goto done;
    rc = ses_sign_tmpl_new(seal, signer_cert, &g->tmpl, e);
done:
    X509_free(x);
    ses_seal_free(s);
    if (rc != ERR_OK)
        seal_signer_free(g);
    else
        *out = g;
    return rc;
}

/* Contract: see seal_make.h. */
struct ses_bytes seal_signer_seal(const struct seal_signer *g)
{
    struct ses_bytes b = {g->seal_der, g->seal_len};

    return b;
}

/* Contract: see seal_make.h. */
err_code seal_signer_sign(const struct seal_signer *g,
                          const struct ca_key *holder,
                          const struct seal_sign_params *p, uint8_t **der,
                          size_t *len, struct err *e)
{
    struct ses_sign_params sp;
    err_code rc;

    *der = NULL;
    *len = 0;
    if (p == NULL || p->property_info == NULL ||
        !ia5_printable(p->property_info, SES_MAX_STRING))
        return err_set(e, ERR_INVALID, "propertyInfo must be printable ASCII");
    if (p->data_hash.len != SM3_DIGEST_LEN || p->data_hash.p == NULL)
        return err_set(e, ERR_INVALID, "dataHash must be %d bytes",
                       SM3_DIGEST_LEN);
    if (p->format != 0 && p->format != SES_FMT_V4 && p->format != SES_FMT_V5)
        return err_set(e, ERR_UNSUPPORTED, "signature format must be 4 or 5");
    if (p->n_ext > SES_MAX_EXTS || (p->n_ext > 0 && p->ext == NULL))
        return err_set(e, ERR_INVALID, "too many extensions");
    memset(&sp, 0, sizeof(sp));
    sp.time_info = p->time_info ? p->time_info : time(NULL);
    if (sp.time_info < g->seal_start || sp.time_info > g->seal_end)
        return err_set(e, ERR_INVALID, "signing time is outside the seal's "
                                       "validity");
    if (sp.time_info < g->cert_start || sp.time_info > g->cert_end)
        return err_set(e, ERR_INVALID, "holder certificate is not valid at "
                       "%lld", (long long)sp.time_info);
    sp.format = p->format ? p->format : g->format;
    sp.seal.p = g->seal_der;
    sp.seal.len = g->seal_len;
    sp.data_hash = p->data_hash;
    sp.property_info = p->property_info;
    sp.ext = p->ext;
    sp.n_ext = p->n_ext;
    sp.signer_cert.p = g->cert_der;
    sp.signer_cert.len = g->cert_len;
    sp.signer_id = NULL;
    sp.tmpl = g->tmpl;
    sp.trust_signer = p->trust_token;
    rc = ses_signature_build(&sp, ca_custody_signer, (void *)holder, der, len,
                             e);
    if (rc == ERR_OK && ses_sniff(*der, *len) != SES_KIND_SIGNATURE) {
        free(*der);
        *der = NULL;
        *len = 0;
        rc = err_set(e, ERR_INTERNAL, "built signature does not parse");
    }
    return rc;
}

/* Contract: see seal_make.h. */
err_code seal_sign(const struct ca_key *holder,
                   const struct seal_sign_params *p, uint8_t **der,
                   size_t *len, struct err *e)
{
    struct seal_signer *g = NULL;
    err_code rc;

    *der = NULL;
    *len = 0;
    if (p == NULL)
        return err_set(e, ERR_INVALID, "no signing parameters");
    rc = seal_signer_new(holder, &p->seal, &p->signer_cert, &g, e);
    if (rc == ERR_OK)
        rc = seal_signer_sign(g, holder, p, der, len, e);
    seal_signer_free(g);
    return rc;
}
