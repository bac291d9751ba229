/*
 * ses_build.c - owns building (strict DER encoding + signing through an
 * sm2_signer_fn) of v4/v5 SESeal and SES_Signature.  `critical` is always
 * written in ExtData, TBS_Sign.extDatas is [0] EXPLICIT, signature values are
 * strict DER SEQUENCE{r,s}.  The private key never enters this file.
 */
#include "ses.h"
#include "ses_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>

/* Set s to len bytes (ASN1_STRING_set copies). */
static int str_set(ASN1_STRING *s, const void *p, size_t len)
{
    return len <= INT_MAX && ASN1_STRING_set(s, p, (int)len);
}

/* BIT STRING with 0 unused bits and no trimming of trailing zero bytes. */
static int bits_set(ASN1_BIT_STRING *b, const void *p, size_t len)
{
    if (!str_set(b, p, len))
        return 0;
    b->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    b->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    return 1;
}

static int text_ok(const char *s)
{
    return s != NULL && strlen(s) <= SES_MAX_STRING;
}

static int ia5_ok(const char *s)
{
    const unsigned char *q = (const unsigned char *)s;

    if (!text_ok(s))
        return 0;
    for (; *q; q++)
        if (*q > 0x7f)
            return 0;
    return 1;
}

/* Replace *slot with a GeneralizedTime of t. */
static int gtime_set(ASN1_TIME **slot, time_t t)
{
    ASN1_GENERALIZEDTIME *g = ASN1_GENERALIZEDTIME_set(NULL, t);

    if (g == NULL)
        return 0;
    ASN1_TIME_free(*slot);
    *slot = g;
    return 1;
}

static int oid_set(ASN1_OBJECT **slot, const char *txt)
{
    ASN1_OBJECT *o = OBJ_txt2obj(txt, 1);

    if (o == NULL)
        return 0;
    ASN1_OBJECT_free(*slot);
    *slot = o;
    return 1;
}

/* Build a STACK_OF(SES_EXTDATA) from params; NULL on failure.  n may be 0
 * (then *out stays NULL: the field is omitted). */
static err_code exts_build(STACK_OF(SES_EXTDATA) **out,
                           const struct ses_ext *x, size_t n, struct err *e)
{
    err_code rc = ERR_OK;
    STACK_OF(SES_EXTDATA) *sk = NULL;
    SES_EXTDATA *d = NULL;
    size_t i;

    *out = NULL;
    if (n == 0)
        goto done;
    if (n > SES_MAX_EXTS) {
        rc = err_set(e, ERR_TOO_LARGE, "more than %d extensions",
                     SES_MAX_EXTS);
        goto done;
    }
    sk = sk_SES_EXTDATA_new_null();
    if (sk == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < n; i++) {
        if (x[i].value.len > SES_MAX_EXT_VALUE) {
            rc = err_set(e, ERR_TOO_LARGE, "extension value too large");
            goto done;
        }
        d = SES_EXTDATA_new();
        if (d == NULL || !oid_set(&d->extn_id, x[i].oid) ||
            !str_set(d->extn_value, x[i].value.p, x[i].value.len)) {
            rc = err_set(e, ERR_INVALID, "bad extension %zu (oid %s)", i,
                         x[i].oid);
            goto done;
        }
        d->critical = x[i].critical > 0 ? 0xff : 0;   /* always written */
        if (!sk_SES_EXTDATA_push(sk, d)) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto done;
        }
        d = NULL;
    }
    *out = sk;
    sk = NULL;
done:
    SES_EXTDATA_free(d);
    sk_SES_EXTDATA_pop_free(sk, SES_EXTDATA_free);
    return rc;
}

/* Append one certList element (certificate or digest) to the property. */
static err_code certlist_add(SES_PROPERTY *pr, long list_type,
                             const struct ses_bytes *b, struct err *e)
{
    err_code rc = ERR_OK;
    ASN1_TYPE *t = ASN1_TYPE_new();
    ASN1_STRING *s = NULL;
    SES_CERTDIGEST *cd = NULL;
    unsigned char *der = NULL;
    int n;

    if (t == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (list_type == 1) {
        s = ASN1_OCTET_STRING_new();
        if (s == NULL || b->len > SES_MAX_CERT_DER ||
            !str_set(s, b->p, b->len)) {
            rc = err_set(e, ERR_INVALID, "bad certificate for certList");
            goto done;
        }
        ASN1_TYPE_set(t, V_ASN1_OCTET_STRING, s);
    } else {
        cd = SES_CERTDIGEST_new();
        s = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
        if (cd == NULL || s == NULL || b->len > SES_MAX_HASH ||
            !str_set(cd->type, "SM3", 3) ||
            !str_set(cd->value, b->p, b->len) ||
            (n = i2d_SES_CERTDIGEST(cd, &der)) <= 0 ||
            !ASN1_STRING_set(s, der, n)) {
            rc = err_set(e, ERR_INVALID, "bad certificate digest");
            goto done;
        }
        ASN1_TYPE_set(t, V_ASN1_SEQUENCE, s);
    }
    s = NULL;
    if (!sk_ASN1_TYPE_push(pr->cert_list, t)) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    t = NULL;
done:
    OPENSSL_free(der);
    SES_CERTDIGEST_free(cd);
    ASN1_STRING_free(s);
    ASN1_TYPE_free(t);
    return rc;
}

/* Public key of a DER certificate (owned reference in *pub). */
static err_code cert_pub(const struct ses_bytes *cert, EVP_PKEY **pub,
                         struct err *e)
{
    X509 *x = NULL;
    err_code rc;

    *pub = NULL;
    if (cert->len > SES_MAX_CERT_DER)
        return err_set(e, ERR_TOO_LARGE, "certificate too large");
    rc = sm2_cert_parse(cert->p, cert->len, &x, e);
    if (rc != ERR_OK)
        return rc;
    *pub = X509_get_pubkey(x);
    X509_free(x);
    if (*pub == NULL || !sm2_is_sm2_key(*pub)) {
        EVP_PKEY_free(*pub);
        *pub = NULL;
        return err_set(e, ERR_INVALID, "certificate key is not SM2");
    }
    return ERR_OK;
}

/* DER of a whole ASN.1 object into a malloc'ed buffer. */
static err_code to_malloc(unsigned char *der, int n, uint8_t **out,
                          size_t *len, struct err *e)
{
    if (n <= 0)
        return err_set(e, ERR_CRYPTO, "DER encoding failed");
    *out = malloc((size_t)n);
    if (*out == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(*out, der, (size_t)n);
    *len = (size_t)n;
    return ERR_OK;
}

/* Contract: see ses.h.  *der is malloc'ed on success. */
err_code ses_seal_build(const struct ses_seal_params *p, sm2_signer_fn signer,
                        void *signer_ctx, uint8_t **der, size_t *len,
                        struct err *e)
{
    err_code rc = ERR_OK;
    SES_SEAL *a = NULL;
    EVP_PKEY *pub = NULL;
    unsigned char *info = NULL, *out = NULL;
    uint8_t sig[SM2_SIG_DER_MAX];
    size_t sig_len = 0, i;
    int n;

    *der = NULL;
    *len = 0;
    if ((p->format != SES_FMT_V4 && p->format != SES_FMT_V5) ||
        !ia5_ok(p->vid) || !ia5_ok(p->es_id) || !text_ok(p->name) ||
        !ia5_ok(p->picture_type) ||
        (p->cert_list_type != 1 && p->cert_list_type != 2) ||
        p->n_certs > SES_MAX_CERTS || p->picture.len > SES_MAX_PICTURE) {
        rc = err_set(e, ERR_INVALID, "invalid seal parameters");
        goto done;
    }
    rc = cert_pub(&p->maker_cert, &pub, e);
    if (rc != ERR_OK)
        goto done;
    a = SES_SEAL_new();
    if (a == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    {
        SES_SEALINFO *in = a->info;
        SES_PROPERTY *pr = in->property;
        if (!str_set(in->header->id, "ES", 2) ||
            !ASN1_INTEGER_set(in->header->version, p->format) ||
            !str_set(in->header->vid, p->vid, strlen(p->vid)) ||
            !str_set(in->es_id, p->es_id, strlen(p->es_id)) ||
            !ASN1_INTEGER_set(pr->type, p->type) ||
            !str_set(pr->name, p->name, strlen(p->name)) ||
            !ASN1_INTEGER_set(pr->cert_list_type, p->cert_list_type) ||
            !gtime_set(&pr->create_date, p->create_date) ||
            !gtime_set(&pr->valid_start, p->valid_start) ||
            !gtime_set(&pr->valid_end, p->valid_end) ||
            !str_set(in->picture->type, p->picture_type,
                     strlen(p->picture_type)) ||
            !str_set(in->picture->data, p->picture.p, p->picture.len) ||
            !ASN1_INTEGER_set(in->picture->width, p->picture_width) ||
            !ASN1_INTEGER_set(in->picture->height, p->picture_height)) {
            rc = err_set(e, ERR_NOMEM, "cannot fill seal fields");
            goto done;
        }
        for (i = 0; i < p->n_certs; i++) {
            rc = certlist_add(pr, p->cert_list_type, &p->certs[i], e);
            if (rc != ERR_OK)
                goto done;
        }
        rc = exts_build(&in->ext, p->ext, p->n_ext, e);
        if (rc != ERR_OK)
            goto done;
        n = i2d_SES_SEALINFO(in, &info);
        if (n <= 0) {
            rc = err_set(e, ERR_CRYPTO, "cannot encode SES_SealInfo");
            goto done;
        }
        rc = sm2_sign(pub, p->signer_id, info, (size_t)n, signer, signer_ctx,
                      sig, &sig_len, e);
        if (rc != ERR_OK)
            goto done;
    }
    if (!str_set(a->cert, p->maker_cert.p, p->maker_cert.len) ||
        !oid_set(&a->alg, SM2_OID_SM2_SM3) ||
        !bits_set(a->value, sig, sig_len)) {
        rc = err_set(e, ERR_NOMEM, "cannot fill seal signature");
        goto done;
    }
    n = i2d_SES_SEAL(a, &out);
    rc = to_malloc(out, n, der, len, e);
done:
    ERR_clear_error();
    OPENSSL_free(info);
    OPENSSL_free(out);
    SES_SEAL_free(a);
    EVP_PKEY_free(pub);
    return rc;
}

/* Contract: see ses.h. */
struct ses_sign_tmpl {
    SES_SEAL *seal;                 /* decoded once; its cached encoding is
                                       what i2d re-emits, so encoding it
                                       only reads it                      */
    EVP_PKEY *pub;                  /* the signer certificate's SM2 key   */
};

/* Contract: see ses.h. */
err_code ses_sign_tmpl_new(const struct ses_bytes *seal,
                           const struct ses_bytes *signer_cert,
                           struct ses_sign_tmpl **out, struct err *e)
{
    struct ses_sign_tmpl *t;
    const unsigned char *q = seal->p;
    err_code rc = ERR_OK;

    *out = NULL;
    if (seal->len > SES_MAX_DER ||
        ses_sniff(seal->p, seal->len) != SES_KIND_SEAL)
        return err_set(e, ERR_INVALID, "invalid signature parameters");
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    t->seal = d2i_SES_SEAL(NULL, &q, (long)seal->len);
    if (t->seal == NULL || q != seal->p + seal->len) {
        rc = err_set(e, ERR_MALFORMED, "seal is not a v4/v5 SESeal");
        goto done;
    }
    rc = cert_pub(signer_cert, &t->pub, e);
done:
    ERR_clear_error();
    if (rc != ERR_OK)
        ses_sign_tmpl_free(t);
    else
        *out = t;
    return rc;
}

void ses_sign_tmpl_free(struct ses_sign_tmpl *t)
{
    if (t == NULL)
        return;
    SES_SEAL_free(t->seal);
    EVP_PKEY_free(t->pub);
    free(t);
}

/* Build with template t: the TBS_Sign borrows t's decoded seal for the two
 * encodings and gives it back before it is freed. */
static err_code build_with(const struct ses_sign_params *p,
                           const struct ses_sign_tmpl *t,
                           sm2_signer_fn signer, void *signer_ctx,
                           uint8_t **der, size_t *len, struct err *e)
{
    err_code rc = ERR_OK;
    SES_SIG *a = NULL;
    unsigned char *tbs = NULL, *out = NULL;
    uint8_t sig[SM2_SIG_DER_MAX];
    size_t sig_len = 0;
    int n;

    a = SES_SIG_new();
    if (a == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    SES_SEAL_free(a->tbs->seal);
    a->tbs->seal = t->seal;              /* borrowed: given back below */
    if (!ASN1_INTEGER_set(a->tbs->version, p->format) ||
        !gtime_set(&a->tbs->time_info, p->time_info) ||
        !bits_set(a->tbs->data_hash, p->data_hash.p, p->data_hash.len) ||
        !str_set(a->tbs->property_info, p->property_info,
                 strlen(p->property_info))) {
        rc = err_set(e, ERR_NOMEM, "cannot fill TBS_Sign");
        goto done;
    }
    rc = exts_build(&a->tbs->ext, p->ext, p->n_ext, e);
    if (rc != ERR_OK)
        goto done;
    n = i2d_SES_TBS(a->tbs, &tbs);
    if (n <= 0) {
        rc = err_set(e, ERR_CRYPTO, "cannot encode TBS_Sign");
        goto done;
    }
    rc = sm2_sign_ex(t->pub, p->signer_id, tbs, (size_t)n, signer,
                     signer_ctx, !p->trust_signer, sig, &sig_len, e);
    if (rc != ERR_OK)
        goto done;
    if (!str_set(a->cert, p->signer_cert.p, p->signer_cert.len) ||
        !oid_set(&a->alg, SM2_OID_SM2_SM3) ||
        !bits_set(a->value, sig, sig_len)) {
        rc = err_set(e, ERR_NOMEM, "cannot fill signature");
        goto done;
    }
    n = i2d_SES_SIG(a, &out);
    rc = to_malloc(out, n, der, len, e);
done:
    ERR_clear_error();
    OPENSSL_free(tbs);
    OPENSSL_free(out);
    if (a != NULL)
        a->tbs->seal = NULL;
    SES_SIG_free(a);
    return rc;
}

/* Contract: see ses.h.  *der is malloc'ed on success. */
err_code ses_signature_build(const struct ses_sign_params *p,
                             sm2_signer_fn signer, void *signer_ctx,
                             uint8_t **der, size_t *len, struct err *e)
{
    struct ses_sign_tmpl *own = NULL;
    const struct ses_sign_tmpl *t = p->tmpl;
    err_code rc;

    *der = NULL;
    *len = 0;
    if ((p->format != SES_FMT_V4 && p->format != SES_FMT_V5) ||
        !ia5_ok(p->property_info) || p->data_hash.len == 0 ||
        p->data_hash.len > SES_MAX_HASH || p->signer_cert.len > INT_MAX)
        return err_set(e, ERR_INVALID, "invalid signature parameters");
    if (t == NULL) {
        if ((rc = ses_sign_tmpl_new(&p->seal, &p->signer_cert, &own, e))
            != ERR_OK)
            return rc;
        t = own;
    }
    rc = build_with(p, t, signer, signer_ctx, der, len, e);
    ses_sign_tmpl_free(own);
    return rc;
}
